package io.crosscoder.report;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.crosscoder.analysis.CrosscoderReport;
import io.crosscoder.crosscoder.analysis.SampleCrosscoders;
import io.crosscoder.crosscoder.train.TrainingMetricsFile;
import io.crosscoder.testing.HeadlessChromium;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind of HTML page opened in headless Chromium: each chart of the file is an SVG in the
 * browser's DOM, the page's script ran under its own Content-Security-Policy (it builds the latent
 * table's controls), the browser's network log shows no request from the page, and a screenshot
 * is a real picture. A control page that does load a remote image shows the network check can
 * fail.
 */
class HtmlReportsInChromiumTest {
  @TempDir static Path dir;
  static HeadlessChromium chromium;

  @BeforeAll
  static void browser() {
    chromium = HeadlessChromium.require();
  }

  private static final Pattern SVG = Pattern.compile("<svg[ >]");

  static Map<String, Path> pages() throws Exception {
    Map<String, Path> out = new LinkedHashMap<>();
    DiffReport related = DiffReportHtmlTest.report(true, "model.embed_tokens.weight", null);
    DiffReport unrelated = DiffReportHtmlTest.report(false, "model.embed_tokens.weight", null);
    Path metrics = dir.resolve("cc.metrics.jsonl");
    SampleCrosscoders.writeMetrics(metrics, 500);
    CrosscoderReport cc = SampleCrosscoders.analysis(SampleCrosscoders.random(8, 600, 4), 3, "quoted <i>text</i>")
        .withTraining(TrainingMetricsFile.read(metrics, 1000));
    Map<String, Report> parts = new LinkedHashMap<>();
    parts.put("crosscoder", cc);
    parts.put("notes", (w, f) -> w.write(f == ReportFormat.MARKDOWN ? "# Notes\n\n| a | b |\n|---|---|\n| 1 | 2 |\n" : ""));
    parts.put("weight_diff", related);
    CompositeReport composite = CompositeReport.of("Model diff: base -> target", "A summary.", parts);
    Map<String, Report> reports = new LinkedHashMap<>();
    reports.put("diff", related);
    reports.put("unrelated", unrelated);
    reports.put("crosscoder", cc);
    reports.put("composite", composite);
    for (var e : reports.entrySet()) {
      Path p = dir.resolve(e.getKey() + ".html");
      e.getValue().write(p, ReportFormat.HTML);
      out.put(e.getKey(), p);
    }
    return out;
  }

  @Test
  void everyChartDrawsTheScriptRunsAndThePageAsksNothingOfTheNetwork() throws Exception {
    for (var e : pages().entrySet()) {
      String source = Files.readString(e.getValue());
      long charts = SVG.matcher(source).results().count();
      assertThat(charts).as(e.getKey() + " has charts").isGreaterThanOrEqualTo(4);
      HeadlessChromium.Load load = chromium.load(e.getValue(), dir);
      Document dom = Jsoup.parse(load.dom());
      assertThat(dom.select("svg")).as(e.getKey() + ": SVG elements in the browser's DOM").hasSize((int) charts);
      // Each chart drew something: shapes and text inside every svg.
      dom.select("svg").forEach(svg -> assertThat(svg.select("rect, path, line").size()).isGreaterThan(3));
      assertThat(dom.selectFirst("html").attr("data-script")).as(e.getKey() + ": the page's script ran").isEqualTo("ran");
      assertThat(load.pageRequests()).as(e.getKey() + ": requests the page made").isEmpty();
      int tableRows = dom.select("table.latents tbody tr").size();
      if (tableRows > 0) {
        assertThat(dom.select("select.class-filter option").eachText()).contains("all", "shared", "target_only");
        assertThat(dom.selectFirst(".shown-count").text()).isEqualTo(tableRows + " of " + tableRows + " rows shown");
      }
    }
  }

  @Test
  void theDiffPageScreenshotIsAPicture() throws Exception {
    Path page = pages().get("diff");
    Path png = chromium.screenshot(page, dir.resolve("diff.png"), 1200, 1600);
    BufferedImage img = ImageIO.read(png.toFile());
    assertThat(img).isNotNull();
    assertThat(img.getWidth()).isEqualTo(1200);
    assertThat(img.getHeight()).isEqualTo(1600);
    Set<Integer> colours = new HashSet<>();
    for (int y = 0; y < img.getHeight(); y += 7) {
      for (int x = 0; x < img.getWidth(); x += 7) {
        colours.add(img.getRGB(x, y));
      }
    }
    // Text, tables, the verdict box and charts: many colours, not a blank page.
    assertThat(colours.size()).isGreaterThan(50);
  }

  @Test
  void theNetworkCheckSeesARemoteImage() throws Exception {
    Path control = dir.resolve("control.html");
    Files.writeString(control, "<!DOCTYPE html><html><body><p>control</p><img src=\"http://example.invalid/x.png\">"
        + "</body></html>");
    HeadlessChromium.Load load = chromium.load(control, dir);
    assertThat(load.pageRequests()).contains("http://example.invalid/x.png");
  }
}
