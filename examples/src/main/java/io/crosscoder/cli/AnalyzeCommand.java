package io.crosscoder.cli;

import io.crosscoder.InvalidInputException;
import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.analysis.ClassThresholds;
import io.crosscoder.crosscoder.analysis.CrosscoderReport;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.io.activations.ActivationShards;
import io.crosscoder.io.activations.ActivationStore;
import io.crosscoder.io.activations.StoreAnalysis;
import io.crosscoder.progress.ProgressListener;
import io.crosscoder.io.crosscoder.CrosscoderFiles;
import io.crosscoder.output.OutputFiles;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.crosscoder.train.TrainingMetricsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code crosscoder analyze CC.safetensors}: relative decoder norms, latent classes, decoder
 * cosines, histograms, and with activations explained variance, L0, dead latents and latent
 * scaling of the target-only latents; on an activation store from {@code harvest}, also the
 * strongest latents of each class with their contexts ({@link StoreAnalysis}).
 */
@Command(name = "analyze", mixinStandardHelpOptions = true,
    description = "Analyses a crosscoder (ours, or the ckkissane / dictionary_learning layouts):"
        + " relative decoder norms and classes, decoder cosines; with --activations, explained variance,"
        + " L0, dead latents and latent scaling (nu_rec, nu_err) of the target-only latents.")
final class AnalyzeCommand implements Callable<Integer> {
  /** Steps of the training curves, at most. */
  static final int TRAINING_POINTS = 1000;

  @Spec CommandSpec spec;

  @Parameters(paramLabel = "CC", description = "Crosscoder file (.safetensors).")
  Path file;

  @Option(names = "--activations", paramLabel = "DIR",
      description = "Held-out paired activations: a folder from 'harvest' (then the report shows each class's"
          + " strongest latents with their contexts), of .safetensors shards (base, target) or of .npy pairs;"
          + " default: none (the decoder-only analysis).")
  Path activations;

  @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "1000000",
      description = "Tokens of activations to evaluate on (default: ${DEFAULT-VALUE}).")
  long maxTokens;

  @Option(names = "--format", paramLabel = "md|json|csv|html", defaultValue = "md", converter = FormatConverter.class,
      description = "Report format; default ${DEFAULT-VALUE}; html is one self-contained page with charts.")
  ReportFormat format;

  @Option(names = "--metrics", paramLabel = "FILE.jsonl", description = "Training metrics, drawn as training curves in"
      + " the html report; default CC.metrics.jsonl beside the crosscoder when it exists (what 'train' writes).")
  Path metrics;

  @Option(names = "--out", paramLabel = "FILE", description = "Write the report here; default: stdout.")
  Path out;

  @Override
  public Integer call() {
    if (out != null) {
      Map<String, Path> inputs = new java.util.HashMap<>();
      inputs.put("CC", file);
      inputs.put("--activations", activations);
      OutputFiles.requireDistinct(Map.of("--out", out), inputs);
      OutputFiles.checkTarget(out);
    }
    Crosscoder coder = CrosscoderFiles.load(file);
    String label = file.getFileName().toString();
    CrosscoderReport report;
    if (activations == null) {
      report = CrosscoderReport.of(label, coder, ClassThresholds.defaults(), null);
    } else if (java.nio.file.Files.isRegularFile(activations.resolve(ActivationStore.MANIFEST))) {
      // A store from 'harvest' knows every row's token and context: the report shows what the latents read.
      try (ActivationStore store = ActivationStore.open(activations);
          var backend = ComputeBackends.select(null).create()) {
        report = StoreAnalysis.analyze(label, coder, store, backend.kernels(), maxTokens, ProgressListener.NONE);
      }
    } else {
      try (ActivationShards source = ActivationShards.open(activations)) {
        if (source.d() != coder.d()) {
          throw new InvalidInputException(activations, null,
              "activations have d = " + source.d() + " but the crosscoder " + label + " has d = " + coder.d());
        }
        report = CrosscoderReport.of(label, coder, source, maxTokens);
      }
    }
    Path metricsFile = metrics != null ? metrics : file.resolveSibling(file.getFileName() + ".metrics.jsonl");
    if (metrics != null || Files.isRegularFile(metricsFile)) {
      report = report.withTraining(TrainingMetricsFile.read(metricsFile, TRAINING_POINTS));
    }
    if (out == null) {
      spec.commandLine().getOut().print(report.render(format));
      spec.commandLine().getOut().flush();
    } else {
      report.write(out, format);
      if (format == ReportFormat.MARKDOWN) {
        ChartFiles.writeBeside(report, out);
      }
      spec.commandLine().getErr().println("crosscoder: wrote the " + format.extension() + " report to " + out);
    }
    return 0;
  }
}
