package io.crosscoder.cli;

import io.crosscoder.io.models.BundledModel;
import io.crosscoder.output.OutputFiles;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.spectral.SpectralOptions;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code crosscoder diff BASE TARGET}: the weight-space comparison of two checkpoints. */
@Command(name = "diff", mixinStandardHelpOptions = true,
    description = "Compares two checkpoints in weight space, per tensor, layer, kind and band.")
final class DiffCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "BASE",
      description = "The base: a .safetensors, .onnx or .gguf file, a Hugging Face model folder (sharded too),"
          + " or the name of a bundled model (see 'crosscoder models').")
  String base;

  @Parameters(index = "1", paramLabel = "TARGET", description = "The fine-tuned or distilled model, same forms,"
      + " or a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors): BASE against BASE + adapter,"
      + " merged on read.")
  String target;

  @Option(names = "--format", paramLabel = "md|json|csv|html", defaultValue = "md",
      converter = FormatConverter.class, description = "Report format (default: ${DEFAULT-VALUE}); html is one"
          + " self-contained page with charts.")
  ReportFormat format;

  @Option(names = "--out", paramLabel = "FILE", description = "Write the report here (atomically); default: stdout.")
  Path out;

  @Option(names = "--params", paramLabel = "REGEX", description = "Compare only tensors whose name contains a match; default: every tensor.")
  String params;

  @Option(names = "--backend", paramLabel = "NAME",
      description = "Compute backend (cpu, cuda); default: CROSSCODER_BACKEND, else the best available.")
  String backend;

  @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
  Integer threads;

  @Option(names = "--no-progress", description = "No progress bar on stderr.")
  boolean noProgress;

  @Option(names = "--spectral", description = "Also the spectral structure of every matrix's change: sigma_max,"
      + " stable rank and energy rank of B - A, overlap of the top singular subspaces of A and B (randomised SVD).")
  boolean spectral;

  @Option(names = "--spectral-rank", paramLabel = "K", description = "Top directions compared, and the rank called"
      + " low (default: 16; the sketch has K + 16 columns).")
  Integer spectralRank;

  @Option(names = "--spectral-eps", paramLabel = "EPS", description = "Energy rank: the smallest r holding 1 - EPS of"
      + " |B - A|_F^2 (default: 0.1).")
  Double spectralEps;

  @Override
  public Integer call() {
    SpectralOptions options = null;
    if (spectral || spectralRank != null || spectralEps != null) {
      options = SpectralOptions.DEFAULTS;
      if (spectralRank != null) {
        options = options.withRank(spectralRank);
      }
      if (spectralEps != null) {
        options = options.withEnergyEpsilon(spectralEps);
      }
    }
    Path basePath = BundledModel.resolve(base);
    Path targetPath = BundledModel.resolve(target);
    if (out != null) {
      // Before the comparison: --out naming an input, a folder or a device is refused, nothing written.
      OutputFiles.requireDistinct(Map.of("--out", out), Map.of("BASE", basePath, "TARGET", targetPath));
      OutputFiles.checkTarget(out);
    }
    DiffReport report = Diffs.run(basePath, targetPath, params, backend, threads,
        !noProgress, options);
    Diffs.emit(report, format, out, spec.commandLine().getOut(), spec.commandLine().getErr());
    return 0;
  }
}
