package io.crosscoder.crosscoder.analysis;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.crosscoder.ActivationSource;
import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.CrosscoderConfig;
import io.crosscoder.crosscoder.train.TrainingMetrics;
import io.crosscoder.model.Quote;
import io.crosscoder.report.Report;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.text.PrintableText;
import java.io.IOException;
import java.io.Writer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;

/**
 * The model-diffing analysis of one crosscoder (METHOD.md section 3): per latent the decoder
 * norms, the relative decoder norm r, the diffing-toolkit orientation, the class, the decoder
 * cosine; class counts; histograms of r (all latents) and of the cosine (shared latents); and,
 * when activations were evaluated, explained variance, L0, firing frequencies, dead latents and
 * latent scaling. Immutable; renders to Markdown, JSON (schema {@value #JSON_SCHEMA}) and CSV
 * (one row per latent).
 */
public final class CrosscoderReport implements Report {
  /** JSON schema name and version. */
  public static final String JSON_SCHEMA = "crosscoder.crosscoder-analysis/1";
  /** Bins of the relative-norm histogram over [0, 1]. */
  public static final int NORM_BINS = 20;
  /** Bins of the cosine histogram over [-1, 1]. */
  public static final int COSINE_BINS = 20;

  private static final ObjectMapper MAPPER = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);

  private final String label;
  private final CrosscoderConfig config;
  private final ClassThresholds thresholds;
  private final double[] normA;
  private final double[] normB;
  private final double[] relative;
  private final double[] toolkit;
  private final double[] cosine;
  private final LatentClass[] classes;
  private final Map<LatentClass, Integer> counts;
  private final Histogram relativeHistogram;
  private final Histogram sharedCosineHistogram;
  private final CrosscoderEvaluation evaluation;
  private final List<String> notes;
  private final List<LatentCard> cards;
  private final List<TrainingMetrics> training;

  private CrosscoderReport(CrosscoderReport r, List<String> notes, List<LatentCard> cards,
      List<TrainingMetrics> training) {
    this.label = r.label;
    this.config = r.config;
    this.thresholds = r.thresholds;
    this.normA = r.normA;
    this.normB = r.normB;
    this.relative = r.relative;
    this.toolkit = r.toolkit;
    this.cosine = r.cosine;
    this.classes = r.classes;
    this.counts = r.counts;
    this.relativeHistogram = r.relativeHistogram;
    this.sharedCosineHistogram = r.sharedCosineHistogram;
    this.evaluation = r.evaluation;
    this.notes = List.copyOf(notes);
    this.cards = List.copyOf(cards);
    this.training = List.copyOf(training);
  }

  private CrosscoderReport(String label, Crosscoder c, ClassThresholds thresholds, CrosscoderEvaluation evaluation) {
    this.label = label;
    this.config = c.config();
    this.thresholds = thresholds;
    this.normA = c.decoderNorms(0);
    this.normB = c.decoderNorms(1);
    this.relative = DecoderGeometry.relativeNorms(c);
    this.toolkit = DecoderGeometry.toolkitRelativeNorms(c);
    this.cosine = DecoderGeometry.decoderCosines(c);
    this.classes = DecoderGeometry.classes(c, thresholds);
    EnumMap<LatentClass, Integer> m = new EnumMap<>(LatentClass.class);
    for (LatentClass k : LatentClass.values()) {
      m.put(k, 0);
    }
    List<Double> shared = new ArrayList<>();
    for (int i = 0; i < classes.length; i++) {
      m.merge(classes[i], 1, Integer::sum);
      if (classes[i] == LatentClass.SHARED) {
        shared.add(cosine[i]);
      }
    }
    this.counts = java.util.Collections.unmodifiableMap(m);
    this.relativeHistogram = Histogram.of(relative, NORM_BINS, 0, 1);
    this.sharedCosineHistogram = Histogram.of(shared.stream().mapToDouble(Double::doubleValue).toArray(),
        COSINE_BINS, -1, 1);
    this.evaluation = evaluation;
    this.notes = List.of();
    this.cards = List.of();
    this.training = List.of();
  }

  /**
   * The same report with lines saying what the crosscoder was trained on (site, models, corpus,
   * which tokens were kept), shown under the heading.
   *
   * @param lines the notes, one sentence or line each, replacing any the report had; copied
   * @return a new report; this one is unchanged
   */
  public CrosscoderReport withNotes(List<String> lines) {
    return new CrosscoderReport(this, lines, cards, training);
  }

  /**
   * The same report with readable latents (see {@link LatentCards}).
   *
   * @param latentCards the cards, in the order they are shown; copied
   * @return a new report; this one is unchanged
   */
  public CrosscoderReport withCards(List<LatentCard> latentCards) {
    return new CrosscoderReport(this, notes, latentCards, training);
  }

  /**
   * The same report with the training run's metrics (from {@link
   * io.crosscoder.crosscoder.train.TrainingMetricsFile#read}), drawn as training curves in the HTML
   * page; the other formats leave them out (they are in the metrics file).
   *
   * @param steps the metrics, in step order; copied
   * @return a new report; this one is unchanged
   */
  public CrosscoderReport withTraining(List<TrainingMetrics> steps) {
    return new CrosscoderReport(this, notes, cards, steps);
  }

  /** {@return the training run's metrics, in step order; empty when none were given} */
  public List<TrainingMetrics> training() {
    return training;
  }

  /** {@return the lines under the heading} */
  public List<String> notes() {
    return notes;
  }

  /** {@return the readable latents, strongest of each class first} */
  public List<LatentCard> cards() {
    return cards;
  }

  /**
   * The analysis of {@code coder}'s decoders as stored (fold the normalisation first for raw
   * units) with {@code thresholds}, plus {@code evaluation} (may be null) of the same crosscoder.
   *
   * @param label what was analysed, for the heading (e.g. the file name)
   * @param coder the crosscoder; read now, not kept
   * @param thresholds the class thresholds on the relative decoder norm
   * @param evaluation its evaluation on held-out activations, or null for a report of the
   *     decoders only
   * @return the report
   * @throws IllegalArgumentException if the evaluation's latent count is not the crosscoder's
   */
  public static CrosscoderReport of(String label, Crosscoder coder, ClassThresholds thresholds,
      CrosscoderEvaluation evaluation) {
    Objects.requireNonNull(label, "label");
    Objects.requireNonNull(coder, "coder");
    Objects.requireNonNull(thresholds, "thresholds");
    if (evaluation != null && evaluation.firingCounts().length != coder.dictionarySize()) {
      throw new IllegalArgumentException("evaluation has " + evaluation.firingCounts().length
          + " latents, the crosscoder " + coder.dictionarySize());
    }
    return new CrosscoderReport(label, coder, thresholds, evaluation);
  }

  /**
   * The analysis of {@code coder} with the default thresholds, plus its evaluation on at most
   * {@code maxTokens} tokens of {@code heldOut} (raw activations): {@link
   * CrosscoderEvaluator#evaluate}.
   *
   * @param label what was analysed, for the heading (e.g. the file name)
   * @param coder the crosscoder; read now, not kept
   * @param heldOut raw activations the crosscoder was not trained on; one epoch is read
   * @param maxTokens the most tokens evaluated, at least 1
   * @return the report
   * @throws IllegalArgumentException if the activations' width is not the crosscoder's
   */
  public static CrosscoderReport of(String label, Crosscoder coder, ActivationSource heldOut, long maxTokens) {
    ClassThresholds thresholds = ClassThresholds.defaults();
    return of(label, coder, thresholds, CrosscoderEvaluator.evaluate(coder, thresholds, heldOut, maxTokens));
  }

  /** {@return what was analysed} */
  public String label() {
    return label;
  }

  /** {@return the crosscoder's configuration} */
  public CrosscoderConfig config() {
    return config;
  }

  /** {@return the thresholds the classes were made with} */
  public ClassThresholds thresholds() {
    return thresholds;
  }

  /** {@return the dictionary size F} */
  public int latents() {
    return relative.length;
  }

  /**
   * {@return {@code |d_i^A|}, the Euclidean norm of latent i's base decoder, in the stored units}
   *
   * @param i the latent, in {@code [0, latents())}
   */
  public double decoderNormA(int i) {
    return normA[i];
  }

  /**
   * {@return {@code |d_i^B|}, the Euclidean norm of latent i's target decoder, in the stored units}
   *
   * @param i the latent, in {@code [0, latents())}
   */
  public double decoderNormB(int i) {
    return normB[i];
  }

  /**
   * {@return the relative decoder norm {@code r_i = |d_i^B| / (|d_i^A| + |d_i^B|)} in [0, 1], NaN
   * when both decoders are zero}
   *
   * @param i the latent, in {@code [0, latents())}
   */
  public double relativeNorm(int i) {
    return relative[i];
  }

  /**
   * {@return the diffing-toolkit orientation of latent i ({@link
   * DecoderGeometry#toolkitRelativeNorms}: 1 base-only, 0 target-only)}
   *
   * @param i the latent, in {@code [0, latents())}
   */
  public double toolkitRelativeNorm(int i) {
    return toolkit[i];
  }

  /**
   * {@return the decoder cosine {@code cos(d_i^A, d_i^B)} of latent i, NaN when a decoder is zero}
   *
   * @param i the latent, in {@code [0, latents())}
   */
  public double decoderCosine(int i) {
    return cosine[i];
  }

  /**
   * {@return the class of latent i}
   *
   * @param i the latent, in {@code [0, latents())}
   */
  public LatentClass latentClass(int i) {
    return classes[i];
  }

  /** {@return the relative norms of every latent, a fresh copy} */
  public double[] relativeNorms() {
    return relative.clone();
  }

  /** {@return the number of latents in each class (every class present, possibly 0)} */
  public Map<LatentClass, Integer> classCounts() {
    return counts;
  }

  /** {@return the histogram of r over [0, 1] in {@value #NORM_BINS} bins} */
  public Histogram relativeNormHistogram() {
    return relativeHistogram;
  }

  /** {@return the histogram of the decoder cosine of shared latents over [-1, 1] in {@value #COSINE_BINS} bins} */
  public Histogram sharedCosineHistogram() {
    return sharedCosineHistogram;
  }

  /** {@return the evaluation on activations, if one was given} */
  public Optional<CrosscoderEvaluation> evaluation() {
    return Optional.ofNullable(evaluation);
  }

  /**
   * {@return the latents of class {@code k}, in index order}
   *
   * @param k the class
   */
  public int[] latentsOf(LatentClass k) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < classes.length; i++) {
      if (classes[i] == k) {
        out.add(i);
      }
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  /**
   * Markdown (configuration, class counts, histograms, evaluation, latent scaling), JSON (schema
   * {@value #JSON_SCHEMA}; non-finite numbers are {@code null}), CSV (one row per latent) or HTML
   * (the Markdown with charts, training curves and a latent table; see {@link CrosscoderReportHtml}).
   */
  @Override
  public void writeTo(Writer w, ReportFormat format) throws IOException {
    switch (format) {
      case MARKDOWN -> w.write(PrintableText.escapeText(markdown()));
      case JSON -> {
        MAPPER.writeValue(w, json());
        w.write('\n');
      }
      case CSV -> csv(w);
      case HTML -> {
        w.write(new CrosscoderReportHtml(this).page());
        w.flush();
      }
    }
  }

  /** The Markdown note (also the text of the HTML page). */
  String markdown() {
    StringBuilder sb = new StringBuilder();
    sb.append("# Crosscoder analysis: ").append(label).append("\n\n");
    sb.append("d = ").append(config.d()).append(", F = ").append(config.dictionarySize()).append(", sparsity ")
        .append(config.sparsity()).append(", designated shared latents ").append(config.sharedLatents())
        .append(", normalisation ").append(config.normalisation().kind().name().toLowerCase(Locale.ROOT))
        .append(".\n\n");
    for (String n : notes) {
      sb.append("- ").append(n).append('\n');
    }
    if (!notes.isEmpty()) {
      sb.append('\n');
    }
    sb.append("## Latent classes\n\n");
    sb.append("Relative decoder norm r = |d^B| / (|d^A| + |d^B|): base-only r < ").append(thresholds.baseOnlyBelow())
        .append(", target-only r > ").append(thresholds.targetOnlyAbove()).append(", shared ")
        .append(thresholds.sharedLow()).append(" < r < ").append(thresholds.sharedHigh()).append(".\n\n");
    sb.append("| class | latents | share |\n|---|---:|---:|\n");
    for (LatentClass k : LatentClass.values()) {
      int n = counts.get(k);
      sb.append("| ").append(k.label()).append(" | ").append(n).append(" | ")
          .append(percent((double) n / latents())).append(" |\n");
    }
    sb.append("\n## Histogram of r\n\n");
    histogram(sb, relativeHistogram, "r");
    if (counts.get(LatentClass.SHARED) > 0) {
      sb.append("\n## Decoder cosine of shared latents\n\n");
      histogram(sb, sharedCosineHistogram, "cosine");
    }
    if (evaluation != null) {
      CrosscoderEvaluation e = evaluation;
      sb.append("\n## On activations\n\n");
      sb.append("| tokens | explained variance A | explained variance B | mean L0 | dead latents |\n")
          .append("|---:|---:|---:|---:|---:|\n");
      sb.append("| ").append(e.tokens()).append(" | ").append(value(e.explainedVarianceA())).append(" | ")
          .append(value(e.explainedVarianceB())).append(" | ").append(value(e.meanL0())).append(" | ")
          .append(e.deadLatents()).append(" (").append(percent(e.deadFraction())).append(") |\n");
      if (!e.scales().isEmpty()) {
        sb.append("\n## Latent scaling\n\n");
        sb.append("nu = beta_A / beta_B; nu_err near 0 means the base model does not explain the latent,"
            + " a large nu_err flags Complete Shrinkage, a large nu_rec Latent Decoupling.\n\n");
        sb.append("| latent | r | active tokens | nu_rec | nu_err |\n|---:|---:|---:|---:|---:|\n");
        List<LatentScale> sorted = new ArrayList<>(e.scales());
        sorted.sort(Comparator.comparingDouble(LatentScale::nuErr));
        for (LatentScale s : sorted.subList(0, Math.min(50, sorted.size()))) {
          sb.append("| ").append(s.latent()).append(" | ").append(value(relative[s.latent()])).append(" | ")
              .append(s.activeTokens()).append(" | ").append(value(s.nuRec())).append(" | ")
              .append(value(s.nuErr())).append(" |\n");
        }
      }
    }
    if (!cards.isEmpty()) {
      cardsMarkdown(sb);
    }
    return sb.toString();
  }

  private void cardsMarkdown(StringBuilder sb) {
    sb.append("\n## What the latents read\n\n");
    sb.append("The strongest latents of each class (by total activation on the evaluated tokens; latents that fire on"
        + " more than a tenth of the tokens, which track common tokens or position rather than a readable feature,"
        + " only after all others), the tokens they fire on most, and their top activating contexts (the token in"
        + " bold).\n");
    LatentClass shown = null;
    for (LatentCard c : cards) {
      if (c.latentClass() != shown) {
        shown = c.latentClass();
        sb.append("\n### ").append(shown.label().replace('_', '-')).append(" latents\n");
      }
      sb.append("\n**Latent ").append(c.latent()).append("**: r ").append(value(c.relativeNorm()))
          .append(", decoder cosine ").append(value(c.decoderCosine())).append(", fires on ")
          .append(percent(c.rows() == 0 ? Double.NaN : (double) c.firings() / c.rows())).append(" of tokens");
      if (!c.topTokens().isEmpty()) {
        sb.append("; top tokens ");
        for (int t = 0; t < c.topTokens().size(); t++) {
          LatentCard.TokenShare ts = c.topTokens().get(t);
          sb.append(t == 0 ? "" : ", ").append('`').append(inlineCode(ts.token())).append("` (")
              .append(ts.count()).append(')');
        }
      }
      sb.append("\n\n| activation | context |\n|---:|---|\n");
      for (LatentCard.Context x : c.contexts()) {
        sb.append("| ").append(value(x.activation())).append(" | ")
            .append(new Quote(x.before(), x.token(), x.after()).markdown()).append(" |\n");
      }
    }
  }

  private static String inlineCode(String s) {
    return s.replace("`", "'").replace("|", "\\|");
  }

  private static void histogram(StringBuilder sb, Histogram h, String name) {
    long max = 1;
    for (long c : h.counts()) {
      max = Math.max(max, c);
    }
    sb.append("```\n");
    long[] c = h.counts();
    for (int k = 0; k < c.length; k++) {
      int bar = (int) Math.round(40.0 * c[k] / max);
      sb.append(String.format(Locale.ROOT, "%s [%6.3f, %6.3f) %8d %s%n", name, h.binLow(k), h.binLow(k + 1), c[k],
          "#".repeat(bar)));
    }
    sb.append("```\n");
  }

  private ObjectNode json() {
    ObjectNode root = MAPPER.createObjectNode();
    root.put("schema", JSON_SCHEMA);
    root.put("label", label);
    ObjectNode cfg = root.putObject("config");
    cfg.put("d", config.d());
    cfg.put("dictionary_size", config.dictionarySize());
    cfg.put("sparsity", config.sparsity().toString());
    cfg.put("shared_latents", config.sharedLatents());
    cfg.put("normalisation", config.normalisation().kind().name().toLowerCase(Locale.ROOT));
    ObjectNode th = root.putObject("thresholds");
    th.put("base_only_below", thresholds.baseOnlyBelow());
    th.put("target_only_above", thresholds.targetOnlyAbove());
    th.put("shared_low", thresholds.sharedLow());
    th.put("shared_high", thresholds.sharedHigh());
    ObjectNode cc = root.putObject("class_counts");
    counts.forEach((k, v) -> cc.put(k.label(), v));
    root.set("relative_norm_histogram", histogramJson(relativeHistogram));
    root.set("shared_cosine_histogram", histogramJson(sharedCosineHistogram));
    double[] freq = evaluation == null ? null : evaluation.firingFrequencies();
    if (evaluation != null) {
      ObjectNode e = root.putObject("evaluation");
      e.put("tokens", evaluation.tokens());
      number(e, "explained_variance_a", evaluation.explainedVarianceA());
      number(e, "explained_variance_b", evaluation.explainedVarianceB());
      number(e, "mean_l0", evaluation.meanL0());
      e.put("dead_latents", evaluation.deadLatents());
      ArrayNode ls = e.putArray("latent_scaling");
      for (LatentScale s : evaluation.scales()) {
        ObjectNode o = ls.addObject();
        o.put("latent", s.latent());
        o.put("active_tokens", s.activeTokens());
        number(o, "beta_rec_a", s.betaRecA());
        number(o, "beta_rec_b", s.betaRecB());
        number(o, "beta_err_a", s.betaErrA());
        number(o, "beta_err_b", s.betaErrB());
        number(o, "nu_rec", s.nuRec());
        number(o, "nu_err", s.nuErr());
      }
    }
    ArrayNode nl = root.putArray("notes");
    notes.forEach(nl::add);
    ArrayNode cs = root.putArray("readable_latents");
    for (LatentCard c : cards) {
      ObjectNode o = cs.addObject();
      o.put("latent", c.latent());
      o.put("class", c.latentClass().label());
      number(o, "relative_norm", c.relativeNorm());
      number(o, "decoder_cosine", c.decoderCosine());
      o.put("firings", c.firings());
      o.put("rows", c.rows());
      number(o, "activation_sum", c.activationSum());
      ArrayNode tt = o.putArray("top_tokens");
      for (LatentCard.TokenShare t : c.topTokens()) {
        tt.addObject().put("token", t.token()).put("count", t.count());
      }
      ArrayNode xs = o.putArray("contexts");
      for (LatentCard.Context x : c.contexts()) {
        ObjectNode xo = xs.addObject();
        number(xo, "activation", x.activation());
        xo.put("document", x.document());
        xo.put("before", x.before());
        xo.put("token", x.token());
        xo.put("after", x.after());
      }
    }
    ArrayNode latents = root.putArray("latents");
    for (int i = 0; i < relative.length; i++) {
      ObjectNode o = latents.addObject();
      o.put("latent", i);
      number(o, "relative_norm", relative[i]);
      o.put("class", classes[i].label());
      number(o, "decoder_cosine", cosine[i]);
      number(o, "norm_a", normA[i]);
      number(o, "norm_b", normB[i]);
      number(o, "toolkit_relative_norm", toolkit[i]);
      if (freq != null) {
        number(o, "firing_frequency", freq[i]);
      }
    }
    return root;
  }

  private static ObjectNode histogramJson(Histogram h) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("low", h.low());
    o.put("high", h.high());
    o.put("outside", h.outside());
    ArrayNode a = o.putArray("counts");
    for (long c : h.counts()) {
      a.add(c);
    }
    return o;
  }

  private static void number(ObjectNode o, String name, double v) {
    if (Double.isFinite(v)) {
      o.put(name, v);
    } else {
      o.putNull(name);
    }
  }

  private void csv(Writer w) throws IOException {
    CSVPrinter p = new CSVPrinter(w, CSVFormat.DEFAULT.builder().setRecordSeparator('\n').build());
    List<String> header = new ArrayList<>(List.of("latent", "class", "relative_norm", "decoder_cosine", "norm_a",
        "norm_b", "toolkit_relative_norm"));
    if (evaluation != null) {
      header.add("firing_frequency");
    }
    p.printRecord(header);
    double[] freq = evaluation == null ? null : evaluation.firingFrequencies();
    for (int i = 0; i < relative.length; i++) {
      List<Object> row = new ArrayList<>();
      row.add(i);
      row.add(classes[i].label());
      row.add(cell(relative[i]));
      row.add(cell(cosine[i]));
      row.add(cell(normA[i]));
      row.add(cell(normB[i]));
      row.add(cell(toolkit[i]));
      if (freq != null) {
        row.add(cell(freq[i]));
      }
      p.printRecord(row);
    }
    p.flush();
  }

  private static String cell(double v) {
    return Double.isNaN(v) ? "" : Double.toString(v);
  }

  private static String value(double v) {
    if (Double.isNaN(v)) {
      return "n/a";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "inf" : "-inf";
    }
    double a = Math.abs(v);
    if (v == 0 || (a >= 1e-3 && a < 1e5)) {
      return String.format(Locale.ROOT, "%.4g", v);
    }
    return String.format(Locale.ROOT, "%.3e", v);
  }

  private static String percent(double f) {
    return Double.isNaN(f) ? "n/a" : String.format(Locale.ROOT, "%.1f%%", f * 100);
  }
}
