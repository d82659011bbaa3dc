package io.crosscoder.crosscoder.analysis;

import io.crosscoder.crosscoder.train.TrainingMetrics;
import io.crosscoder.report.html.Charts;
import io.crosscoder.report.html.HtmlPage;
import io.crosscoder.report.html.MarkdownHtml;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.ToDoubleFunction;

/**
 * A crosscoder analysis as one HTML page: the Markdown note's text and tables, with a histogram of
 * the relative decoder norms on a log count axis with the class thresholds drawn, the decoder
 * cosines of the shared latents, latent scaling (nu_rec against nu_err), training curves when the
 * metrics were given, and a latent table that the page's script sorts and filters by class, each
 * readable latent with its top contexts.
 *
 * <p>Large dictionaries stay quick to open: histograms aggregate every latent; the scatter plot
 * draws at most {@link #MAX_POINTS} latents and the table holds at most {@link #MAX_ROWS} rows
 * (every latent with a card, then an evenly spaced sample of each class), and the page says so.
 */
final class CrosscoderReportHtml {
  /** Bins of the page's histogram of r over [0, 1]. */
  static final int PAGE_NORM_BINS = 50;
  /** Latents drawn in the latent scaling chart, at most. */
  static final int MAX_POINTS = 2000;
  /** Rows of the latent table, at most. */
  static final int MAX_ROWS = 2000;

  private final CrosscoderReport r;

  CrosscoderReportHtml(CrosscoderReport r) {
    this.r = r;
  }

  String page() {
    List<MarkdownHtml.Section> sections = MarkdownHtml.sections(r.markdown());
    String preamble = sections.getFirst().markdown();
    String title = preamble.lines().findFirst().orElse("# Crosscoder analysis").replaceFirst("^# ", "");
    StringBuilder sb = new StringBuilder();
    sb.append("<h1>").append(HtmlPage.escape(title)).append("</h1>\n");
    sb.append(MarkdownHtml.render(preamble.lines().skip(1).reduce("", (a, b) -> a + b + "\n")));
    for (MarkdownHtml.Section s : sections.subList(1, sections.size())) {
      sb.append("<section>\n<h2>").append(HtmlPage.escape(s.heading())).append("</h2>\n");
      switch (s.heading()) {
        // The charts replace the text histograms of the Markdown note.
        case "Histogram of r" -> sb.append(relativeNormChart());
        case "Decoder cosine of shared latents" -> sb.append(sharedCosineChart());
        case "Latent scaling" -> sb.append(scalingChart()).append(MarkdownHtml.render(s.markdown()));
        default -> sb.append(MarkdownHtml.render(s.markdown()));
      }
      sb.append("</section>\n");
    }
    if (!r.training().isEmpty()) {
      sb.append(training());
    }
    sb.append(latentTable());
    return HtmlPage.document(title, sb.toString());
  }

  /** Bin edges {@code low + k (high - low) / bins}, k = 0..bins. */
  private static double[] edges(double low, double high, int bins) {
    double[] e = new double[bins + 1];
    for (int k = 0; k <= bins; k++) {
      e[k] = low + k * (high - low) / bins;
    }
    return e;
  }

  private static String histogramTable(double[] edges, long[] counts) {
    List<String[]> rows = new ArrayList<>();
    for (int k = 0; k < counts.length; k++) {
      rows.add(new String[] {String.format(Locale.ROOT, "[%.3f, %.3f%s", edges[k], edges[k + 1],
          k == counts.length - 1 ? "]" : ")"), Long.toString(counts[k])});
    }
    return HtmlPage.dataTable(new String[] {"bin", "latents"}, rows);
  }

  private String relativeNormChart() {
    Histogram h = Histogram.of(r.relativeNorms(), PAGE_NORM_BINS, 0, 1);
    double[] e = edges(0, 1, PAGE_NORM_BINS);
    ClassThresholds t = r.thresholds();
    List<Charts.Marker> markers = List.of(
        new Charts.Marker(t.baseOnlyBelow(), "base-only < " + t.baseOnlyBelow()),
        new Charts.Marker(t.sharedLow(), "shared"),
        new Charts.Marker(t.sharedHigh(), ""),
        new Charts.Marker(t.targetOnlyAbove(), "target-only > " + t.targetOnlyAbove()));
    String svg = Charts.histogram("Relative decoder norm r = |d^B| / (|d^A| + |d^B|) of " + r.latents() + " latents",
        "r (0: only in the base, 1: only in the target)", e, h.counts(), true, markers);
    String caption = String.format(Locale.ROOT, "Every latent, in %d bins; the count axis is logarithmic. Dashed"
        + " lines: the class thresholds (base-only r &lt; %s, shared %s &lt; r &lt; %s, target-only r &gt; %s).%s",
        PAGE_NORM_BINS, t.baseOnlyBelow(), t.sharedLow(), t.sharedHigh(), t.targetOnlyAbove(),
        h.outside() > 0 ? " " + h.outside() + " latents with both decoders zero have no r and are not drawn." : "");
    return HtmlPage.figure(svg, caption, histogramTable(e, h.counts()));
  }

  private String sharedCosineChart() {
    Histogram h = r.sharedCosineHistogram();
    double[] e = edges(h.low(), h.high(), h.bins());
    String svg = Charts.histogram("Decoder cosine cos(d^A, d^B) of the shared latents", "decoder cosine", e,
        h.counts(), true, List.of());
    return HtmlPage.figure(svg, "Shared latents only, in " + h.bins() + " bins; the count axis is logarithmic. Near 1:"
        + " the latent writes the same direction in both models.", histogramTable(e, h.counts()));
  }

  private String scalingChart() {
    List<LatentScale> scales = r.evaluation().map(CrosscoderEvaluation::scales).orElse(List.of());
    List<LatentScale> finite = scales.stream()
        .filter(s -> Double.isFinite(s.nuRec()) && Double.isFinite(s.nuErr())).toList();
    if (finite.isEmpty()) {
      return "";
    }
    List<LatentScale> drawn = evenlySpaced(finite, MAX_POINTS);
    double[] x = drawn.stream().mapToDouble(LatentScale::nuRec).toArray();
    double[] y = drawn.stream().mapToDouble(LatentScale::nuErr).toArray();
    String svg = Charts.scatter("Latent scaling of " + (r.classCounts().get(LatentClass.TARGET_ONLY) > 0
        ? "the target-only latents" : "the latents evaluated"), "nu_rec = beta_rec^A / beta_rec^B",
        "nu_err = beta_err^A / beta_err^B", List.of(new Charts.Series("latents", x, y)), List.of());
    String caption = "One point per latent. nu_err near 0: the base model does not explain the latent (truly new);"
        + " large nu_err: Complete Shrinkage; large nu_rec: Latent Decoupling."
        + (drawn.size() < finite.size() ? " " + drawn.size() + " of " + finite.size() + " latents drawn, evenly"
        + " spaced in index order." : "")
        + (finite.size() < scales.size() ? " " + (scales.size() - finite.size()) + " latents with an undefined ratio"
        + " (a zero beta) are left out." : "");
    return HtmlPage.figure(svg, caption, "");
  }

  private String training() {
    List<TrainingMetrics> t = r.training();
    double[] step = t.stream().mapToDouble(TrainingMetrics::step).toArray();
    StringBuilder sb = new StringBuilder("<section>\n<h2 id=\"training\">Training</h2>\n");
    sb.append("<p class=\"note\">").append(t.size()).append(" steps of ").append(t.getLast().totalSteps())
        .append(" drawn (evenly spaced, the last included); each value is measured on that step's batch before its"
            + " update.</p>\n");
    sb.append(HtmlPage.figure(Charts.lines("Loss and its parts", "step", "loss (log scale)", List.of(
        series("total", step, t, TrainingMetrics::totalLoss),
        series("reconstruction", step, t, TrainingMetrics::reconstructionLoss),
        series("sparsity", step, t, TrainingMetrics::sparsityLoss),
        series("auxiliary (BatchTopK)", step, t, TrainingMetrics::auxiliaryLoss)), true, true),
        "Parts at or below zero (the sparsity term of BatchTopK, an auxiliary loss with no dead latent) have no point"
            + " on the log axis.", ""));
    sb.append(HtmlPage.figure(Charts.lines("Explained variance per model", "step", "explained variance", List.of(
        series("base (A)", step, t, TrainingMetrics::explainedVarianceBase),
        series("target (B)", step, t, TrainingMetrics::explainedVarianceTarget)), true, false),
        "1 - sum |x - x^|^2 / sum |x - mean(x)|^2 on each step's batch.", ""));
    sb.append(HtmlPage.figure(Charts.lines("L0: active latents per token", "step", "L0", List.of(
        series("L0", step, t, TrainingMetrics::l0)), true, false), "", ""));
    sb.append(HtmlPage.figure(Charts.lines("Dead latents", "step", "fraction dead", List.of(
        series("dead fraction", step, t, TrainingMetrics::deadFraction)), true, false),
        "Latents that have not fired for the trainer's dead-token window.", ""));
    return sb.append("</section>\n").toString();
  }

  private static Charts.Series series(String name, double[] x, List<TrainingMetrics> t,
      ToDoubleFunction<TrainingMetrics> f) {
    return new Charts.Series(name, x, t.stream().mapToDouble(f).toArray());
  }

  /** At most {@code n} elements of {@code all}, evenly spaced, first included. */
  static <T> List<T> evenlySpaced(List<T> all, int n) {
    if (all.size() <= n) {
      return all;
    }
    List<T> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(all.get((int) ((long) i * all.size() / n)));
    }
    return out;
  }

  /**
   * The latents of the table: all when they fit, else every latent with a card and then, class by
   * class, an evenly spaced sample sharing the remaining rows equally (a class with fewer latents
   * than its share gives the rest to the others). In index order.
   */
  static int[] tableLatents(CrosscoderReport r, Set<Integer> carded) {
    int f = r.latents();
    if (f <= MAX_ROWS) {
      int[] all = new int[f];
      for (int i = 0; i < f; i++) {
        all[i] = i;
      }
      return all;
    }
    Set<Integer> chosen = new LinkedHashSet<>(carded);
    int left = MAX_ROWS - chosen.size();
    Map<LatentClass, List<Integer>> byClass = new EnumMap<>(LatentClass.class);
    for (LatentClass k : LatentClass.values()) {
      byClass.put(k, new ArrayList<>());
    }
    for (int i = 0; i < f; i++) {
      if (!chosen.contains(i)) {
        byClass.get(r.latentClass(i)).add(i);
      }
    }
    // Smallest classes first, so what they do not use goes to the larger ones.
    List<LatentClass> order = new ArrayList<>(byClass.keySet());
    order.sort(java.util.Comparator.comparingInt(k -> byClass.get(k).size()));
    int classesLeft = order.size();
    for (LatentClass k : order) {
      int share = Math.max(0, left / classesLeft);
      List<Integer> pick = evenlySpaced(byClass.get(k), share);
      chosen.addAll(pick);
      left -= pick.size();
      classesLeft--;
    }
    return chosen.stream().mapToInt(Integer::intValue).sorted().toArray();
  }

  private String latentTable() {
    Map<Integer, LatentCard> cards = new java.util.HashMap<>();
    r.cards().forEach(c -> cards.put(c.latent(), c));
    int[] rows = tableLatents(r, cards.keySet());
    double[] freq = r.evaluation().map(CrosscoderEvaluation::firingFrequencies).orElse(null);
    StringBuilder sb = new StringBuilder("<section>\n<h2 id=\"latent-table\">Latent table</h2>\n<p class=\"note\">");
    if (rows.length < r.latents()) {
      Map<LatentClass, Integer> shown = new EnumMap<>(LatentClass.class);
      for (int i : rows) {
        shown.merge(r.latentClass(i), 1, Integer::sum);
      }
      sb.append(String.format(Locale.ROOT, "Sampled: %,d of %,d latents, to keep the page quick to open: every latent"
          + " with contexts, then an evenly spaced sample of each class (", rows.length, r.latents()));
      boolean first = true;
      for (LatentClass k : LatentClass.values()) {
        sb.append(first ? "" : ", ").append(k.label()).append(' ').append(String.format(Locale.ROOT, "%,d of %,d",
            shown.getOrDefault(k, 0), r.classCounts().get(k)));
        first = false;
      }
      sb.append("). The CSV report (--format csv) lists every latent. ");
    }
    sb.append("Click a column's heading to sort by it; the class menu and the search box filter the rows (with"
        + " JavaScript; without it the table is in index order). Contexts: the token in highlight.</p>\n");
    sb.append("<table class=\"latents\"><thead><tr><th data-type=\"num\">latent</th><th>class</th>"
        + "<th data-type=\"num\">r</th><th data-type=\"num\">decoder cosine</th><th data-type=\"num\">|d^A|</th>"
        + "<th data-type=\"num\">|d^B|</th>");
    if (freq != null) {
      sb.append("<th data-type=\"num\">fires on</th>");
    }
    sb.append("<th>top contexts</th></tr></thead>\n<tbody>\n");
    for (int i : rows) {
      LatentClass k = r.latentClass(i);
      sb.append("<tr data-class=\"").append(k.label()).append("\"><td data-v=\"").append(i).append("\">").append(i)
          .append("</td><td>").append(k.label()).append("</td>");
      cell(sb, r.relativeNorm(i));
      cell(sb, r.decoderCosine(i));
      cell(sb, r.decoderNormA(i));
      cell(sb, r.decoderNormB(i));
      if (freq != null) {
        cell(sb, freq[i]);
      }
      sb.append("<td class=\"ctx\">");
      LatentCard c = cards.get(i);
      if (c != null && !c.contexts().isEmpty()) {
        sb.append("<details><summary>").append(c.contexts().size()).append(" contexts");
        if (!c.topTokens().isEmpty()) {
          sb.append("; top tokens ");
          for (int t = 0; t < c.topTokens().size(); t++) {
            sb.append(t == 0 ? "" : ", ").append("<code>").append(HtmlPage.escape(c.topTokens().get(t).token()))
                .append("</code>");
          }
        }
        sb.append("</summary><ol>");
        for (LatentCard.Context x : c.contexts()) {
          sb.append("<li>").append(HtmlPage.escape(x.before())).append("<mark>").append(HtmlPage.escape(x.token()))
              .append("</mark>").append(HtmlPage.escape(x.after())).append(" <small>(")
              .append(HtmlPage.number(x.activation())).append(")</small></li>");
        }
        sb.append("</ol></details>");
      }
      sb.append("</td></tr>\n");
    }
    return sb.append("</tbody></table>\n</section>\n").toString();
  }

  private static void cell(StringBuilder sb, double v) {
    sb.append("<td class=\"num\" data-v=\"").append(Double.isFinite(v) ? Double.toString(v) : "").append("\">")
        .append(Double.isFinite(v) ? String.format(Locale.ROOT, "%.4g", v) : "n/a").append("</td>");
  }
}
