package io.crosscoder.cli;

import io.crosscoder.CrosscoderException;
import io.crosscoder.report.Report;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.report.html.HtmlPage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;

/**
 * The HTML page's charts beside a Markdown report written to a file: SVG files in {@code
 * STEM-charts/} (one per chart, numbered in page order) and a section at the end of the Markdown
 * that shows them as images, so a Markdown viewer shows the same charts as the page.
 */
final class ChartFiles {
  private ChartFiles() {}

  /**
   * Writes the charts of {@code report}'s page beside {@code markdown} (already written) and appends
   * the images section to it; does nothing when the page has no charts.
   *
   * @return the number of charts written
   */
  static int writeBeside(Report report, Path markdown) {
    List<HtmlPage.Chart> charts = HtmlPage.charts(report.render(ReportFormat.HTML));
    if (charts.isEmpty()) {
      return 0;
    }
    String name = markdown.getFileName().toString();
    String stem = name.contains(".") ? name.substring(0, name.lastIndexOf('.')) : name;
    Path dir = markdown.toAbsolutePath().resolveSibling(stem + "-charts");
    StringBuilder md = new StringBuilder("\n## Charts\n\nThe charts of the HTML report (`--format html`), as SVG files in `")
        .append(dir.getFileName()).append("/`.\n\n");
    try {
      Files.createDirectories(dir);
      for (int i = 0; i < charts.size(); i++) {
        HtmlPage.Chart c = charts.get(i);
        String file = String.format(Locale.ROOT, "%02d-%s.svg", i + 1, slug(c.title()));
        Files.writeString(dir.resolve(file), c.svg(), StandardCharsets.UTF_8);
        md.append("![").append(c.title().replace("[", "(").replace("]", ")")).append("](")
            .append(dir.getFileName()).append('/').append(file).append(")\n\n");
      }
      Files.writeString(markdown, md, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new CrosscoderException("cannot write the charts to " + dir + ": " + e.getMessage(), e);
    }
    return charts.size();
  }

  private static String slug(String title) {
    String s = title.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("(^-|-$)", "");
    return s.length() > 60 ? s.substring(0, 60).replaceAll("-$", "") : s;
  }
}
