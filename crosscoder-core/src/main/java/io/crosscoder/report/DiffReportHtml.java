package io.crosscoder.report;

import io.crosscoder.align.LayerMapping;
import io.crosscoder.report.html.Charts;
import io.crosscoder.report.html.HtmlPage;
import io.crosscoder.report.html.MarkdownHtml;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * The weight diff as one HTML page: the lineage verdict first (and, for unrelated models, a
 * warning before any chart), then the Markdown note's sections, word for word, each with its
 * charts: the layer mapping as a heat map, the bands as bars, cosine and relative change per layer
 * with one line per parameter kind, a layer x kind heat map of the relative change, and the token
 * rows of the embeddings that moved most. Every chart's numbers are in a table under it.
 */
final class DiffReportHtml {
  /** Embedding-like tensors whose lowest rows are charted, at most. */
  static final int ROW_CHARTS = 3;

  private static final String REL = "relative_change";
  private static final String COS = "cosine";

  private final DiffReport r;

  DiffReportHtml(DiffReport r) {
    this.r = r;
  }

  String page() {
    List<MarkdownHtml.Section> sections = MarkdownHtml.sections(new MarkdownReport(r).markdownText());
    StringBuilder sb = new StringBuilder();
    String preamble = sections.getFirst().markdown();
    String title = preamble.lines().findFirst().orElse("# Weight diff").replaceFirst("^# ", "");
    sb.append("<h1>").append(HtmlPage.escape(title)).append("</h1>\n");
    sb.append(verdict(r.lineage()));
    sb.append(MarkdownHtml.render(preamble.lines().skip(1).reduce("", (a, b) -> a + b + "\n")));
    for (MarkdownHtml.Section s : sections.subList(1, sections.size())) {
      sb.append("<section>\n<h2 id=\"").append(slug(s.heading())).append("\">").append(HtmlPage.escape(s.heading()))
          .append("</h2>\n");
      switch (s.heading()) {
        case "Layer mapping" -> sb.append(layerMapping());
        case "By band" -> sb.append(bands());
        case "By layer" -> sb.append(layers());
        default -> { }
      }
      sb.append(MarkdownHtml.render(s.markdown()));
      sb.append("</section>\n");
      if (s.heading().equals("Most changed tensors") || s.heading().equals("Largest differences")) {
        sb.append(rows());
      }
    }
    return HtmlPage.document(title, sb.toString());
  }

  /** The verdict box; for unrelated models it says, before any chart, that nothing here is a change. */
  static String verdict(LineageVerdict v) {
    String kind = v.kind().name().toLowerCase(Locale.ROOT);
    String head = switch (v.kind()) {
      case DERIVED -> "Lineage: the target descends from the base";
      case UNRELATED -> "Lineage: these models are unrelated";
      case INCONCLUSIVE -> "Lineage: inconclusive";
    };
    StringBuilder sb = new StringBuilder("<div class=\"verdict ").append(kind).append("\">")
        .append("<strong>").append(head).append("</strong>").append(HtmlPage.escape(v.sentence()));
    v.tableCaveat().ifPresent(c -> sb.append("<p><b>The charts and tables below are not a change:</b> ")
        .append(HtmlPage.escape(c)).append("</p>"));
    return sb.append("</div>\n").toString();
  }

  private String layerMapping() {
    if (r.layerMapping().isEmpty()) {
      return "";
    }
    LayerMapping m = r.layerMapping().get();
    List<String> cols = new ArrayList<>();
    for (int i = 0; i < m.baseLayers(); i++) {
      cols.add(Integer.toString(i));
    }
    List<String> rows = new ArrayList<>();
    for (int j = 0; j < m.targetLayers(); j++) {
      rows.add("target " + j);
    }
    double[][] s = m.scores();
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    for (double[] row : s) {
      for (double v : row) {
        if (Double.isFinite(v)) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
    if (lo > hi) {
      return "";
    }
    List<int[]> marked = new ArrayList<>();
    int[] f = m.targetToBase();
    List<String[]> table = new ArrayList<>();
    for (int j = 0; j < f.length; j++) {
      marked.add(new int[] {f[j], j});
      table.add(new String[] {Integer.toString(j), Integer.toString(f[j]), fmt(s[j][f[j]])});
    }
    String svg = Charts.heatmap("Layer mapping: cosine of each target layer with each base layer", "base layer",
        "cosine", cols, rows, s, Math.min(0, lo), Math.max(hi, lo + 1e-9), marked);
    return HtmlPage.figure(svg, "Cells: cosine of a target layer's matrices with a base layer's; dots: the base layer"
        + " each target layer was compared with.", dataTable(new String[] {"target layer", "base layer", "cosine"},
        table));
  }

  private String bands() {
    if (r.bands().isEmpty()) {
      return "";
    }
    List<String> names = new ArrayList<>();
    double[] rel = new double[r.bands().size()];
    List<String[]> table = new ArrayList<>();
    for (int i = 0; i < rel.length; i++) {
      Band b = r.bands().get(i);
      names.add(b.name() + " (" + b.firstLayer() + "-" + b.lastLayer() + ")");
      rel[i] = b.diff().metric(REL);
      table.add(new String[] {b.name(), b.firstLayer() + "-" + b.lastLayer(), fmt(rel[i]), fmt(b.diff().metric(COS))});
    }
    String svg = Charts.bars("Relative change |B - A| / |A| by band", "relative change", names, rel);
    return HtmlPage.figure(svg, "Each band's tensors pooled into one vector.", dataTable(
        new String[] {"band", "layers", "relative change", "cosine"}, table));
  }

  /** Per kind (in first-seen order), the groups of one layer and that kind, by layer. */
  private Map<String, Map<Integer, GroupDiff>> byKindAndLayer() {
    Map<String, Map<Integer, GroupDiff>> m = new LinkedHashMap<>();
    for (GroupDiff g : r.byLayerKind()) {
      m.computeIfAbsent(g.kind().orElseThrow(), k -> new LinkedHashMap<>()).put(g.layer().getAsInt(), g);
    }
    return m;
  }

  private String layers() {
    if (r.byLayer().isEmpty()) {
      return "";
    }
    Map<String, Map<Integer, GroupDiff>> kinds = byKindAndLayer();
    TreeSet<Integer> layerSet = new TreeSet<>();
    r.byLayer().forEach(g -> layerSet.add(g.layer().getAsInt()));
    int[] layers = layerSet.stream().mapToInt(Integer::intValue).toArray();
    StringBuilder sb = new StringBuilder();
    for (String metric : List.of(COS, REL)) {
      List<Charts.Series> series = new ArrayList<>();
      series.add(series("all kinds", layers, layer -> r.byLayer().stream().filter(g -> g.layer().getAsInt() == layer)
          .findFirst().map(g -> g.metric(metric)).orElse(Double.NaN)));
      kinds.forEach((kind, byLayer) -> series.add(series(kind, layers, layer -> {
        GroupDiff g = byLayer.get(layer);
        return g == null ? Double.NaN : g.metric(metric);
      })));
      String name = metric.equals(COS) ? "Cosine" : "Relative change |B - A| / |A|";
      String svg = Charts.lines(name + " per layer, one line per parameter kind", "layer",
          metric.equals(COS) ? "cosine" : "relative change", series, true, false);
      String[] head = new String[series.size() + 1];
      head[0] = "layer";
      for (int i = 0; i < series.size(); i++) {
        head[i + 1] = series.get(i).name();
      }
      List<String[]> table = new ArrayList<>();
      for (int li = 0; li < layers.length; li++) {
        String[] row = new String[head.length];
        row[0] = Integer.toString(layers[li]);
        for (int i = 0; i < series.size(); i++) {
          row[i + 1] = fmt(series.get(i).y()[li]);
        }
        table.add(row);
      }
      sb.append(HtmlPage.figure(svg, HtmlPage.escape(name) + " of each layer's tensors of one kind, pooled; \"all kinds\""
          + " pools the whole layer.", dataTable(head, table)));
    }
    // The heat map: kinds bottom to top in the order first seen, layers left to right.
    List<String> kindNames = new ArrayList<>(kinds.keySet());
    List<String> cols = new ArrayList<>();
    for (int l : layers) {
      cols.add(Integer.toString(l));
    }
    double[][] values = new double[kindNames.size()][layers.length];
    double hi = 0;
    for (int k = 0; k < kindNames.size(); k++) {
      Map<Integer, GroupDiff> byLayer = kinds.get(kindNames.get(k));
      for (int li = 0; li < layers.length; li++) {
        GroupDiff g = byLayer.get(layers[li]);
        values[k][li] = g == null ? Double.NaN : g.metric(REL);
        if (Double.isFinite(values[k][li])) {
          hi = Math.max(hi, values[k][li]);
        }
      }
    }
    if (!kindNames.isEmpty()) {
      String svg = Charts.heatmap("Relative change by layer and parameter kind", "layer", "relative change", cols,
          kindNames, values, 0, hi > 0 ? hi : 1, List.of());
      sb.append(HtmlPage.figure(svg, "Darker is more change; blank cells are kinds a layer does not have. The numbers"
          + " are the per-kind lines of the chart above.", ""));
    }
    return sb.toString();
  }

  private static Charts.Series series(String name, int[] layers, java.util.function.IntToDoubleFunction value) {
    double[] x = new double[layers.length];
    double[] y = new double[layers.length];
    for (int i = 0; i < layers.length; i++) {
      x[i] = layers[i];
      y[i] = value.applyAsDouble(layers[i]);
    }
    return new Charts.Series(name, x, y);
  }

  /**
   * The lowest row cosines of the tensors that have row statistics, embeddings (no layer) first,
   * then the ones with most rows below the threshold.
   */
  private String rows() {
    List<TensorDiff> withRows = r.tensors().stream().filter(t -> !t.lowestRows().isEmpty())
        .sorted(Comparator.comparing((TensorDiff t) -> t.layer().isPresent())
            .thenComparing(Comparator.comparingInt(TensorDiff::rowsBelowThreshold).reversed()))
        .limit(ROW_CHARTS).toList();
    if (withRows.isEmpty()) {
      return "";
    }
    StringBuilder sb = new StringBuilder("<section>\n<h2 id=\"moved-rows\">Rows (tokens) that moved most</h2>\n");
    sb.append("<p class=\"note\">The report keeps, of each matrix's rows, the lowest few by cosine between base"
        + " and target, the count below ")
        .append(DiffReport.ROW_COSINE_THRESHOLD).append(", the minimum and the 5th percentile; for an embedding"
        + " matrix a row is a token id.</p>\n");
    for (TensorDiff t : withRows) {
      List<String> labels = new ArrayList<>();
      double[] cos = new double[t.lowestRows().size()];
      List<String[]> table = new ArrayList<>();
      for (int i = 0; i < cos.length; i++) {
        TensorDiff.RowChange c = t.lowestRows().get(i);
        labels.add((t.layer().isEmpty() ? "token " : "row ") + c.row());
        cos[i] = c.cosine();
        table.add(new String[] {Long.toString(c.row()), fmt(c.cosine())});
      }
      String svg = Charts.bars("Lowest row cosines of " + t.name(), "cosine", labels, cos);
      String caption = String.format(Locale.ROOT, "%s: %d of %d rows have cosine below %s; minimum %s, 5th"
          + " percentile %s.", HtmlPage.escape(t.name()), t.rowsBelowThreshold(), t.rowsCompared(),
          DiffReport.ROW_COSINE_THRESHOLD, fmt(t.metric("row_cosine_min")), fmt(t.metric("row_cosine_p5")));
      sb.append(HtmlPage.figure(svg, caption, dataTable(new String[] {"row", "cosine"}, table)));
    }
    return sb.append("</section>\n").toString();
  }

  private static String dataTable(String[] head, List<String[]> rows) {
    return HtmlPage.dataTable(head, rows);
  }

  private static String fmt(double v) {
    return HtmlPage.number(v);
  }

  private static String slug(String heading) {
    return heading.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("(^-|-$)", "");
  }
}
