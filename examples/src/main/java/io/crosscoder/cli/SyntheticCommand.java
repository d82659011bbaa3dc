package io.crosscoder.cli;

import io.crosscoder.io.synthetic.SyntheticPair;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.tensor.DType;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code crosscoder synthetic}: the diff of a generated Qwen2-shaped pair with a planted change. */
@Command(name = "synthetic", mixinStandardHelpOptions = true,
    description = "Generates a Qwen2-shaped base and a copy with a planted change (late layers move most,"
        + " embedding rows 100-109 redrawn, norms untouched) and diffs them: a check with known answers.")
final class SyntheticCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--folder", paramLabel = "DIR", description = "Where to write the pair (default: a temporary folder).")
  Path folder;

  @Option(names = "--shape", paramLabel = "tiny|1.5b", defaultValue = "tiny",
      description = "tiny (12 layers, hidden 256) or 1.5b (Qwen2-1.5B, 2 x 3.1 GB in bf16); default ${DEFAULT-VALUE}.")
  String shape;

  @Option(names = "--format", paramLabel = "md|json|csv", defaultValue = "md", converter = FormatConverter.class,
      description = "Report format; default ${DEFAULT-VALUE}.")
  ReportFormat format;

  @Option(names = "--out", paramLabel = "FILE", description = "Write the report here; default: stdout.")
  Path out;

  @Override
  public Integer call() {
    SyntheticPair.Shape s = switch (shape) {
      case "tiny" -> SyntheticPair.TINY;
      case "1.5b" -> SyntheticPair.QWEN2_1_5B;
      default -> throw new IllegalArgumentException("unknown shape '" + shape + "': use tiny or 1.5b");
    };
    DType dtype = s == SyntheticPair.TINY ? DType.F32 : DType.BF16;
    Path dir = folder != null ? folder : Path.of(System.getProperty("java.io.tmpdir"), "crosscoder-synthetic-" + shape);
    SyntheticPair.Pair pair = SyntheticPair.write(dir, s, dtype, 1);
    DiffReport report = Diffs.run(pair.base(), pair.target(), null, null, null, true);
    Diffs.emit(report, format, out, spec.commandLine().getOut(), spec.commandLine().getErr());
    return 0;
  }
}
