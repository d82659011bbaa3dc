package io.crosscoder.crosscoder;

import io.crosscoder.CrosscoderException;
import io.crosscoder.backend.BackendChoice;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.internal.BackendChoiceRule;
import io.crosscoder.crosscoder.train.CrosscoderTrainer;
import io.crosscoder.crosscoder.train.JsonLinesMetricsWriter;
import io.crosscoder.crosscoder.train.SourceTrainingData;
import io.crosscoder.crosscoder.train.TrainingConfig;
import io.crosscoder.crosscoder.train.TrainingMetrics;
import io.crosscoder.progress.ProgressListener;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Trains a two-model crosscoder from paired activations: what {@link io.crosscoder.ModelDiffer} is
 * for weights, this is for activations. It selects the compute backend, estimates the
 * per-model normalisation once from the data, trains (resuming from its checkpoint when one
 * exists), and returns the {@link Crosscoder} with its configuration, sparsity (with BatchTopK's
 * learned threshold) and normalisation, the last step's metrics, and warnings, each with what to
 * change, when the result is not yet usable: explained variance below 0.8 for either model at the
 * end, or more than half the latents dead.
 *
 * <pre>{@code
 * try (ActivationSource acts = ActivationShards.open(Path.of("acts"))) {
 *   TrainingResult result = CrosscoderTraining.builder()
 *       .dictionarySize(16384)
 *       .sparsity(Sparsity.batchTopK(32))
 *       .steps(20_000)
 *       .checkpoint(Path.of("cc.ckpt"), 500)         // a rerun after a kill resumes here
 *       .metricsFile(Path.of("cc.metrics.jsonl"))
 *       .build()
 *       .train(acts);
 *   result.warnings().forEach(System.err::println);
 *   CrosscoderFiles.save(Path.of("cc.safetensors"), result.crosscoder());
 *   System.out.println(result.report(heldOut, 1_000_000).toMarkdown());
 * }
 * }</pre>
 *
 * <p>Everything not set has a default: 1000 steps, a learning rate and warm-up chosen from the
 * dictionary size and the steps ({@link TrainingConfig#defaultLearningRate}, {@link
 * TrainingConfig#defaultWarmupSteps}), the rest those of {@link TrainingConfig}. Immutable and thread-safe; one instance may train
 * several sources at once, provided each run has its own checkpoint and metrics file.
 */
public final class CrosscoderTraining {
  /** Tokens per batch while estimating the normalisation. */
  private static final int NORMALISATION_BATCH = 4096;
  /** Tokens the normalisation is estimated from (the first of one epoch in the seed's order). */
  private static final long NORMALISATION_TOKENS = 200_000;
  /** Explained variance (of either model, at the end of training) below which a run is warned about. */
  static final double MIN_EXPLAINED = 0.8;
  /** The fraction of dead latents above which a run is warned about. */
  static final double MAX_DEAD = 0.5;

  private final TrainingConfig config;
  private final Normalisation.Kind normalisation;
  private final BackendChoice backend;
  private final Path checkpoint;
  private final long checkpointEvery;
  private final Path metricsFile;
  private final ProgressListener progress;

  private CrosscoderTraining(Builder b, TrainingConfig config) {
    this.config = config;
    this.normalisation = b.normalisation;
    this.backend = b.backend == null ? BackendChoice.auto() : b.backend;
    this.checkpoint = b.checkpoint;
    this.checkpointEvery = b.checkpointEvery;
    this.metricsFile = b.metricsFile;
    this.progress = b.progress;
  }

  /** {@return a builder; {@link Builder#dictionarySize} is the one setting without a default} */
  public static Builder builder() {
    return new Builder();
  }

  /** {@return the training settings of every run, defaults resolved (the learning rate and warm-up included)} */
  public TrainingConfig config() {
    return config;
  }

  /**
   * {@return how each model's activations are normalised before training (default {@link Normalisation.Kind#SCALE})}
   */
  public Normalisation.Kind normalisation() {
    return normalisation;
  }

  /**
   * Trains a crosscoder on {@code source}, which stays open (the caller closes it). The sequence:
   * the backend (the instance given, which stays its owner's, else one opened for this run as the
   * {@link BackendChoice} says, and closed at its end); the normalisation estimated from the first 200,000
   * tokens of one epoch in the seed's order; the trainer, resumed from the checkpoint file when
   * it exists, else started from the seed; the run to its last step, sending every step's {@link
   * TrainingMetrics} to the metrics file (when resuming, cut back to the checkpoint's step, then
   * appended to, so that it holds one line per step whatever the kills) and to the progress listener,
   * and writing the checkpoint at the configured interval and at the end. The checkpoint stays
   * after the run, so running again returns the same crosscoder at once; delete it when the
   * crosscoder is saved, since a run with other settings refuses it.
   *
   * @param source paired activations; read, not closed
   * @return the trained crosscoder, its last metrics and the run's warnings
   * @throws io.crosscoder.InvalidInputException if the checkpoint is not one of this run (other
   *     settings or width), or the data turn out to be malformed
   * @throws CrosscoderException if the backend cannot be had, the data hold no tokens, a file
   *     cannot be written, or training diverged (weights not finite)
   */
  public TrainingResult train(ActivationSource source) {
    Objects.requireNonNull(source, "source");
    long start = System.nanoTime();
    ComputeBackend backend = this.backend.open();
    try {
      Normalisation norm = estimate(source);
      SourceTrainingData data = new SourceTrainingData(source, norm, config.seed());
      boolean resume = checkpoint != null && Files.isRegularFile(checkpoint);
      TrainingMetrics[] last = new TrainingMetrics[1];
      try (CrosscoderTrainer trainer = resume
              ? CrosscoderTrainer.resume(backend.kernels(), config, data, checkpoint)
              : CrosscoderTrainer.start(backend.kernels(), config, data);
          JsonLinesMetricsWriter jsonl = metricsFile == null ? null : resume
              ? JsonLinesMetricsWriter.resume(metricsFile, trainer.step())
              : JsonLinesMetricsWriter.open(metricsFile, false)) {
        long from = trainer.step();
        ProgressListener listener = ProgressListener.on(TrainingMetrics.class, m -> last[0] = m);
        if (jsonl != null) {
          listener = listener.andThen(jsonl);
        }
        listener = listener.andThen(progress);
        trainer.run(config.steps(), listener, checkpoint, checkpoint == null ? 0 : checkpointEvery);
        TrainingMetrics m = last[0] != null ? last[0] : finalMetrics(trainer, data);
        long window = deadWindow(config);
        double dead = trainer.silentFraction(window);
        Crosscoder coder;
        try {
          coder = trainer.weights().crosscoder(norm);
        } catch (IllegalArgumentException e) {
          throw new CrosscoderException(String.format(Locale.ROOT, "training diverged (%s): use a lower learning"
              + " rate (now %.3g)", e.getMessage(), config.learningRate()), e);
        }
        return new TrainingResult(coder, config, m, dead, window, from, backend.description(),
            (System.nanoTime() - start) / 1e9, warnings(config, m, dead, window));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot close the metrics file " + metricsFile, e);
      }
    } finally {
      if (this.backend.ownsOpened()) {
        backend.close();
      }
    }
  }

  /** A quarter of the run's tokens, at least one batch, at most the dead-latent window of training. */
  static long deadWindow(TrainingConfig c) {
    long runTokens = c.steps() * c.batchSize();
    return Math.min(c.deadTokens(), Math.max(c.batchSize(), runTokens / 4));
  }

  /**
   * What to tell the user about a finished run: explained variance below {@value #MIN_EXPLAINED}
   * for either model, or more than half the latents dead, each with what to change.
   */
  static List<String> warnings(TrainingConfig c, TrainingMetrics m, double dead, long window) {
    List<String> out = new ArrayList<>();
    double ev = Math.min(m.explainedVarianceBase(), m.explainedVarianceTarget());
    if (!(ev >= MIN_EXPLAINED)) {
      float suggested = TrainingConfig.defaultLearningRate(c.dictionarySize(), c.steps());
      String lr = c.learningRate() < suggested
          ? String.format(Locale.ROOT, "a larger learning rate (now %.3g; without one set, this run would use %.3g)",
              c.learningRate(), suggested)
          : String.format(Locale.ROOT, "a check of the learning rate (now %.3g)", c.learningRate());
      out.add(String.format(Locale.ROOT, "explained variance at the end is %.3f (base) / %.3f (target), below %.1f:"
          + " the crosscoder reconstructs too little of the activations for its latents to be trusted. Try more"
          + " steps (now %d), %s, %s, or a larger dictionary (now %d latents).", m.explainedVarianceBase(),
          m.explainedVarianceTarget(), MIN_EXPLAINED, c.steps(), lr, looser(c.sparsity()), c.dictionarySize()));
    }
    if (dead > MAX_DEAD) {
      out.add(String.format(Locale.ROOT, "%.0f%% of the latents (more than half) did not fire in the last %d tokens:"
          + " they are dead weight, and the live ones may be too few to read. Try a smaller dictionary (now %d"
          + " latents), a lower learning rate (now %.3g), %s, or more steps (now %d).", 100 * dead, window,
          c.dictionarySize(), c.learningRate(), looser(c.sparsity()), c.steps()));
    }
    return out;
  }

  private static String looser(Sparsity s) {
    return switch (s) {
      case Sparsity.L1 l1 -> "a smaller L1 coefficient (now " + l1.lambda() + ")";
      case Sparsity.BatchTopK t -> "a larger BatchTopK k (now " + t.k() + ")";
    };
  }

  /** The metrics of one fresh batch at the final parameters, numbered as the run's last step. */
  private TrainingMetrics finalMetrics(CrosscoderTrainer trainer, SourceTrainingData data) {
    TrainingMetrics e = trainer.evaluate(data.next(config.batchSize()));
    return new TrainingMetrics(trainer.step(), e.totalSteps(), trainer.step() * config.batchSize(),
        e.reconstructionLoss(), e.sparsityLoss(), e.auxiliaryLoss(), e.totalLoss(), e.l0(), e.explainedVarianceBase(),
        e.explainedVarianceTarget(), e.deadFraction(), e.learningRate(), e.lambda(), e.gradientNorm(), e.threshold());
  }

  private Normalisation estimate(ActivationSource source) {
    try {
      return Normalisation.estimate(normalisation, source, NORMALISATION_BATCH, config.seed(), NORMALISATION_TOKENS);
    } catch (IllegalArgumentException e) {
      throw new CrosscoderException("cannot estimate the normalisation from " + source + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "CrosscoderTraining" + config.describe() + ", normalisation " + normalisation;
  }

  /**
   * Builds a {@link CrosscoderTraining}; every setter checks its argument at once and throws an
   * {@link IllegalArgumentException} saying what was wrong. Not thread-safe.
   *
   * <p>Setters of one value may be called again: the last call wins. The backend is the exception:
   * it is chosen once (by any of the {@code backend} setters), and a second choice throws {@link
   * IllegalStateException} rather than silently replacing the first.
   */
  public static final class Builder {
    private final TrainingConfig.Builder config = TrainingConfig.builder().steps(1000);
    private boolean dictionarySizeSet;
    private Normalisation.Kind normalisation = Normalisation.Kind.SCALE;
    private BackendChoice backend;
    private Path checkpoint;
    private long checkpointEvery;
    private Path metricsFile;
    private ProgressListener progress = ProgressListener.NONE;

    private Builder() {}

    /**
     * The number of latents F, at least 1 (required).
     *
     * @param f number of latents, at least 1
     * @return this builder
     */
    public Builder dictionarySize(int f) {
      config.dictionarySize(f);
      dictionarySizeSet = true;
      return this;
    }

    /**
     * The sparsity objective (default {@code Sparsity.l1(2)}): {@code Sparsity.l1(lambda)} with a
     * finite {@code lambda >= 0}, or {@code Sparsity.batchTopK(k)} with {@code 1 <= k <= F}
     * (checked by {@link #build}); a BatchTopK threshold is learned, so none may be given.
     *
     * @param sparsity L1 or BatchTopK (without a threshold: training learns it)
     * @return this builder
     */
    public Builder sparsity(Sparsity sparsity) {
      config.sparsity(sparsity);
      return this;
    }

    /**
     * The fraction of designated shared latents, in {@code [0, 1]} (default 0).
     *
     * @param fraction share of the latents, in [0, 1]
     * @return this builder
     */
    public Builder sharedFraction(double fraction) {
      config.sharedFraction(fraction);
      return this;
    }

    /**
     * Optimiser steps, at least 1 (default 1000).
     *
     * @param steps optimiser steps, at least 1
     * @return this builder
     */
    public Builder steps(long steps) {
      config.steps(steps);
      return this;
    }

    /**
     * Tokens per step, at least 1 (default 4096).
     *
     * @param tokens tokens per step, at least 1
     * @return this builder
     */
    public Builder batchSize(int tokens) {
      config.batchSize(tokens);
      return this;
    }

    /**
     * The peak learning rate, finite and positive as an f32 (default: {@code min(1e-2, max(2e-4 *
     * sqrt(16384 / F), 4 / steps))}, see {@link TrainingConfig#defaultLearningRate}).
     *
     * @param lr peak learning rate, finite and positive as a float
     * @return this builder
     */
    public Builder learningRate(double lr) {
      if (!(lr > 0) || !(lr <= Float.MAX_VALUE) || (float) lr == 0f) {
        throw new IllegalArgumentException("learningRate must be finite and positive (as a float), got " + lr);
      }
      config.learningRate((float) lr);
      return this;
    }

    /**
     * Steps of linear learning-rate warm-up, at least 0 (default: 5% of the steps, at most 1000).
     *
     * @param steps warm-up steps, at least 0
     * @return this builder
     */
    public Builder warmupSteps(long steps) {
      config.warmupSteps(steps);
      return this;
    }

    /**
     * The seed of the initialisation, the data order and the normalisation sample (default 0).
     *
     * @param seed the seed
     * @return this builder
     */
    public Builder seed(long seed) {
      config.seed(seed);
      return this;
    }

    /**
     * How each model's activations are normalised (default {@link Normalisation.Kind#SCALE}: mean squared norm d).
     *
     * @param kind the kind of input normalisation
     * @return this builder
     */
    public Builder normalisation(Normalisation.Kind kind) {
      this.normalisation = Objects.requireNonNull(kind, "normalisation");
      return this;
    }

    /**
     * Chooses the compute backend: automatically (the default), by provider name with {@link
     * io.crosscoder.backend.BackendOptions}, or an open instance; see {@link BackendChoice}. A
     * backend chosen by name or automatically is opened and closed by each run; an instance stays
     * its owner's. {@link #build()} checks that the choice can run on this machine.
     *
     * @param choice the choice
     * @return this builder
     * @throws IllegalStateException if a backend was already chosen
     */
    public Builder backend(BackendChoice choice) {
      Objects.requireNonNull(choice, "choice");
      BackendChoiceRule.requireUnchosen(this.backend);
      this.backend = choice;
      return this;
    }

    /**
     * Chooses the compute backend by provider name ({@code "cpu"}, {@code "cuda"}): {@code
     * backend(BackendChoice.named(name))}.
     *
     * @param name the provider's name, any case
     * @return this builder
     * @throws IllegalArgumentException if the name is blank or no provider has it (listing those there are)
     * @throws IllegalStateException if a backend was already chosen
     */
    public Builder backend(String name) {
      BackendChoiceRule.requireUnchosen(this.backend);
      return backend(BackendChoice.named(name));
    }

    /**
     * Uses this backend instance: {@code backend(BackendChoice.of(backend))}. The caller keeps
     * ownership and closes it after the last run.
     *
     * @param backend an open backend
     * @return this builder
     * @throws IllegalStateException if a backend was already chosen
     */
    public Builder backend(ComputeBackend backend) {
      BackendChoiceRule.requireUnchosen(this.backend);
      return backend(BackendChoice.of(backend));
    }

    /**
     * Writes the whole training state atomically to {@code file} every {@code everySteps} steps
     * (at least 1) and at the end; a run that finds the file resumes from it and ends bit-identical
     * to an uninterrupted run. Default: no checkpoint.
     *
     * @param file the checkpoint file (not a folder)
     * @param everySteps steps between checkpoints, at least 1
     * @return this builder
     */
    public Builder checkpoint(Path file, long everySteps) {
      Objects.requireNonNull(file, "checkpoint");
      if (everySteps < 1) {
        throw new IllegalArgumentException("checkpoint interval must be at least 1 step, got " + everySteps);
      }
      if (Files.isDirectory(file)) {
        throw new IllegalArgumentException("checkpoint " + file + " is a folder, not a file");
      }
      this.checkpoint = file;
      this.checkpointEvery = everySteps;
      return this;
    }

    /**
     * Writes every step's metrics to {@code file} as JSON Lines ({@link JsonLinesMetricsWriter}),
     * replacing it; a resumed run first cuts it back to the checkpoint's step ({@link
     * JsonLinesMetricsWriter#resume}), then appends. Default: none.
     *
     * @param file the JSON Lines file (not a folder)
     * @return this builder
     */
    public Builder metricsFile(Path file) {
      Objects.requireNonNull(file, "metricsFile");
      if (Files.isDirectory(file)) {
        throw new IllegalArgumentException("metrics file " + file + " is a folder, not a file");
      }
      this.metricsFile = file;
      return this;
    }

    /**
     * Receives a {@link TrainingMetrics} (a {@link io.crosscoder.progress.ProgressEvent}) after
     * every step, on the training thread; a listener that throws stops the run (the checkpoint
     * keeps what was saved). Default: none.
     *
     * @param listener the listener
     * @return this builder
     */
    public Builder progress(ProgressListener listener) {
      this.progress = Objects.requireNonNull(listener, "progress");
      return this;
    }

    /**
     * The training run.
     *
     * @return the training run, immutable; it may be run more than once
     * @throws IllegalStateException if the dictionary size was not set, or BatchTopK's {@code k}
     *     exceeds it
     * @throws CrosscoderException if the chosen backend is not available on this machine (saying
     *     why, and which are)
     */
    public CrosscoderTraining build() {
      if (!dictionarySizeSet) {
        throw new IllegalStateException("dictionarySize must be set");
      }
      (backend == null ? BackendChoice.auto() : backend).check();
      return new CrosscoderTraining(this, config.build());
    }
  }
}
