package io.crosscoder.crosscoder.train;

import io.crosscoder.crosscoder.Sparsity;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The settings of a crosscoder training run (METHOD.md section 2), immutable; made by {@link
 * #builder()}, whose setters check each argument at once.
 *
 * <p>Defaults follow the public replications: Adam (0.9, 0.999, 1e-8), a peak learning rate chosen
 * from the dictionary size and the run's length ({@link #defaultLearningRate}) with a linear warm-up
 * over 5% of the steps, at most 1000 ({@link #defaultWarmupSteps}), and a linear decay to zero over
 * the last 20% of steps, gradient clipping at global norm 1, L1 coefficient 2 warmed up linearly over the first 5% of
 * steps (Lindsey et al. 2024; ckkissane/crosscoder-model-diff-replication), BatchTopK (when
 * chosen with {@link Builder#sparsity}) with {@code k_aux = d / 2}, auxiliary weight 1/32, a latent dead after 10 million tokens
 * without firing, and a threshold kept as an exponential running mean (beta 0.999) of the smallest
 * kept score from step 1000 on (Minder et al. 2025; science-of-finetuning/dictionary_learning).
 * Designated shared latents are off by default; when on, their sparsity penalty is multiplied by
 * 0.15, the factor of Anthropic's 2025 "Insights on Crosscoder Model Diffing" update.
 */
public final class TrainingConfig {
  /**
   * The default of {@link #sparseDensityLimit()}: an L1 step runs on sparse rows while at most this
   * fraction of its {@code B x F} activations is positive. Measured where the sparse and the dense
   * L1 step cost the same (d 768, F 16384, batch 4096, 2 threads: equal at L0 825 of 16384, the
   * sparse step 0.48-0.57 of the dense one at L0 141-419, 1.16 at L0 1610; the README's "Sparse
   * training steps" has the table and the command).
   */
  public static final double DEFAULT_SPARSE_DENSITY_LIMIT = 0.05;


  private final Sparsity sparsity;
  private final int dictionarySize;
  private final int batchSize;
  private final long steps;
  private final float learningRate;
  private final long warmupSteps;
  /** As given to the builder: NaN and -1 when unset, so that {@link #toBuilder} keeps them derived. */
  private final float givenLearningRate;
  private final long givenWarmupSteps;
  private final double decayFraction;
  private final double lambdaWarmupFraction;
  private final int auxK;
  private final float auxWeight;
  private final long deadTokens;
  private final double sharedFraction;
  private final float sharedPenaltyFactor;
  private final float gradientClipNorm;
  private final float beta1;
  private final float beta2;
  private final float epsilon;
  private final long seed;
  private final float thresholdBeta;
  private final long thresholdStartStep;
  private final float decoderInitNorm;
  private final int biasInitBatches;
  private final int metricsEvery;
  private final boolean sparseDecoding;
  private final double sparseDensityLimit;

  private TrainingConfig(Builder b) {
    this.sparsity = b.sparsity;
    this.dictionarySize = b.dictionarySize;
    this.batchSize = b.batchSize;
    this.steps = b.steps;
    // Unset: chosen from the dictionary size and the run's length.
    this.learningRate = Float.isNaN(b.learningRate) ? defaultLearningRate(b.dictionarySize, b.steps) : b.learningRate;
    this.warmupSteps = b.warmupSteps >= 0 ? b.warmupSteps : defaultWarmupSteps(b.steps);
    this.givenLearningRate = b.learningRate;
    this.givenWarmupSteps = b.warmupSteps;
    this.decayFraction = b.decayFraction;
    this.lambdaWarmupFraction = b.lambdaWarmupFraction;
    this.auxK = b.auxK;
    this.auxWeight = b.auxWeight;
    this.deadTokens = b.deadTokens;
    this.sharedFraction = b.sharedFraction;
    this.sharedPenaltyFactor = b.sharedPenaltyFactor;
    this.gradientClipNorm = b.gradientClipNorm;
    this.beta1 = b.beta1;
    this.beta2 = b.beta2;
    this.epsilon = b.epsilon;
    this.seed = b.seed;
    this.thresholdBeta = b.thresholdBeta;
    // Unset: start the running mean at step 1000, or halfway through shorter runs, so that every
    // BatchTopK run ends with a threshold.
    this.thresholdStartStep = b.thresholdStartStep >= 0 ? b.thresholdStartStep : Math.min(1000, b.steps / 2);
    this.decoderInitNorm = b.decoderInitNorm;
    this.biasInitBatches = b.biasInitBatches;
    this.metricsEvery = b.metricsEvery;
    this.sparseDecoding = b.sparseDecoding;
    this.sparseDensityLimit = b.sparseDensityLimit;
  }

  /**
   * A builder with the defaults described on this class; {@link Builder#dictionarySize} is
   * required.
   *
   * @return a new builder holding the defaults; not shared
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A builder starting from this configuration's values; a learning rate or warm-up that was not
   * set stays unset, so it is derived again from the new builder's dictionary size and steps.
   *
   * @return a new builder holding this configuration's settings; changing it leaves this
   *     configuration as it is
   */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.sparsity = sparsity;
    b.dictionarySize = dictionarySize;
    b.batchSize = batchSize;
    b.steps = steps;
    b.learningRate = givenLearningRate;
    b.warmupSteps = givenWarmupSteps;
    b.decayFraction = decayFraction;
    b.lambdaWarmupFraction = lambdaWarmupFraction;
    b.auxK = auxK;
    b.auxWeight = auxWeight;
    b.deadTokens = deadTokens;
    b.sharedFraction = sharedFraction;
    b.sharedPenaltyFactor = sharedPenaltyFactor;
    b.gradientClipNorm = gradientClipNorm;
    b.beta1 = beta1;
    b.beta2 = beta2;
    b.epsilon = epsilon;
    b.seed = seed;
    b.thresholdBeta = thresholdBeta;
    b.thresholdStartStep = thresholdStartStep;
    b.decoderInitNorm = decoderInitNorm;
    b.biasInitBatches = biasInitBatches;
    b.metricsEvery = metricsEvery;
    b.sparseDecoding = sparseDecoding;
    b.sparseDensityLimit = sparseDensityLimit;
    return b;
  }

  /**
   * The sparsity objective (default {@code Sparsity.l1(2)}): {@link Sparsity.L1} with the
   * coefficient {@code lambda} reached after its warm-up, or {@link Sparsity.BatchTopK} with its
   * {@code k}, the active latents per token on average (its threshold is 0 here: training learns
   * it).
   *
   * <ul>
   *   <li>L1 on decoder-norm-weighted activations (Lindsey et al. 2024): {@code L = mean_batch[sum_m
   *       |x_m - x^_m|^2 + lambda * sum_i f_i (|d_i^A| + |d_i^B|)]}. The trainer computes in f32,
   *       so {@code lambda} is used rounded to a float.
   *   <li>BatchTopK (Minder et al. 2025): keep the {@code k * B} largest scores {@code f_i
   *       (|d_i^A| + |d_i^B|)} over the batch; reconstruction loss plus an auxiliary loss on dead
   *       latents; no L1.
   * </ul>
   *
   * @return the sparsity objective; never null
   */
  public Sparsity sparsity() {
    return sparsity;
  }

  /**
   * Whether the objective is BatchTopK.
   *
   * @return true for {@link Sparsity.BatchTopK}, false for {@link Sparsity.L1}
   */
  public boolean batchTopK() {
    return sparsity instanceof Sparsity.BatchTopK;
  }

  /**
   * The number of latents {@code F}.
   *
   * @return the dictionary size {@code F}, at least 1
   */
  public int dictionarySize() {
    return dictionarySize;
  }

  /**
   * Tokens per step {@code B} (default 4096).
   *
   * @return the tokens per step, at least 1
   */
  public int batchSize() {
    return batchSize;
  }

  /**
   * Optimiser steps in the whole run (default 10000); the schedules are fractions of it.
   *
   * @return the number of optimiser steps, at least 1
   */
  public long steps() {
    return steps;
  }

  /**
   * The peak learning rate (default {@link #defaultLearningRate(int, long)} of the dictionary size
   * and the steps).
   *
   * @return the peak learning rate, finite and positive
   */
  public float learningRate() {
    return learningRate;
  }

  /**
   * Steps of linear learning-rate warm-up from {@code lr / warmupSteps} to {@code lr} (default
   * {@link #defaultWarmupSteps(long)} of the steps; 0 for none).
   *
   * @return the warm-up length in steps, at least 0
   */
  public long warmupSteps() {
    return warmupSteps;
  }

  /**
   * The learning rate of a run that sets none: {@code lr = min(1e-2, max(2e-4 * sqrt(16384 / F), 4
   * / steps))}, rounded to a float.
   *
   * <ul>
   *   <li>{@code 2e-4 * sqrt(16384 / F)} is the rule of Gao et al. 2024 ("Scaling and evaluating
   *       sparse autoencoders", the learning rate falling as {@code 1/sqrt(F)}, 2e-4 at 16384
   *       latents), fitted to runs of billions of tokens; it governs long runs.
   *   <li>{@code 4 / steps} gives a short run enough total movement: Adam moves each weight by
   *       about {@code lr} per step, so a run of few steps needs a larger rate to carry the decoder
   *       from its random start to the features. On the planted-dictionary benchmark ({@code
   *       PlantedRecovery}; d 32, 64 and 256; F 48 to 8192; L1 and BatchTopK) every planted feature
   *       was recovered once {@code lr * steps} reached about 3 at d = 32 and below 1 at d = 256,
   *       and Gao's rate alone recovered 19 of 24 features in 300 steps at d = 32 and 65 of 128
   *       in 500 steps at d = 64.
   *   <li>{@code 1e-2} caps it: 3e-2 for 300 steps at d = 256 ended at explained variance 0.33,
   *       1.3e-2 at 0.98.
   * </ul>
   *
   * The two terms meet at {@code steps = 20,000} for F = 16384, so runs of that length and longer
   * get the published rate. docs/METHOD.md lists the measurements.
   *
   * @param dictionarySize the number of latents {@code F}, at least 1
   * @param steps the optimiser steps of the run, at least 1
   * @return the peak learning rate, positive and at most 1e-2, rounded to a float
   * @throws IllegalArgumentException if {@code dictionarySize < 1} or {@code steps < 1}
   */
  public static float defaultLearningRate(int dictionarySize, long steps) {
    if (dictionarySize < 1 || steps < 1) {
      throw new IllegalArgumentException("dictionary size and steps must be at least 1, got " + dictionarySize
          + " and " + steps);
    }
    double scaling = 2e-4 * Math.sqrt(16384.0 / dictionarySize);
    double shortRun = 4.0 / steps;
    return (float) Math.min(1e-2, Math.max(scaling, shortRun));
  }

  /**
   * The warm-up of a run that sets none: 5% of the steps, at most 1000 ({@code min(1000,
   * round(0.05 * steps))}). 1000 steps is the warm-up of the public BatchTopK trainers
   * (science-of-finetuning/dictionary_learning) for runs of tens of thousands of steps; a fixed
   * 1000 would be a third of a 3000-step run, spent mostly below the peak rate.
   *
   * @param steps the optimiser steps of the run, at least 1
   * @return the warm-up length in steps, in {@code [0, 1000]}
   * @throws IllegalArgumentException if {@code steps < 1}
   */
  public static long defaultWarmupSteps(long steps) {
    if (steps < 1) {
      throw new IllegalArgumentException("steps must be at least 1, got " + steps);
    }
    return Math.min(1000, Math.round(0.05 * steps));
  }

  /**
   * The final fraction of steps over which the learning rate decays linearly towards 0 (default
   * 0.2).
   *
   * @return the decay fraction, in {@code [0, 1]}
   */
  public double decayFraction() {
    return decayFraction;
  }

  /**
   * The first fraction of steps over which lambda rises linearly from 0 (default 0.05).
   *
   * @return the lambda warm-up fraction, in {@code [0, 1]}
   */
  public double lambdaWarmupFraction() {
    return lambdaWarmupFraction;
  }

  /**
   * Latents per token in the auxiliary loss; 0 (the default) means {@code d / 2}.
   *
   * @return the auxiliary {@code k} as set, 0 when it is derived from {@code d}
   */
  public int auxK() {
    return auxK;
  }

  /**
   * {@link #auxK()} resolved for activations of width {@code d}: {@code d / 2} when unset, at most
   * {@code F}.
   *
   * @param d the width of one model's activations
   * @return the auxiliary {@code k}: the value set, or {@code max(1, d / 2)} when unset, capped at
   *     {@code F}
   */
  public int auxK(int d) {
    int resolved = auxK > 0 ? auxK : Math.max(1, d / 2);
    return Math.min(resolved, dictionarySize);
  }

  /**
   * The weight of the auxiliary loss (default 1/32; 0 turns it off).
   *
   * @return the auxiliary loss weight, finite and at least 0
   */
  public float auxWeight() {
    return auxWeight;
  }

  /**
   * Tokens without firing after which a latent counts as dead (default 10,000,000).
   *
   * @return the dead-latent horizon in tokens, at least 1
   */
  public long deadTokens() {
    return deadTokens;
  }

  /**
   * The fraction of latents designated shared (default 0): the first {@code round(fraction * F)}.
   *
   * @return the shared fraction, in {@code [0, 1]}
   */
  public double sharedFraction() {
    return sharedFraction;
  }

  /**
   * The number of designated shared latents {@code S = round(sharedFraction * F)}.
   *
   * @return the number {@code S} of shared latents, in {@code [0, F]}
   */
  public int sharedLatents() {
    return (int) Math.round(sharedFraction * dictionarySize);
  }

  /**
   * The multiplier of a shared latent's sparsity penalty (default 0.15, after Anthropic's 2025
   * update).
   *
   * @return the penalty multiplier of shared latents, finite and at least 0
   */
  public float sharedPenaltyFactor() {
    return sharedPenaltyFactor;
  }

  /**
   * The global gradient norm above which gradients are scaled down (default 1; infinity for none).
   *
   * @return the clipping norm, positive, possibly {@code +infinity}
   */
  public float gradientClipNorm() {
    return gradientClipNorm;
  }

  /**
   * Adam's first-moment decay (default 0.9).
   *
   * @return Adam's {@code beta1}, in {@code [0, 1)}
   */
  public float beta1() {
    return beta1;
  }

  /**
   * Adam's second-moment decay (default 0.999).
   *
   * @return Adam's {@code beta2}, in {@code [0, 1)}
   */
  public float beta2() {
    return beta2;
  }

  /**
   * Adam's epsilon (default 1e-8).
   *
   * @return Adam's epsilon, finite and positive
   */
  public float epsilon() {
    return epsilon;
  }

  /**
   * The seed of the initialisation (default 0).
   *
   * @return the seed of the random initialisation
   */
  public long seed() {
    return seed;
  }

  /**
   * The decay of the running mean behind BatchTopK's inference threshold (default 0.999).
   *
   * @return the running-mean decay, in {@code [0, 1)}
   */
  public float thresholdBeta() {
    return thresholdBeta;
  }

  /**
   * The first step (0-based) whose smallest kept score enters the threshold (default 1000, or
   * half the steps for runs shorter than 2000 steps).
   *
   * @return the 0-based first step of the threshold's running mean, at least 0
   */
  public long thresholdStartStep() {
    return thresholdStartStep;
  }

  /**
   * The per-model norm of the decoder rows at initialisation for L1 (default 0.08); BatchTopK
   * starts at 1.
   *
   * @return the initial decoder row norm of an L1 run, finite and positive
   */
  public float decoderInitNorm() {
    return decoderInitNorm;
  }

  /**
   * Batches whose mean initialises BatchTopK's decoder bias (default 1; 0 leaves it at 0).
   *
   * @return the number of batches averaged for the initial decoder bias, at least 0
   */
  public int biasInitBatches() {
    return biasInitBatches;
  }

  /**
   * Metrics are sent to the listener every this many steps, and at the last step (default 1).
   *
   * @return the metrics interval in steps, at least 1
   */
  public int metricsEvery() {
    return metricsEvery;
  }

  /**
   * Whether the BatchTopK step runs on the sparse rows of the kept (and auxiliary) activations
   * (default true): {@link io.crosscoder.backend.Kernels#denseToCsr}, then {@link
   * io.crosscoder.backend.Kernels#spmm} for the decoder and its weight gradient, {@link
   * io.crosscoder.backend.Kernels#sddmm} for the latent gradient at the kept entries only, {@link
   * io.crosscoder.backend.Kernels#denseTransposedSparse} for the encoder's weight gradient, and
   * the encoder bias gradient summed from the entries in f64; instead of dense products with the
   * masked {@code B x F} matrix. Both compute the same sums; they round differently (the sparse
   * step sums fewer terms), so the choice is part of a run's identity.
   *
   * <p>For L1 the same switch lets each step choose: its activations {@code a = ReLU(X W_enc +
   * b_enc)} have no bound on their count, so the step counts them ({@link
   * io.crosscoder.backend.Kernels#countPositive}) and runs on sparse rows when at most {@link
   * #sparseDensityLimit()} of the {@code B F} entries are positive, densely otherwise (early in
   * training, when about half the latents fire). With false every step is dense (the reference).
   *
   * @return true when a BatchTopK step runs on sparse rows and an L1 step may, false for dense
   *     products always
   */
  public boolean sparseDecoding() {
    return sparseDecoding;
  }

  /**
   * The largest fraction of active entries ({@code L0 / F}) at which an L1 step runs on sparse rows
   * (with {@link #sparseDecoding()}); default {@link #DEFAULT_SPARSE_DENSITY_LIMIT}. Above it the
   * step runs the dense products. The sparse rows are sized for this fraction of the {@code B x F}
   * batch ({@code 12} bytes per entry on the device and {@code 8} on the host), so a limit of 1
   * makes every step sparse at the price of that memory. No effect on BatchTopK, which is always
   * sparse with {@link #sparseDecoding()} ({@code k B} entries at most).
   *
   * @return the density limit, in {@code [0, 1]}
   */
  public double sparseDensityLimit() {
    return sparseDensityLimit;
  }

  /**
   * The settings as an ordered map of snake_case names (as in every JSON file the project writes)
   * to numbers and strings, for logs and for checking that a checkpoint belongs to this
   * configuration. Floats are widened to double exactly.
   *
   * @return a new insertion-ordered map from setting name to value ({@code Integer}, {@code Long},
   *     {@code Double}, {@code Boolean} or {@code String}); the caller may change it
   */
  public Map<String, Object> describe() {
    Map<String, Object> m = new LinkedHashMap<>();
    switch (sparsity) {
      case Sparsity.L1 l1 -> {
        m.put("sparsity", "l1");
        m.put("l1_coefficient", (double) (float) l1.lambda());
      }
      case Sparsity.BatchTopK t -> {
        m.put("sparsity", "batch_top_k");
        m.put("k", t.k());
      }
    }
    m.put("dictionary_size", dictionarySize);
    m.put("batch_size", batchSize);
    m.put("steps", steps);
    m.put("learning_rate", (double) learningRate);
    m.put("warmup_steps", warmupSteps);
    m.put("decay_fraction", decayFraction);
    m.put("lambda_warmup_fraction", lambdaWarmupFraction);
    m.put("aux_k", auxK);
    m.put("aux_weight", (double) auxWeight);
    m.put("dead_tokens", deadTokens);
    m.put("shared_fraction", sharedFraction);
    m.put("shared_penalty_factor", (double) sharedPenaltyFactor);
    m.put("gradient_clip_norm", (double) gradientClipNorm);
    m.put("beta1", (double) beta1);
    m.put("beta2", (double) beta2);
    m.put("epsilon", (double) epsilon);
    m.put("seed", seed);
    m.put("threshold_beta", (double) thresholdBeta);
    m.put("threshold_start_step", thresholdStartStep);
    m.put("decoder_init_norm", (double) decoderInitNorm);
    m.put("bias_init_batches", biasInitBatches);
    m.put("metrics_every", metricsEvery);
    m.put("sparse_decoding", sparseDecoding);
    if (sparseDensityLimit != DEFAULT_SPARSE_DENSITY_LIMIT) {
      // Only when set: a checkpoint written before this option existed still matches the default.
      m.put("sparse_density_limit", sparseDensityLimit);
    }
    return m;
  }

  /**
   * The learning rate of the 0-based step {@code step}: {@code lr * warm * decay}, with {@code warm
   * = min(1, (step + 1) / warmupSteps)} and, over the last {@code D = round(decayFraction * steps)}
   * steps, {@code decay = (steps - step) / D} (so the last step uses {@code lr / D}), else 1.
   *
   * @param step the 0-based step, in {@code [0, steps)}
   * @return the learning rate used at that step, at least 0
   */
  public float learningRateAt(long step) {
    double warm = warmupSteps > 0 ? Math.min(1.0, (step + 1) / (double) warmupSteps) : 1.0;
    long decaySteps = Math.round(decayFraction * steps);
    long decayStart = steps - decaySteps;
    double decay = decaySteps > 0 && step >= decayStart ? (steps - step) / (double) decaySteps : 1.0;
    return (float) (learningRate * warm * decay);
  }

  /**
   * The L1 coefficient of the 0-based step {@code step}: {@code lambda * min(1, (step + 1) / W)}
   * with {@code W = round(lambdaWarmupFraction * steps)}, or {@code lambda} when {@code W = 0}; 0
   * for BatchTopK.
   *
   * @param step the 0-based step, in {@code [0, steps)}
   * @return the L1 coefficient used at that step, at least 0
   */
  public float lambdaAt(long step) {
    if (!(sparsity instanceof Sparsity.L1 l1)) {
      return 0f;
    }
    long w = Math.round(lambdaWarmupFraction * steps);
    double warm = w > 0 ? Math.min(1.0, (step + 1) / (double) w) : 1.0;
    float lambda = (float) l1.lambda();
    return (float) (lambda * warm);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TrainingConfig c && describe().equals(c.describe());
  }

  @Override
  public int hashCode() {
    return describe().hashCode();
  }

  @Override
  public String toString() {
    return "TrainingConfig" + describe();
  }

  /** Builds a {@link TrainingConfig}; every setter rejects a bad value at once with an {@link IllegalArgumentException}. */
  public static final class Builder {
    private Sparsity sparsity = Sparsity.l1(2);
    private int dictionarySize = -1;
    private int batchSize = 4096;
    private long steps = 10_000;
    private float learningRate = Float.NaN;
    private long warmupSteps = -1;
    private double decayFraction = 0.2;
    private double lambdaWarmupFraction = 0.05;
    private int auxK = 0;
    private float auxWeight = 1f / 32;
    private long deadTokens = 10_000_000;
    private double sharedFraction = 0;
    private float sharedPenaltyFactor = 0.15f;
    private float gradientClipNorm = 1f;
    private float beta1 = 0.9f;
    private float beta2 = 0.999f;
    private float epsilon = 1e-8f;
    private long seed = 0;
    private float thresholdBeta = 0.999f;
    private long thresholdStartStep = -1;
    private float decoderInitNorm = 0.08f;
    private int biasInitBatches = 1;
    private int metricsEvery = 1;
    private boolean sparseDecoding = true;
    private double sparseDensityLimit = DEFAULT_SPARSE_DENSITY_LIMIT;

    private Builder() {}

    /**
     * The largest active fraction at which an L1 step runs on sparse rows (see {@link
     * TrainingConfig#sparseDensityLimit()}).
     *
     * @param limit the fraction of the {@code B x F} activations, in {@code [0, 1]}; 0 keeps every
     *     L1 step dense
     * @return this builder
     */
    public Builder sparseDensityLimit(double limit) {
      if (!(limit >= 0 && limit <= 1)) {
        throw new IllegalArgumentException("sparseDensityLimit must be in [0, 1], got " + limit);
      }
      this.sparseDensityLimit = limit;
      return this;
    }

    /**
     * Whether BatchTopK decodes through sparse rows (see {@link TrainingConfig#sparseDecoding()}).
     *
     * @param sparse true to decode BatchTopK through sparse rows (the default), false for dense
     *     products
     * @return this builder
     */
    public Builder sparseDecoding(boolean sparse) {
      this.sparseDecoding = sparse;
      return this;
    }

    /**
     * The sparsity objective: {@code Sparsity.l1(lambda)} (finite, at least 0) or {@code
     * Sparsity.batchTopK(k)} ({@code k} at least 1 and at most the dictionary size, checked in
     * {@link #build}). A BatchTopK threshold is learned by training, so it must be 0 here.
     *
     * @param s the objective, not null
     * @return this builder
     */
    public Builder sparsity(Sparsity s) {
      Objects.requireNonNull(s, "sparsity");
      if (s instanceof Sparsity.BatchTopK t && t.threshold() != 0) {
        throw new IllegalArgumentException("the BatchTopK threshold is learned in training; give"
            + " Sparsity.batchTopK(" + t.k() + "), not a threshold of " + t.threshold());
      }
      this.sparsity = s;
      return this;
    }

    /**
     * The number of latents {@code F}, at least 1.
     *
     * @param f the number of latents
     * @return this builder
     */
    public Builder dictionarySize(int f) {
      this.dictionarySize = positive("dictionarySize", f);
      return this;
    }

    /**
     * Tokens per step, at least 1.
     *
     * @param b the tokens per step
     * @return this builder
     */
    public Builder batchSize(int b) {
      this.batchSize = positive("batchSize", b);
      return this;
    }

    /**
     * Steps in the run, at least 1.
     *
     * @param s the number of optimiser steps
     * @return this builder
     */
    public Builder steps(long s) {
      if (s < 1) {
        throw new IllegalArgumentException("steps must be at least 1, got " + s);
      }
      this.steps = s;
      return this;
    }

    /**
     * The peak learning rate, finite and positive (default {@link
     * TrainingConfig#defaultLearningRate}).
     *
     * @param lr the peak learning rate
     * @return this builder
     */
    public Builder learningRate(float lr) {
      this.learningRate = finitePositive("learningRate", lr);
      return this;
    }

    /**
     * Warm-up steps, at least 0 (default {@link TrainingConfig#defaultWarmupSteps}).
     *
     * @param s the warm-up length in steps
     * @return this builder
     */
    public Builder warmupSteps(long s) {
      this.warmupSteps = nonNegative("warmupSteps", s);
      return this;
    }

    /**
     * The decay fraction, in {@code [0, 1]}.
     *
     * @param f the final fraction of the steps over which the learning rate decays
     * @return this builder
     */
    public Builder decayFraction(double f) {
      this.decayFraction = unit("decayFraction", f);
      return this;
    }

    /**
     * The lambda warm-up fraction, in {@code [0, 1]}.
     *
     * @param f the first fraction of the steps over which lambda rises
     * @return this builder
     */
    public Builder lambdaWarmupFraction(double f) {
      this.lambdaWarmupFraction = unit("lambdaWarmupFraction", f);
      return this;
    }

    /**
     * Latents per token in the auxiliary loss, at least 1, or 0 for {@code d / 2}.
     *
     * @param k the latents per token of the auxiliary loss
     * @return this builder
     */
    public Builder auxK(int k) {
      this.auxK = (int) nonNegative("auxK", k);
      return this;
    }

    /**
     * The auxiliary loss weight, finite and at least 0.
     *
     * @param w the weight of the auxiliary loss; 0 turns it off
     * @return this builder
     */
    public Builder auxWeight(float w) {
      this.auxWeight = finiteNonNegative("auxWeight", w);
      return this;
    }

    /**
     * Tokens without firing after which a latent is dead, at least 1.
     *
     * @param tokens the number of tokens a latent may go without firing before it is dead
     * @return this builder
     */
    public Builder deadTokens(long tokens) {
      if (tokens < 1) {
        throw new IllegalArgumentException("deadTokens must be at least 1, got " + tokens);
      }
      this.deadTokens = tokens;
      return this;
    }

    /**
     * The fraction of designated shared latents, in {@code [0, 1]}.
     *
     * @param f the fraction of the latents designated shared
     * @return this builder
     */
    public Builder sharedFraction(double f) {
      this.sharedFraction = unit("sharedFraction", f);
      return this;
    }

    /**
     * The penalty multiplier of shared latents, finite and at least 0.
     *
     * @param f the multiplier of a shared latent's sparsity penalty
     * @return this builder
     */
    public Builder sharedPenaltyFactor(float f) {
      this.sharedPenaltyFactor = finiteNonNegative("sharedPenaltyFactor", f);
      return this;
    }

    /**
     * The gradient clipping norm, positive ({@code +infinity} turns clipping off).
     *
     * @param norm the global gradient norm above which gradients are scaled down
     * @return this builder
     */
    public Builder gradientClipNorm(float norm) {
      if (!(norm > 0f)) {
        throw new IllegalArgumentException("gradientClipNorm must be positive, got " + norm);
      }
      this.gradientClipNorm = norm;
      return this;
    }

    /**
     * Adam's betas, each in {@code [0, 1)}.
     *
     * @param beta1 the first-moment decay
     * @param beta2 the second-moment decay
     * @return this builder
     */
    public Builder adamBetas(float beta1, float beta2) {
      if (!(beta1 >= 0f && beta1 < 1f) || !(beta2 >= 0f && beta2 < 1f)) {
        throw new IllegalArgumentException("Adam betas must be in [0, 1), got " + beta1 + " and " + beta2);
      }
      this.beta1 = beta1;
      this.beta2 = beta2;
      return this;
    }

    /**
     * Adam's epsilon, finite and positive.
     *
     * @param eps the term Adam adds to the denominator
     * @return this builder
     */
    public Builder epsilon(float eps) {
      this.epsilon = finitePositive("epsilon", eps);
      return this;
    }

    /**
     * The initialisation seed, any value.
     *
     * @param seed the seed of the random initialisation
     * @return this builder
     */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /**
     * The threshold running-mean decay, in {@code [0, 1)}.
     *
     * @param beta the decay of the threshold's running mean
     * @return this builder
     */
    public Builder thresholdBeta(float beta) {
      if (!(beta >= 0f && beta < 1f)) {
        throw new IllegalArgumentException("thresholdBeta must be in [0, 1), got " + beta);
      }
      this.thresholdBeta = beta;
      return this;
    }

    /**
     * The first 0-based step that updates the threshold, at least 0.
     *
     * @param step the 0-based step
     * @return this builder
     */
    public Builder thresholdStartStep(long step) {
      this.thresholdStartStep = nonNegative("thresholdStartStep", step);
      return this;
    }

    /**
     * The L1 variant's initial per-model decoder row norm, finite and positive.
     *
     * @param norm the per-model norm of each decoder row at initialisation
     * @return this builder
     */
    public Builder decoderInitNorm(float norm) {
      this.decoderInitNorm = finitePositive("decoderInitNorm", norm);
      return this;
    }

    /**
     * Batches averaged for BatchTopK's initial decoder bias, at least 0.
     *
     * @param batches the number of batches
     * @return this builder
     */
    public Builder biasInitBatches(int batches) {
      this.biasInitBatches = (int) nonNegative("biasInitBatches", batches);
      return this;
    }

    /**
     * The metrics interval in steps, at least 1.
     *
     * @param every the interval in steps
     * @return this builder
     */
    public Builder metricsEvery(int every) {
      this.metricsEvery = positive("metricsEvery", every);
      return this;
    }

    /**
     * The configuration.
     *
     * @return a new immutable configuration with the derived defaults resolved
     * @throws IllegalStateException if the dictionary size was not set, or {@code k} exceeds it
     */
    public TrainingConfig build() {
      if (dictionarySize < 1) {
        throw new IllegalStateException("dictionarySize must be set");
      }
      if (sparsity instanceof Sparsity.BatchTopK t && t.k() > dictionarySize) {
        throw new IllegalStateException("k = " + t.k() + " exceeds the dictionary size " + dictionarySize);
      }
      return new TrainingConfig(this);
    }

    private static int positive(String name, int v) {
      if (v < 1) {
        throw new IllegalArgumentException(name + " must be at least 1, got " + v);
      }
      return v;
    }

    private static long nonNegative(String name, long v) {
      if (v < 0) {
        throw new IllegalArgumentException(name + " must be at least 0, got " + v);
      }
      return v;
    }

    private static double unit(String name, double v) {
      if (!(v >= 0 && v <= 1)) {
        throw new IllegalArgumentException(name + " must be in [0, 1], got " + v);
      }
      return v;
    }

    private static float finitePositive(String name, float v) {
      if (!(v > 0f) || !Float.isFinite(v)) {
        throw new IllegalArgumentException(name + " must be finite and positive, got " + v);
      }
      return v;
    }

    private static float finiteNonNegative(String name, float v) {
      if (!(v >= 0f) || !Float.isFinite(v)) {
        throw new IllegalArgumentException(name + " must be finite and at least 0, got " + v);
      }
      return v;
    }
  }
}
