package io.crosscoder.crosscoder.train;

import io.crosscoder.progress.ProgressEvent;
import java.util.Locale;

/**
 * What one training step measured, on that step's batch and before its parameter update; also the
 * {@link ProgressEvent} of that step ({@code task "train"}, {@link #step()} done of {@link
 * #totalSteps()} {@code "steps"}), so one {@link io.crosscoder.progress.ProgressListener} shows a
 * run's progress and records its metrics.
 *
 * @param step the 1-based number of the step
 * @param totalSteps the steps of the whole run ({@link TrainingConfig#steps()})
 * @param tokens tokens trained on so far, this step's included
 * @param reconstructionLoss {@code mean_batch sum_m |x_m - x^_m|^2}
 * @param sparsityLoss {@code lambda * mean_batch sum_i f_i c_i (|d_i^A| + |d_i^B|)} with {@code c_i}
 *     the shared-latent factor or 1 (L1; 0 for BatchTopK)
 * @param auxiliaryLoss BatchTopK's normalised auxiliary loss {@code |e - e^|^2 / |e - mean(e)|^2}
 *     before its weight (0 for L1 or with no dead latent)
 * @param totalLoss the loss that was differentiated: reconstruction + sparsity + auxWeight * auxiliary
 * @param l0 mean number of non-zero latents per token
 * @param explainedVarianceBase {@code 1 - sum_b |x_A - x^_A|^2 / sum_b |x_A - mean_b(x_A)|^2}
 * @param explainedVarianceTarget the same for the target model
 * @param deadFraction the fraction of latents that have not fired for {@link
 *     TrainingConfig#deadTokens()} tokens, counting this batch
 * @param learningRate the learning rate of this step
 * @param lambda the L1 coefficient of this step (0 for BatchTopK)
 * @param gradientNorm the global gradient norm before clipping
 * @param threshold BatchTopK's running threshold after this step ({@code NaN} while unset or for L1)
 */
public record TrainingMetrics(long step, long totalSteps, long tokens, double reconstructionLoss,
    double sparsityLoss, double auxiliaryLoss, double totalLoss, double l0, double explainedVarianceBase,
    double explainedVarianceTarget, double deadFraction, double learningRate, double lambda,
    double gradientNorm, double threshold) implements ProgressEvent {

  /** {@code "train"}. */
  @Override
  public String task() {
    return "train";
  }

  /** {@link #step()}. */
  @Override
  public long done() {
    return step;
  }

  /** {@link #totalSteps()}. */
  @Override
  public long total() {
    return totalSteps;
  }

  /** {@code "steps"}. */
  @Override
  public String unit() {
    return "steps";
  }

  /** The step in brief: {@code "loss 0.1234 L0 8.0 EV 0.912/0.934 dead 1.2%"}. */
  @Override
  public String detail() {
    return String.format(Locale.ROOT, "loss %.4g L0 %.1f EV %.3f/%.3f dead %.1f%%", totalLoss, l0,
        explainedVarianceBase, explainedVarianceTarget, 100 * deadFraction);
  }
}
