package io.crosscoder.cli;

import io.crosscoder.InvalidInputException;
import io.crosscoder.crosscoder.CrosscoderTraining;
import io.crosscoder.crosscoder.Normalisation;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.crosscoder.TrainingResult;
import io.crosscoder.crosscoder.train.TrainingConfig;
import io.crosscoder.crosscoder.train.TrainingMetrics;
import io.crosscoder.io.activations.ActivationShards;
import io.crosscoder.io.crosscoder.CrosscoderFiles;
import io.crosscoder.output.OutputFiles;
import io.crosscoder.output.OutputLock;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code crosscoder train ACTIVATIONS}: option parsing over {@link CrosscoderTraining}, then the
 * crosscoder saved to {@code --out}. The checkpoint {@code OUT.ckpt} is written periodically and
 * deleted once the crosscoder is saved; a rerun after a kill resumes from it.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Trains a two-model crosscoder (L1 or BatchTopK) on paired activations: a folder of"
        + " .safetensors shards with tensors base and target [tokens, d], or .npy pairs.",
        "Rerunning the same command after a kill resumes from OUT.ckpt."})
final class TrainCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(paramLabel = "ACTIVATIONS", description = "Folder (or file) of paired activations.")
  Path activations;

  @Option(names = "--dict-size", paramLabel = "F", required = true, description = "Dictionary size: the number of latents (required).")
  int dictSize;

  @Option(names = "--sparsity", paramLabel = "l1:LAMBDA|batchtopk:K", required = true,
      description = "l1:LAMBDA (Anthropic's decoder-norm-weighted L1 with coefficient LAMBDA) or"
          + " batchtopk:K (Minder et al., K active latents per token on average); required.")
  String sparsity;

  @Option(names = "--shared-fraction", paramLabel = "P", defaultValue = "0",
      description = "Fraction of designated shared latents (one decoder for both models); default ${DEFAULT-VALUE}.")
  double sharedFraction;

  @Option(names = "--steps", paramLabel = "N", defaultValue = "1000",
      description = "Optimiser steps; default ${DEFAULT-VALUE}.")
  long steps;

  @Option(names = "--batch", paramLabel = "B", defaultValue = "4096",
      description = "Tokens per step; default ${DEFAULT-VALUE}.")
  int batch;

  @Option(names = "--lr", paramLabel = "LR",
      description = "Peak learning rate; default min(1e-2, max(2e-4 * sqrt(16384 / F), 4 / steps)):"
          + " Gao et al.'s 1/sqrt(F) rule for long runs, more for short ones.")
  Double lr;

  @Option(names = "--warmup", paramLabel = "N",
      description = "Learning-rate warm-up steps; default 5%% of the steps, at most 1000.")
  Long warmup;

  @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
      description = "Seed of the initialisation, the data order and the normalisation sample; default ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--normalisation", paramLabel = "scale|mean-centred|none", defaultValue = "scale",
      description = "Per-model input normalisation: scale to mean squared norm d, centre first, or none;"
          + " default ${DEFAULT-VALUE}.")
  String normalisation;

  @Option(names = "--out", paramLabel = "CC.safetensors", required = true, description = "Where to write the crosscoder (required).")
  Path out;

  @Option(names = "--checkpoint-every", paramLabel = "N", defaultValue = "100",
      description = "Steps between checkpoints, written atomically to OUT.ckpt; default ${DEFAULT-VALUE}.")
  long checkpointEvery;

  @Option(names = "--metrics", paramLabel = "FILE.jsonl", description = "Training metrics as JSON lines; default OUT.metrics.jsonl.")
  Path metrics;

  @Option(names = "--backend", paramLabel = "NAME",
      description = "Compute backend (cpu, cuda); default: CROSSCODER_BACKEND, else the best available.")
  String backend;

  @Option(names = "--no-progress", description = "No progress bar (there is none anyway when stderr is not a terminal).")
  boolean noProgress;

  @Override
  public Integer call() throws Exception {
    PrintWriter err = spec.commandLine().getErr();
    Path checkpoint = out.resolveSibling(out.getFileName() + ".ckpt");
    Path metricsFile = metrics != null ? metrics : out.resolveSibling(out.getFileName() + ".metrics.jsonl");
    // Every output is checked before anything is read or written: a folder, a device or an input
    // named as an output is refused now, not after hours of training.
    OutputFiles.requireDistinct(outputs(checkpoint, metricsFile), Map.of("ACTIVATIONS", activations));
    OutputFiles.checkTarget(out);
    OutputFiles.checkTarget(checkpoint);
    OutputFiles.checkTarget(metricsFile);
    // Bad arguments are refused before the lock file is made.
    training(checkpoint, metricsFile, null);
    TrainingResult result;
    try (OutputLock lock = OutputLock.acquire(out.resolveSibling(out.getFileName() + ".lock"), "training into " + out);
        ProgressBarListener bar = noProgress ? null : ProgressBarListener.forTerminal()) {
      CrosscoderTraining training = training(checkpoint, metricsFile, bar);
      try (ActivationShards source = ActivationShards.open(activations)) {
        TrainingConfig c = training.config();
        err.println("crosscoder: " + (Files.isRegularFile(checkpoint) ? "resuming from " + checkpoint + ": " : "")
            + "training " + describe(c.sparsity()) + " crosscoder, d = " + source.d() + ", F = " + c.dictionarySize()
            + ", " + c.steps() + " steps of " + c.batchSize() + " tokens, learning rate "
            + String.format(Locale.ROOT, "%.3g", c.learningRate()) + " after " + c.warmupSteps() + " warm-up steps");
        result = training.train(source);
      }
      // Inside the lock: a second run must not see the checkpoint gone before the crosscoder is there.
      CrosscoderFiles.save(out, result.crosscoder());
      Files.deleteIfExists(checkpoint);
    }
    TrainingMetrics m = result.lastStep();
    err.println(String.format(Locale.ROOT, "crosscoder: wrote %s (metrics in %s): step %d, explained variance %.3f"
            + " (base) / %.3f (target), L0 %.1f, %.1f%% dead latents; %.0f s on %s", out, metricsFile, m.step(),
        m.explainedVarianceBase(), m.explainedVarianceTarget(), m.l0(), 100 * m.deadFraction(), result.seconds(),
        result.backend()));
    result.warnings().forEach(w -> err.println("crosscoder: warning: " + w));
    return 0;
  }

  /** The files this run writes, by the option that names them (the checkpoint follows --out). */
  private Map<String, Path> outputs(Path checkpoint, Path metricsFile) {
    Map<String, Path> m = new LinkedHashMap<>();
    m.put("--out", out);
    m.put("--metrics", metricsFile);
    m.put("the checkpoint (--out + .ckpt)", checkpoint);
    return m;
  }

  /** The front door configured from the options; a bad value is bad input (exit status 2). */
  private CrosscoderTraining training(Path checkpoint, Path metricsFile, ProgressBarListener bar) {
    try {
      CrosscoderTraining.Builder b = CrosscoderTraining.builder().dictionarySize(dictSize)
          .sparsity(parseSparsity(sparsity)).sharedFraction(sharedFraction).steps(steps).batchSize(batch).seed(seed)
          .normalisation(parseNormalisation(normalisation)).checkpoint(checkpoint, checkpointEvery)
          .metricsFile(metricsFile);
      if (lr != null) {
        b.learningRate(lr);
      }
      if (warmup != null) {
        b.warmupSteps(warmup);
      }
      if (backend != null) {
        b.backend(backend);
      }
      if (bar != null) {
        b.progress(bar);
      }
      return b.build();
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new InvalidInputException(null, null, e.getMessage(), e);
    }
  }

  /** {@code l1:LAMBDA} or {@code batchtopk:K}. */
  static Sparsity parseSparsity(String text) {
    String[] sp = text.toLowerCase(Locale.ROOT).split(":", 2);
    try {
      return switch (sp[0]) {
        case "l1" -> Sparsity.l1(Double.parseDouble(sp[1]));
        case "batchtopk" -> Sparsity.batchTopK(Integer.parseInt(sp[1]));
        default -> throw new IllegalArgumentException();
      };
    } catch (RuntimeException e) {
      throw new InvalidInputException(null, null, "--sparsity must be l1:LAMBDA or batchtopk:K, got '" + text + "'");
    }
  }

  private static Normalisation.Kind parseNormalisation(String text) {
    return switch (text.toLowerCase(Locale.ROOT)) {
      case "scale" -> Normalisation.Kind.SCALE;
      case "mean-centred", "mean-centered" -> Normalisation.Kind.MEAN_CENTRED;
      case "none" -> Normalisation.Kind.NONE;
      default -> throw new InvalidInputException(null, null,
          "--normalisation must be scale, mean-centred or none, got '" + text + "'");
    };
  }

  private static String describe(Sparsity s) {
    return switch (s) {
      case Sparsity.L1 l1 -> "an L1 (lambda " + l1.lambda() + ")";
      case Sparsity.BatchTopK t -> "a BatchTopK (k " + t.k() + ")";
    };
  }
}
