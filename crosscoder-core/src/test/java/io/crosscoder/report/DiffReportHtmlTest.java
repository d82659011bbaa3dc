package io.crosscoder.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.ModelDiffer;
import io.crosscoder.report.html.HtmlPage;
import io.crosscoder.tensor.DType;
import io.crosscoder.testing.InMemoryCheckpoint;
import io.crosscoder.testing.ReferenceBackend;
import java.util.List;
import java.util.Random;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.jsoup.select.Elements;
import org.junit.jupiter.api.Test;

/**
 * The weight diff's HTML page, read back with an HTML parser: the verdict comes first, every chart
 * is there, the per-layer numbers under the charts equal |B - A| / |A| and cos(A, B) computed here
 * in f64 from the planted arrays, names from the input are text, never markup, and nothing on the
 * page points outside it.
 */
class DiffReportHtmlTest {
  static final int LAYERS = 6;
  static final int N = 64;
  static final String[] KINDS = {"self_attn.q_proj.weight", "mlp.up_proj.weight"};

  /**
   * Base N(0, 1); target: base plus noise growing with depth (related), or independent 3 N(0, 1)
   * (unrelated). Returns per layer and kind {|B - A|^2, |A|^2, A.B, |B|^2}.
   */
  static double[][][] fill(InMemoryCheckpoint b, InMemoryCheckpoint t, boolean related, String embedName) {
    Random rnd = new Random(11);
    double[][][] sums = new double[LAYERS][KINDS.length][4];
    for (int l = 0; l < LAYERS; l++) {
      for (int k = 0; k < KINDS.length; k++) {
        float[] x = new float[N * N];
        float[] y = new float[N * N];
        for (int i = 0; i < x.length; i++) {
          x[i] = (float) rnd.nextGaussian();
          y[i] = related ? (float) (x[i] + 0.01 * (l + 1) * (k + 1) * rnd.nextGaussian()) : (float) (3 * rnd.nextGaussian());
          double d = (double) y[i] - x[i];
          sums[l][k][0] += d * d;
          sums[l][k][1] += (double) x[i] * x[i];
          sums[l][k][2] += (double) x[i] * y[i];
          sums[l][k][3] += (double) y[i] * y[i];
        }
        b.add("model.layers." + l + "." + KINDS[k], DType.F32, new long[] {N, N}, x);
        t.add("model.layers." + l + "." + KINDS[k], DType.F32, new long[] {N, N}, y);
      }
    }
    float[] e = new float[100 * N];
    float[] f = new float[100 * N];
    for (int i = 0; i < e.length; i++) {
      e[i] = (float) rnd.nextGaussian();
      // Token rows 7 and 42 are replaced outright; the rest barely move.
      int row = i / N;
      f[i] = row == 7 || row == 42 ? (float) rnd.nextGaussian() : (float) (e[i] + 0.01 * rnd.nextGaussian());
    }
    b.add(embedName, DType.F32, new long[] {100, N}, e);
    t.add(embedName, DType.F32, new long[] {100, N}, f);
    return sums;
  }

  static DiffReport report(boolean related, String embedName, double[][][][] sumsOut) throws Exception {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      double[][][] sums = fill(b, t, related, embedName);
      if (sumsOut != null) {
        sumsOut[0] = sums;
      }
      return ModelDiffer.builder().backend(new ReferenceBackend()).build().compare(b, t);
    }
  }

  @Test
  void aFineTunesPageShowsTheVerdictFirstAndChartsWhoseNumbersAreTheF64Oracle() throws Exception {
    double[][][][] sums = new double[1][][][];
    DiffReport r = report(true, "model.embed_tokens.weight", sums);
    assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.DERIVED);
    String html = r.render(ReportFormat.HTML);
    Document doc = Jsoup.parse(html);

    // The verdict is the first thing under the title, before any chart.
    Element verdict = doc.selectFirst("div.verdict");
    assertThat(verdict).isNotNull();
    assertThat(verdict.hasClass("derived")).isTrue();
    assertThat(verdict.text()).contains("descends from the base");
    assertThat(html.indexOf("class=\"verdict")).isLessThan(html.indexOf("<svg"));

    // Charts: bands, cosine per layer, relative change per layer, the layer x kind heat map, and the rows of
    // three matrices (every matrix has row statistics here): the embedding first.
    Elements figures = doc.select("figure");
    assertThat(figures).hasSize(4 + DiffReportHtml.ROW_CHARTS);
    assertThat(doc.select("figure > svg")).hasSize(4 + DiffReportHtml.ROW_CHARTS);
    assertThat(doc.select("svg").text()).contains("Relative change by layer and parameter kind",
        "Lowest row cosines of model.embed_tokens.weight", "mlp.up_proj.weight");

    // The numbers under the per-layer charts, against the planted arrays in f64.
    Element cosFig = figures.stream().filter(f -> f.select("svg").text().contains("Cosine per layer")).findFirst()
        .orElseThrow();
    Element relFig = figures.stream().filter(f -> f.select("svg").text().contains("Relative change |B - A| / |A|"
        + " per layer")).findFirst().orElseThrow();
    for (int k = 0; k < KINDS.length; k++) {
      int col = columnOf(relFig, KINDS[k]);
      for (int l = 0; l < LAYERS; l++) {
        double[] s = sums[0][l][k];
        double rel = Math.sqrt(s[0] / s[1]);
        double cos = s[2] / Math.sqrt(s[1] * s[3]);
        assertThat(cell(relFig, l, col)).isCloseTo(rel, within(1e-5 * rel));
        assertThat(cell(cosFig, l, columnOf(cosFig, KINDS[k]))).isCloseTo(cos, within(1e-6));
      }
    }
    // "all kinds" pools both kinds of a layer into one vector.
    int all = columnOf(relFig, "all kinds");
    for (int l = 0; l < LAYERS; l++) {
      double num = sums[0][l][0][0] + sums[0][l][1][0];
      double den = sums[0][l][0][1] + sums[0][l][1][1];
      assertThat(cell(relFig, l, all)).isCloseTo(Math.sqrt(num / den), within(1e-5 * Math.sqrt(num / den)));
    }

    // The replaced token rows 7 and 42 are the two lowest, labelled by their ids.
    Element rowsFig = figures.stream().filter(f -> f.select("svg").text().contains("Lowest row cosines")).findFirst()
        .orElseThrow();
    assertThat(rowsFig.select("details tbody tr").stream().limit(2).map(tr -> tr.child(0).text()))
        .containsExactlyInAnyOrder("7", "42");
    assertThat(rowsFig.select("svg").text()).contains("token 7", "token 42");
    assertThat(rowsFig.select("figcaption").text()).contains("2 of 100 rows have cosine below 0.9");

    // The Markdown's tables are on the page, as tables.
    assertThat(doc.select("h2").eachText()).contains("Findings", "By band", "By layer", "By parameter kind",
        "Every tensor", "Metrics");
    assertThat(doc.select("table").size()).isGreaterThan(8);
    selfContained(doc, html);
  }

  @Test
  void unrelatedModelsAreSaidToBeUnrelatedBeforeAnyChart() throws Exception {
    DiffReport r = report(false, "model.embed_tokens.weight", null);
    assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.UNRELATED);
    String html = r.render(ReportFormat.HTML);
    Document doc = Jsoup.parse(html);
    Element verdict = doc.selectFirst("div.verdict");
    assertThat(verdict.hasClass("unrelated")).isTrue();
    assertThat(verdict.text()).contains("these models are unrelated", "not a fine-tune of this base",
        "The charts and tables below are not a change");
    int firstChart = html.indexOf("<svg");
    assertThat(firstChart).isPositive();
    assertThat(html.indexOf("these models are unrelated")).isLessThan(firstChart);
    selfContained(doc, html);
  }

  @Test
  void namesFromTheInputAreTextNotMarkup() throws Exception {
    String hostile = "<script>alert(1)</script><img src=http://x.invalid/a.png>.weight";
    DiffReport r = report(true, hostile, null);
    String html = r.render(ReportFormat.HTML);
    Document doc = Jsoup.parse(html);
    // Only the page's own script, and no image at all.
    assertThat(doc.select("script")).hasSize(1);
    assertThat(doc.select("script").first().data()).doesNotContain("alert");
    assertThat(doc.select("img")).isEmpty();
    assertThat(doc.text()).contains(hostile);
    selfContained(doc, html);
  }

  /** The policy forbids every fetch, and no attribute or style names a URL other than a fragment or data. */
  static void selfContained(Document doc, String html) {
    Element csp = doc.selectFirst("meta[http-equiv=Content-Security-Policy]");
    assertThat(csp).isNotNull();
    assertThat(csp.attr("content")).startsWith("default-src 'none';").isEqualTo(HtmlPage.policy());
    for (Element e : doc.getAllElements()) {
      for (var a : e.attributes()) {
        if (List.of("src", "href", "xlink:href", "action", "poster", "data").contains(a.getKey().toLowerCase())) {
          assertThat(a.getValue()).as(a.getKey() + " of <" + e.tagName() + ">").matches("(#.*|data:.*)?");
        }
      }
    }
    assertThat(html).doesNotContainPattern("url\\(\\s*['\"]?(?!#|data:)").doesNotContain("@import");
  }

  private static int columnOf(Element figure, String header) {
    List<String> heads = figure.select("details thead th").eachText();
    int i = heads.indexOf(header);
    assertThat(i).as("column " + header + " in " + heads).isNotNegative();
    return i;
  }

  private static double cell(Element figure, int row, int col) {
    return Double.parseDouble(figure.select("details tbody tr").get(row).child(col).text());
  }
}
