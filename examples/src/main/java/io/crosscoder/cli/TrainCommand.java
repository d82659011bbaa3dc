package io.crosscoder.cli;

import io.crosscoder.InvalidInputException;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.crosscoder.Normalisation;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.crosscoder.train.CrosscoderTrainer;
import io.crosscoder.crosscoder.train.JsonLinesMetricsWriter;
import io.crosscoder.crosscoder.train.SourceTrainingData;
import io.crosscoder.crosscoder.train.TrainingConfig;
import io.crosscoder.io.activations.ActivationShards;
import io.crosscoder.io.crosscoder.CrosscoderFiles;
import io.crosscoder.progress.ProgressListener;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code crosscoder train ACTIVATIONS}: trains an acausal two-model crosscoder on paired
 * activations, with periodic atomic checkpoints that a killed run resumes from.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
    description = {"Trains a two-model crosscoder (L1 or BatchTopK) on paired activations: a folder of",
        ".safetensors shards with tensors base and target [tokens, d], or .npy pairs."})
final class TrainCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(paramLabel = "ACTIVATIONS", description = "Folder (or file) of paired activations.")
  Path activations;

  @Option(names = "--dict-size", paramLabel = "F", required = true, description = "Dictionary size (latents).")
  int dictSize;

  @Option(names = "--sparsity", paramLabel = "l1:LAMBDA|batchtopk:K", required = true,
      description = "l1:LAMBDA (Anthropic's decoder-norm-weighted L1) or batchtopk:K (Minder et al.).")
  String sparsity;

  @Option(names = "--shared-fraction", paramLabel = "P", defaultValue = "0",
      description = "Fraction of designated shared latents (one decoder for both models), default ${DEFAULT-VALUE}.")
  double sharedFraction;

  @Option(names = "--steps", paramLabel = "N", defaultValue = "1000") long steps;
  @Option(names = "--batch", paramLabel = "B", defaultValue = "4096") int batch;
  @Option(names = "--lr", paramLabel = "LR", defaultValue = "5e-5") float lr;
  @Option(names = "--seed", paramLabel = "S", defaultValue = "0") long seed;

  @Option(names = "--out", paramLabel = "CC.safetensors", required = true, description = "Where to write the crosscoder.")
  Path out;

  @Option(names = "--checkpoint-every", paramLabel = "N", defaultValue = "100",
      description = "Steps between checkpoints (written atomically to OUT.ckpt); a rerun resumes from it.")
  long checkpointEvery;

  @Option(names = "--metrics", paramLabel = "FILE.jsonl", description = "Training metrics as JSON lines (default: OUT.metrics.jsonl).")
  Path metrics;

  @Option(names = "--backend", paramLabel = "NAME", description = "Compute backend (cpu, cuda).")
  String backend;

  @Option(names = "--no-progress", description = "No progress bar.")
  boolean noProgress;

  @Override
  public Integer call() throws Exception {
    PrintWriter err = spec.commandLine().getErr();
    TrainingConfig.Builder cb = TrainingConfig.builder().dictionarySize(dictSize).batchSize(batch).steps(steps)
        .learningRate(lr).seed(seed).sharedFraction(sharedFraction);
    String[] sp = sparsity.toLowerCase(Locale.ROOT).split(":", 2);
    try {
      switch (sp[0]) {
        case "l1" -> cb.sparsity(Sparsity.l1(Float.parseFloat(sp[1])));
        case "batchtopk" -> cb.sparsity(Sparsity.batchTopK(Integer.parseInt(sp[1])));
        default -> throw new IllegalArgumentException();
      }
    } catch (RuntimeException e) {
      throw new InvalidInputException(null, null, "--sparsity must be l1:LAMBDA or batchtopk:K, got '" + sparsity + "'");
    }
    TrainingConfig config = cb.build();
    Path checkpoint = out.resolveSibling(out.getFileName() + ".ckpt");
    Path metricsFile = metrics != null ? metrics : out.resolveSibling(out.getFileName() + ".metrics.jsonl");

    try (ActivationShards source = ActivationShards.open(activations);
        ComputeBackend be = ComputeBackends.select(backend).create()) {
      Normalisation norm = Normalisation.estimate(Normalisation.Kind.SCALE, source, 4096, seed, 200_000);
      SourceTrainingData data = new SourceTrainingData(source, norm, seed);
      boolean resume = Files.isRegularFile(checkpoint);
      try (CrosscoderTrainer trainer = resume
              ? CrosscoderTrainer.resume(be.kernels(), config, data, checkpoint)
              : CrosscoderTrainer.start(be.kernels(), config, data);
          JsonLinesMetricsWriter jsonl = JsonLinesMetricsWriter.open(metricsFile, resume);
          ProgressBarListener bar = noProgress ? null : ProgressBarListener.forTerminal()) {
        err.println("crosscoder: " + (resume ? "resuming from step " + trainer.step() + " of " : "training ")
            + config.sparsity() + " crosscoder, d = " + data.d() + ", F = " + dictSize + ", " + steps + " steps of "
            + batch + " tokens on " + be.description());
        ProgressListener listener = bar == null ? jsonl : jsonl.andThen(bar);
        trainer.run(steps, listener, checkpoint, checkpointEvery);
        CrosscoderFiles.save(out, trainer.weights().crosscoder(norm));
      }
    }
    Files.deleteIfExists(checkpoint);
    err.println("crosscoder: wrote " + out + " (metrics in " + metricsFile + ")");
    return 0;
  }
}
