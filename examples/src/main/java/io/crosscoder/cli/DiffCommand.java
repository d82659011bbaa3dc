package io.crosscoder.cli;

import io.crosscoder.io.models.BundledModel;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.ReportFormat;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

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

  @Option(names = "--format", paramLabel = "md|json|csv", defaultValue = "md",
      converter = FormatConverter.class, description = "Report format (default: ${DEFAULT-VALUE}).")
  ReportFormat format;

  @Option(names = "--out", paramLabel = "FILE", description = "Write the report here (atomically) instead of stdout.")
  Path out;

  @Option(names = "--params", paramLabel = "REGEX", description = "Compare only tensors whose name contains a match.")
  String params;

  @Option(names = "--backend", paramLabel = "NAME",
      description = "Compute backend (cpu, cuda); default: \\$CROSSCODER_BACKEND, else the best available.")
  String backend;

  @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
  Integer threads;

  @Option(names = "--no-progress", description = "No progress bar on stderr.")
  boolean noProgress;

  @Override
  public Integer call() {
    DiffReport report = Diffs.run(BundledModel.resolve(base), BundledModel.resolve(target), params, backend, threads, !noProgress);
    Diffs.emit(report, format, out, spec.commandLine().getOut(), spec.commandLine().getErr());
    return 0;
  }
}
