package io.crosscoder.crosscoder;

import io.crosscoder.crosscoder.analysis.ClassThresholds;
import io.crosscoder.crosscoder.analysis.CrosscoderReport;
import io.crosscoder.crosscoder.train.TrainingConfig;
import io.crosscoder.crosscoder.train.TrainingMetrics;
import java.util.List;
import java.util.Objects;

/**
 * What {@link CrosscoderTraining#train} returns: the crosscoder, the settings it was trained with,
 * the last step's metrics, and warnings when the result is not yet a usable crosscoder.
 *
 * @param crosscoder the trained crosscoder (its config holds the sparsity, with BatchTopK's learned
 *     threshold, the shared latents and the normalisation)
 * @param config the training settings, defaults resolved
 * @param lastStep the metrics of the run's last step (on that step's batch, before its update);
 *     for a run that was already complete in its checkpoint, of one fresh batch at the final
 *     parameters
 * @param deadFraction the fraction of latents that did not fire in the last {@code deadWindow}
 *     tokens of training
 * @param deadWindow the tokens {@code deadFraction} looks back: a quarter of the run's tokens, at
 *     most {@link TrainingConfig#deadTokens()}
 * @param resumedFromStep the step the run resumed from (0 for a fresh run)
 * @param backend the compute backend's description
 * @param seconds wall-clock time of this call
 * @param warnings what looks wrong with the result and what to change, empty when nothing does
 */
public record TrainingResult(Crosscoder crosscoder, TrainingConfig config, TrainingMetrics lastStep,
    double deadFraction, long deadWindow, long resumedFromStep, String backend, double seconds, List<String> warnings) {

  /** Checks for nulls and copies the warnings. */
  public TrainingResult {
    Objects.requireNonNull(crosscoder, "crosscoder");
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(lastStep, "lastStep");
    Objects.requireNonNull(backend, "backend");
    warnings = List.copyOf(warnings);
  }

  /**
   * The analysis of the crosscoder's decoders (relative norms, classes with the default
   * thresholds, decoder cosines), without activations.
   *
   * @return the analysis of the decoders alone
   */
  public CrosscoderReport report() {
    return CrosscoderReport.of("trained crosscoder", crosscoder, ClassThresholds.defaults(), null);
  }

  /**
   * The analysis of the crosscoder plus its evaluation on at most {@code maxTokens} tokens of
   * {@code heldOut} (raw activations, ideally not the training data): explained variance, L0, dead
   * latents, firing frequencies and latent scaling of the target-only latents. See {@link
   * CrosscoderReport#of(String, Crosscoder, ActivationSource, long)}.
   *
   * @param heldOut held-out paired activations; read, not closed
   * @param maxTokens the most tokens to evaluate on
   * @return the analysis with held-out explained variance, L0, dead latents and latent scaling
   */
  public CrosscoderReport report(ActivationSource heldOut, long maxTokens) {
    return CrosscoderReport.of("trained crosscoder", crosscoder, heldOut, maxTokens);
  }
}
