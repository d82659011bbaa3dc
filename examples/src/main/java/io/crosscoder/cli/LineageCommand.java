package io.crosscoder.cli;

import io.crosscoder.io.models.BundledModel;
import io.crosscoder.lineage.LineageFinder;
import io.crosscoder.lineage.LineageRanking;
import io.crosscoder.output.OutputFiles;
import io.crosscoder.report.ReportFormat;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code crosscoder lineage TARGET CANDIDATE...}: which of the candidates the target was trained
 * from, ranked from a sample of rows of every matrix and confirmed with a full pass over the best.
 */
@Command(name = "lineage", mixinStandardHelpOptions = true,
    description = "Ranks candidate bases of TARGET by how much of its weights each one explains (a sample of"
        + " rows per matrix), then confirms the best with a full weight diff.")
final class LineageCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "TARGET", description = "The model whose base is sought (same forms as diff).")
  String target;

  @Parameters(index = "1..*", arity = "1..*", paramLabel = "CANDIDATE", description = "Candidate bases.")
  List<String> candidates;

  @Option(names = "--sample-rows", paramLabel = "N", defaultValue = "" + LineageFinder.DEFAULT_SAMPLE_ROWS,
      description = "Rows read per matrix when ranking (default: ${DEFAULT-VALUE}).")
  int sampleRows;

  @Option(names = "--seed", paramLabel = "N", defaultValue = "" + LineageFinder.DEFAULT_SEED,
      description = "Seed of the row sample (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--no-confirm", description = "Skip the full pass over the best candidate.")
  boolean noConfirm;

  @Option(names = "--format", paramLabel = "md|json|csv", defaultValue = "md",
      converter = FormatConverter.class, description = "Report format (default: ${DEFAULT-VALUE}).")
  ReportFormat format;

  @Option(names = "--out", paramLabel = "FILE", description = "Write the report here (atomically); default: stdout.")
  Path out;

  @Option(names = "--params", paramLabel = "REGEX", description = "Use only tensors whose name contains a match; default: every tensor.")
  String params;

  @Option(names = "--backend", paramLabel = "NAME", description = "Compute backend (cpu, cuda); default: CROSSCODER_BACKEND, else the best available.")
  String backend;

  @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
  Integer threads;

  @Option(names = "--no-progress", description = "No progress bar on stderr for the full pass.")
  boolean noProgress;

  @Override
  public Integer call() {
    LineageFinder.Builder b = LineageFinder.builder().sampleRows(sampleRows).seed(seed).confirm(!noConfirm);
    if (params != null) {
      b.parameters(params);
    }
    if (backend != null) {
      b.backend(backend);
    }
    if (threads != null) {
      b.threads(threads);
    }
    List<Path> paths = candidates.stream().map(BundledModel::resolve).toList();
    if (out != null) {
      Map<String, Path> inputs = new java.util.LinkedHashMap<>();
      inputs.put("TARGET", BundledModel.resolve(target));
      for (int i = 0; i < paths.size(); i++) {
        inputs.put("CANDIDATE " + candidates.get(i), paths.get(i));
      }
      OutputFiles.requireDistinct(Map.of("--out", out), inputs);
      OutputFiles.checkTarget(out);
    }
    LineageRanking ranking;
    try (ProgressBarListener bar = noProgress ? null : ProgressBarListener.forTerminal()) {
      if (bar != null) {
        // Sampling takes seconds; only the full pass gets a bar (one bar, one unit).
        b.progress(e -> {
          if (e.task().equals("diff")) {
            bar.onProgress(e);
          }
        });
      }
      ranking = b.build().rank(BundledModel.resolve(target), paths);
    }
    if (out == null) {
      spec.commandLine().getOut().print(ranking.render(format));
      spec.commandLine().getOut().flush();
    } else {
      ranking.write(out, format);
      spec.commandLine().getErr().println("crosscoder: wrote the " + format.extension() + " report to " + out);
    }
    return 0;
  }
}
