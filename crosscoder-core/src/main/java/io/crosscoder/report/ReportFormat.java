package io.crosscoder.report;

import java.io.IOException;
import java.io.Writer;
import java.util.Locale;
import java.util.Optional;

/** The formats a {@link DiffReport} renders to. */
public enum ReportFormat {
  /** A readable note with findings and tables. */
  MARKDOWN("md") {
    @Override
    void write(DiffReport r, Writer w) throws IOException {
      new MarkdownReport(r).write(w);
    }
  },
  /** Everything, machine-readable, schema {@value DiffReport#JSON_SCHEMA}. */
  JSON("json") {
    @Override
    void write(DiffReport r, Writer w) throws IOException {
      JsonReport.write(r, w);
    }
  },
  /** One row per tensor pair. */
  CSV("csv") {
    @Override
    void write(DiffReport r, Writer w) throws IOException {
      CsvReport.write(r, w);
    }
  },
  /**
   * One self-contained page: the Markdown note's text and tables with charts (inline SVG), that
   * opens offline and asks nothing of any host (see {@link io.crosscoder.report.html.HtmlPage}).
   */
  HTML("html") {
    @Override
    void write(DiffReport r, Writer w) throws IOException {
      w.write(new DiffReportHtml(r).page());
      w.flush();
    }
  };

  private final String extension;

  ReportFormat(String extension) {
    this.extension = extension;
  }

  /**
   * Usual file extension, without the dot.
   *
   * @return the extension, without the dot
   */
  public String extension() {
    return extension;
  }

  abstract void write(DiffReport report, Writer out) throws IOException;

  /**
   * {@return the format for {@code md}, {@code markdown}, {@code json}, {@code csv} or {@code html} (any case)}
   *
   * @param s the name
   */
  public static Optional<ReportFormat> parse(String s) {
    String v = s.trim().toLowerCase(Locale.ROOT);
    for (ReportFormat f : values()) {
      if (f.extension.equals(v) || f.name().toLowerCase(Locale.ROOT).equals(v)) {
        return Optional.of(f);
      }
    }
    return Optional.empty();
  }
}
