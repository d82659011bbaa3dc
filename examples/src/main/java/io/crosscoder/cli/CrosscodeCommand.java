package io.crosscoder.cli;

import io.crosscoder.InvalidInputException;
import io.crosscoder.report.CompositeReport;
import io.crosscoder.report.ReportFormat;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code crosscoder crosscode BASE TARGET}: the whole model diff in one run (see {@link
 * Crosscode}): harvest, output diffs for decoders, crosscoder training and analysis with readable
 * latents, weight diff, one report.
 */
@Command(name = "crosscode", mixinStandardHelpOptions = true, sortOptions = false,
    description = "The whole model diff in one run: harvests both models' residual streams on a corpus (every"
        + " 10th document held out), compares their next-token predictions (decoders), trains a crosscoder,"
        + " analyses it on the held-out text with each class's strongest latents and their contexts, diffs the"
        + " weights, and writes one report (OUT/report.md, and to stdout). Rerunning resumes or reuses every stage.")
final class CrosscodeCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "BASE", description = "The base model (bundled name, .onnx file or decoder folder).")
  String base;

  @Parameters(index = "1", paramLabel = "TARGET", description = "The model derived from it.")
  String target;

  @Mixin HarvestOptions harvest;

  @Option(names = "--held-out-every", paramLabel = "N", defaultValue = "10",
      description = "Hold out every N-th document for the analysis; default ${DEFAULT-VALUE}.")
  int heldOutEvery;

  @Option(names = "--dict-size", paramLabel = "F",
      description = "Latents; default 8 d rounded up to a power of two (4096 for d = 384), at most one per 32"
          + " training tokens (a power of two, at least 256).")
  Integer dictSize;

  @Option(names = "--sparsity", paramLabel = "l1:LAMBDA|batchtopk:K", defaultValue = "batchtopk:32",
      description = "Sparsity; default ${DEFAULT-VALUE}.")
  String sparsity;

  @Option(names = "--steps", paramLabel = "N",
      description = "Training steps; default five passes over the training tokens, within [500, 20000].")
  Long steps;

  @Option(names = "--batch", paramLabel = "B", defaultValue = "1024", description = "Tokens per step; default ${DEFAULT-VALUE}.")
  int batch;

  @Option(names = "--lr", paramLabel = "LR", description = "Peak learning rate; default from the dictionary size and steps (see train --help).")
  Double lr;

  @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Seed of the training; default ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--out", paramLabel = "DIR", defaultValue = "crosscode-out",
      description = "Folder for the activations, the crosscoder and the report; default ${DEFAULT-VALUE}.")
  Path out;

  @Option(names = "--format", paramLabel = "md|json|html", defaultValue = "md", converter = FormatConverter.class,
      description = "Report on stdout and in OUT/report.FORMAT; default ${DEFAULT-VALUE}; html is one"
          + " self-contained page with charts.")
  ReportFormat format;

  @Option(names = "--backend", paramLabel = "NAME",
      description = "Compute backend (cpu, cuda); default: CROSSCODER_BACKEND, else the best available.")
  String backend;

  @Option(names = "--no-progress", description = "No progress bars.")
  boolean noProgress;

  @Override
  public Integer call() {
    if (format == ReportFormat.CSV) {
      throw new InvalidInputException(null, null, "--format csv: the model diff has several tables; use md, json or html"
          + " (each part's CSV comes from 'diff' and 'analyze')");
    }
    if (heldOutEvery < 2) {
      throw new InvalidInputException(null, null, "--held-out-every must be at least 2, got " + heldOutEvery);
    }
    PrintWriter err = spec.commandLine().getErr();
    Crosscode.Settings s = new Crosscode.Settings();
    s.base = base;
    s.target = target;
    s.harvest = harvest;
    s.heldOutEvery = heldOutEvery;
    s.dictSize = dictSize;
    s.sparsity = sparsity;
    s.steps = steps;
    s.batch = batch;
    s.lr = lr;
    s.seed = seed;
    s.backend = backend;
    s.out = out;
    s.progress = !noProgress;
    CompositeReport report = Crosscode.run(s, err);
    Path file = out.resolve("report." + format.extension());
    report.write(file, format);
    if (format == ReportFormat.MARKDOWN) {
      ChartFiles.writeBeside(report, file);
    }
    PrintWriter stdout = spec.commandLine().getOut();
    stdout.print(report.render(format));
    stdout.flush();
    err.println("crosscoder: wrote " + file);
    return 0;
  }
}
