package io.crosscoder.crosscoder.analysis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.InvalidInputException;
import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.train.TrainingMetrics;
import io.crosscoder.crosscoder.train.TrainingMetricsFile;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.report.html.HtmlPage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The crosscoder's HTML page, read back with an HTML parser: the histogram's counts and the
 * table's classes against r recomputed here in f64 from the decoder weights, the latent scaling
 * and training charts, contexts as text, and the sampling of a 100,000-latent dictionary.
 */
class CrosscoderReportHtmlTest {
  private static final int D = 8;

  /** r = |d^B| / (|d^A| + |d^B|) from the decoder weights, in f64; NaN when both are zero. */
  static double[] oracleR(Crosscoder c) {
    int f = c.dictionarySize();
    float[] w = c.decoderWeights();
    double[] r = new double[f];
    for (int i = 0; i < f; i++) {
      double a = 0;
      double b = 0;
      for (int j = 0; j < D; j++) {
        a += (double) w[i * 2 * D + j] * w[i * 2 * D + j];
        b += (double) w[i * 2 * D + D + j] * w[i * 2 * D + D + j];
      }
      r[i] = Math.sqrt(b) / (Math.sqrt(a) + Math.sqrt(b));
    }
    return r;
  }

  static String oracleClass(double r) {
    return r < 0.1 ? "base_only" : r > 0.9 ? "target_only" : r > 0.4 && r < 0.6 ? "shared" : "other";
  }

  @Test
  void histogramAndTableAgreeWithTheDecodersAndEveryChartIsThere(@TempDir Path dir) throws Exception {
    Crosscoder c = SampleCrosscoders.random(D, 400, 3);
    double[] r = oracleR(c);
    Path metrics = dir.resolve("cc.metrics.jsonl");
    SampleCrosscoders.writeMetrics(metrics, 300);
    CrosscoderReport report = SampleCrosscoders.analysis(c, 2, "<b>bold</b> & <script>x()</script>")
        .withTraining(TrainingMetricsFile.read(metrics, 1000));
    String html = report.render(ReportFormat.HTML);
    Document doc = Jsoup.parse(html);

    // The histogram of r: 50 bins over [0, 1], the last closed, counted here.
    long[] expected = new long[CrosscoderReportHtml.PAGE_NORM_BINS];
    for (double v : r) {
      expected[Math.min(expected.length - 1, (int) Math.floor(v * expected.length))]++;
    }
    Element hist = figureWith(doc, "Relative decoder norm r");
    List<Element> rows = hist.select("details tbody tr");
    assertThat(rows).hasSize(expected.length);
    for (int k = 0; k < expected.length; k++) {
      assertThat(Long.parseLong(rows.get(k).child(1).text())).as("bin " + k).isEqualTo(expected[k]);
    }
    // Thresholds drawn, log axis labelled.
    assertThat(hist.select("svg").text()).contains("base-only < 0.1", "target-only > 0.9", "count (log scale)");

    // Every latent in the table (400 < the cap), with the class of its r.
    List<Element> trs = doc.select("table.latents tbody tr");
    assertThat(trs).hasSize(400);
    for (Element tr : trs) {
      int i = Integer.parseInt(tr.child(0).text());
      assertThat(tr.attr("data-class")).as("latent " + i).isEqualTo(oracleClass(r[i]));
      assertThat(Double.parseDouble(tr.child(2).attr("data-v"))).isCloseTo(r[i],
          org.assertj.core.api.Assertions.within(1e-6));
    }
    // Cards' contexts are text in a details element; the markup in them is not markup.
    List<Element> withContexts = doc.select("table.latents td.ctx details");
    assertThat(withContexts).hasSize(report.cards().size());
    assertThat(withContexts.getFirst().text()).contains("<b>bold</b> & <script>x()</script>");
    assertThat(doc.select("script")).hasSize(1);
    assertThat(doc.select("table.latents b")).isEmpty();

    // Shared cosine histogram, latent scaling, four training curves.
    figureWith(doc, "Decoder cosine cos(d^A, d^B) of the shared latents");
    figureWith(doc, "Latent scaling of the target-only latents");
    for (String t : List.of("Loss and its parts", "Explained variance per model", "L0: active latents per token",
        "Dead latents")) {
      figureWith(doc, t);
    }
    assertThat(doc.select("figure > svg")).hasSize(7);
    // No text histogram left over from the Markdown.
    assertThat(doc.select("pre")).isEmpty();
    assertThat(doc.selectFirst("meta[http-equiv=Content-Security-Policy]").attr("content")).isEqualTo(HtmlPage.policy());
  }

  @Test
  void aHundredThousandLatentPageIsSampledAndSaysSo() {
    int f = 100_000;
    Crosscoder c = SampleCrosscoders.random(2, f, 9);
    CrosscoderReport report = SampleCrosscoders.analysis(c, 5, "x");
    String html = report.render(ReportFormat.HTML);
    Document doc = Jsoup.parse(html);
    List<Element> trs = doc.select("table.latents tbody tr");
    assertThat(trs).hasSize(CrosscoderReportHtml.MAX_ROWS);
    assertThat(doc.text()).contains("Sampled: 2,000 of 100,000 latents");
    // Every class in the sample, every card's latent in it.
    Map<String, Integer> perClass = new HashMap<>();
    trs.forEach(tr -> perClass.merge(tr.attr("data-class"), 1, Integer::sum));
    assertThat(perClass.keySet()).containsExactlyInAnyOrder("base_only", "target_only", "shared", "other");
    java.util.Set<String> shown = new java.util.HashSet<>(trs.stream().map(tr -> tr.child(0).text()).toList());
    report.cards().forEach(card -> assertThat(shown).contains(Integer.toString(card.latent())));
    // The histogram still counts every latent.
    long total = figureWith(doc, "Relative decoder norm r").select("details tbody tr").stream()
        .mapToLong(tr -> Long.parseLong(tr.child(1).text())).sum();
    assertThat(total).isEqualTo(f);
    // Latent scaling draws at most MAX_POINTS of the ~10,000 target-only latents.
    int targetOnly = report.classCounts().get(LatentClass.TARGET_ONLY);
    assertThat(targetOnly).isGreaterThan(CrosscoderReportHtml.MAX_POINTS);
    assertThat(figureWith(doc, "Latent scaling").select("figcaption").text())
        .contains(CrosscoderReportHtml.MAX_POINTS + " of " + targetOnly + " latents drawn");
    assertThat(html.length()).isLessThan(3_000_000);
  }

  @Test
  void metricsFileIsThinnedEvenlyWithTheEndsKept(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("m.jsonl");
    SampleCrosscoders.writeMetrics(file, 5000);
    List<TrainingMetrics> m = TrainingMetricsFile.read(file, 300);
    assertThat(m.size()).isBetween(150, 300);
    assertThat(m.getFirst().step()).isEqualTo(1);
    assertThat(m.getLast().step()).isEqualTo(5000);
    assertThat(m.getLast().totalSteps()).isEqualTo(5000);
    long gap = m.get(1).step() - m.get(0).step();
    assertThat(Long.bitCount(gap)).isEqualTo(1);
    for (int i = 1; i < m.size() - 1; i++) {
      assertThat(m.get(i).step() - m.get(i - 1).step()).isEqualTo(gap);
    }
    // Values as written: step s has l0 = 200 exp(-4 s / 5000) + 30.
    TrainingMetrics mid = m.get(m.size() / 2);
    assertThat(mid.l0()).isCloseTo(200 * Math.exp(-mid.step() / 5000.0 * 4) + 30,
        org.assertj.core.api.Assertions.within(1e-9));
    assertThat(mid.threshold()).isNaN();
  }

  @Test
  void aResumedRunsLinesReplaceTheStepsItRedid(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("resumed.jsonl");
    StringBuilder sb = new StringBuilder();
    for (int s = 1; s <= 150; s++) {
      sb.append("{\"step\":").append(s).append(",\"l0\":1}\n");
    }
    for (int s = 101; s <= 200; s++) {
      sb.append("{\"step\":").append(s).append(",\"l0\":2}\n");
    }
    Files.writeString(file, sb.toString());
    List<TrainingMetrics> m = TrainingMetricsFile.read(file, 1000);
    assertThat(m).hasSize(200);
    for (int i = 0; i < 200; i++) {
      assertThat(m.get(i).step()).isEqualTo(i + 1);
      assertThat(m.get(i).l0()).isEqualTo(i < 100 ? 1 : 2);
    }
  }

  @Test
  void badMetricsFilesNameTheFileTheLineAndTheField(@TempDir Path dir) throws Exception {
    Path notJson = dir.resolve("a.jsonl");
    Files.writeString(notJson, "{\"step\":1,\"l0\":3}\n{\"step\":2,\"l0\":\n");
    assertThatThrownBy(() -> TrainingMetricsFile.read(notJson, 10)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("a.jsonl").hasMessageContaining("line 2").hasMessageContaining("not JSON");
    Path badField = dir.resolve("b.jsonl");
    Files.writeString(badField, "{\"step\":1,\"l0\":\"many\"}\n");
    assertThatThrownBy(() -> TrainingMetricsFile.read(badField, 10)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("b.jsonl").hasMessageContaining("l0").hasMessageContaining("line 1");
    Path noStep = dir.resolve("d.jsonl");
    Files.writeString(noStep, "[1, 2]\n");
    assertThatThrownBy(() -> TrainingMetricsFile.read(noStep, 10)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("not a JSON object");
    Path longLine = dir.resolve("e.jsonl");
    Files.writeString(longLine, "{\"step\":1,\"x\":\"" + "a".repeat(TrainingMetricsFile.MAX_LINE) + "\"}\n");
    assertThatThrownBy(() -> TrainingMetricsFile.read(longLine, 10)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("longer than");
  }

  private static Element figureWith(Document doc, String title) {
    return doc.select("figure").stream().filter(f -> f.select("svg").text().contains(title)).findFirst()
        .orElseThrow(() -> new AssertionError("no chart titled " + title));
  }
}
