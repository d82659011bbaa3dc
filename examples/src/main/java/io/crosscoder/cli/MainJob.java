package io.crosscoder.cli;

import io.crosscoder.io.models.BundledModel;
import io.crosscoder.report.CompositeReport;
import io.crosscoder.report.ReportFormat;
import java.io.PrintWriter;
import java.nio.file.Path;

/**
 * The main job that {@code crosscoder} runs without arguments: the whole model diff of BAAI's
 * bge-small-en v1 against v1.5 (a real base and its further-trained successor, shipped on Maven
 * Central): a crosscoder at {@code resid_post 6} trained on {@value #TOKENS} tokens of the bundled
 * English Europarl text and analysed on held-out documents, with the weight diff, in one report on
 * stdout (Markdown unless {@code --format} says otherwise; the page with charts is always written
 * beside it as {@code report.html}). Its files stay in {@code ${java.io.tmpdir}/crosscoder-default}, so a second run
 * reuses them.
 */
final class MainJob {
  /** Training tokens of the default job. */
  static final long TOKENS = 60_000;
  /** The block whose output the default job reads. */
  static final int LAYER = 6;

  int run(PrintWriter out, PrintWriter err) {
    return run(out, err, ReportFormat.MARKDOWN);
  }

  /**
   * Runs the job and prints the report in {@code format} (md, json or html); the job's folder gets
   * {@code report.md} and {@code report.html} whatever the format, and {@code report.json} when asked.
   */
  int run(PrintWriter out, PrintWriter err, ReportFormat format) {
    if (format == ReportFormat.CSV) {
      throw new io.crosscoder.InvalidInputException(null, null, "--format csv: the model diff has several tables;"
          + " use md, json or html");
    }
    BundledModel base = BundledModel.BGE_SMALL_EN;
    BundledModel target = BundledModel.BGE_SMALL_EN_V15;
    err.println("crosscoder: the whole model diff of " + base.name() + " -> " + target.name()
        + " (real models from Maven Central; 'crosscoder --help' for more)");
    Crosscode.Settings s = new Crosscode.Settings();
    s.base = base.name();
    s.target = target.name();
    s.harvest.layer = LAYER;
    s.harvest.tokens = TOKENS;
    s.out = Path.of(System.getProperty("java.io.tmpdir"), "crosscoder-default");
    CompositeReport report = Crosscode.run(s, err);
    report.write(s.out.resolve("report.md"), ReportFormat.MARKDOWN);
    ChartFiles.writeBeside(report, s.out.resolve("report.md"));
    report.write(s.out.resolve("report.html"), ReportFormat.HTML);
    if (format == ReportFormat.JSON) {
      report.write(s.out.resolve("report.json"), ReportFormat.JSON);
    }
    out.print(report.render(format));
    out.flush();
    err.println("crosscoder: the report, the activations and the crosscoder are in " + s.out);
    return 0;
  }
}
