package io.crosscoder.model;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.report.Report;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.text.PrintableText;
import java.io.IOException;
import java.io.Writer;
import java.util.Locale;
import java.util.Objects;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;

/**
 * The report of an {@link OutputDiff}: per-token KL (summary, the positions, next tokens and
 * documents where the models disagree most, with contexts) and the activation difference lens
 * (per block, the norm of the mean difference at the first positions and the tokens it promotes).
 * Markdown, JSON (schema {@value #JSON_SCHEMA}), CSV (one row per block of the lens) or HTML (the
 * Markdown as a page). Immutable.
 */
public final class OutputDiffReport implements Report {
  /** JSON schema name and version. */
  public static final String JSON_SCHEMA = "crosscoder.output-diff/1";
  private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
      .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);

  private final String base;
  private final String target;
  private final String text;
  private final OutputDiff.Result result;
  private final Tokenizer tokenizer;

  private OutputDiffReport(String base, String target, String text, OutputDiff.Result result, Tokenizer tokenizer) {
    this.base = base;
    this.target = target;
    this.text = text;
    this.result = result;
    this.tokenizer = tokenizer;
  }

  /**
   * The report of {@code result}, with tokens and contexts decoded by {@code tokenizer} (the base
   * model's; it must stay open while the report is rendered).
   *
   * @param baseName the base model's name, for the text
   * @param targetName the target model's name
   * @param text the corpus's description
   * @param result what {@link OutputDiff#run()} returned
   * @param tokenizer the base model's tokenizer
   * @return the report
   */
  public static OutputDiffReport of(String baseName, String targetName, String text, OutputDiff.Result result,
      Tokenizer tokenizer) {
    return new OutputDiffReport(Objects.requireNonNull(baseName), Objects.requireNonNull(targetName),
        Objects.requireNonNull(text), Objects.requireNonNull(result), Objects.requireNonNull(tokenizer));
  }

  /** {@return what was measured} */
  public OutputDiff.Result result() {
    return result;
  }

  @Override
  public void writeTo(Writer w, ReportFormat format) throws IOException {
    switch (format) {
      case MARKDOWN -> w.write(PrintableText.escapeText(markdown()));
      case HTML -> w.write(io.crosscoder.report.html.HtmlPage.fromMarkdown(PrintableText.escapeText(markdown())));
      case JSON -> {
        MAPPER.writeValue(w, json());
        w.write('\n');
      }
      case CSV -> csv(w);
    }
  }

  private String markdown() {
    OutputDiff.Result r = result;
    StringBuilder sb = new StringBuilder();
    sb.append("# What the models predict differently: ").append(base).append(" -> ").append(target).append("\n\n");
    sb.append("Per-token KL(p_target || p_base) of the next-token distributions, in nats, at ").append(r.positions())
        .append(" positions of ").append(r.sequences()).append(" sequences of ").append(text).append(".\n\n");
    sb.append("| mean | median | p90 | p99 | max |\n|---:|---:|---:|---:|---:|\n");
    sb.append("| ").append(num(r.meanKl())).append(" | ").append(num(r.klQuantiles()[0])).append(" | ")
        .append(num(r.klQuantiles()[1])).append(" | ").append(num(r.klQuantiles()[2])).append(" | ")
        .append(num(r.maxKl())).append(" |\n");
    sb.append("\n## Where they disagree most\n\n| KL | context (next token predicted after the bold one) | base expects |"
        + " target expects |\n|---:|---|---|---|\n");
    for (OutputDiff.Position p : r.largest()) {
      Quote q = Quote.of(tokenizer, p.sequenceIds(), p.position());
      sb.append("| ").append(num(p.kl())).append(" | ").append(q.markdown()).append(" | `").append(code(tokenizer.token(p.baseTop()))).append("` ")
          .append(pct(p.baseTopProbability())).append(" | `").append(code(tokenizer.token(p.targetTop()))).append("` ")
          .append(pct(p.targetTopProbability())).append(" |\n");
    }
    if (!r.tokens().isEmpty()) {
      sb.append("\n## Next tokens with the largest mean KL\n\nPositions grouped by the token that actually came next"
          + " (tokens seen at least 5 times).\n\n| token | positions | mean KL |\n|---|---:|---:|\n");
      for (OutputDiff.TokenKl t : r.tokens()) {
        sb.append("| `").append(code(tokenizer.token(t.token()))).append("` | ").append(t.count()).append(" | ")
            .append(num(t.meanKl())).append(" |\n");
      }
    }
    if (!r.documents().isEmpty()) {
      sb.append("\n## Documents with the largest mean KL\n\n| document | positions | mean KL |\n|---|---:|---:|\n");
      for (OutputDiff.DocumentKl d : r.documents()) {
        sb.append("| ").append(d.document()).append(" (").append(Quote.escape(d.id())).append(") | ").append(d.positions())
            .append(" | ").append(num(d.meanKl())).append(" |\n");
      }
    }
    int p = r.lensPositions();
    sb.append("\n## Activation difference lens\n\nAt each block's output, the norm of the mean of x_target - x_base"
        + " at the first ").append(p).append(" positions and over all positions, and the tokens the all-positions mean"
        + " promotes through the base model's final norm and unembedding (Minder et al., arXiv 2510.13900).\n\n| block |");
    for (int i = 0; i < p; i++) {
      sb.append(" pos ").append(i).append(" |");
    }
    sb.append(" all | promoted tokens (all positions) |\n|---:|");
    sb.append("---:|".repeat(p + 1)).append("---|\n");
    for (OutputDiff.LensLayer l : r.lens()) {
      sb.append("| ").append(l.layer()).append(" |");
      for (int i = 0; i <= p; i++) {
        sb.append(' ').append(num(l.meanDifferenceNorm()[i])).append(" |");
      }
      sb.append(' ').append(tokens(l.promoted()[p], 8)).append(" |\n");
    }
    if (!r.lens().isEmpty()) {
      OutputDiff.LensLayer mid = r.lens().get(r.lens().size() / 2);
      sb.append("\nBlock ").append(mid.layer()).append(" position by position:\n\n| position | promoted tokens |\n|---:|---|\n");
      for (int i = 0; i < p; i++) {
        sb.append("| ").append(i).append(" | ").append(tokens(mid.promoted()[i], 10)).append(" |\n");
      }
    }
    return sb.toString();
  }

  private String tokens(int[] ids, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < Math.min(n, ids.length); i++) {
      sb.append(i == 0 ? "" : " ").append('`').append(code(tokenizer.token(ids[i]))).append('`');
    }
    return sb.toString();
  }

  private ObjectNode json() {
    OutputDiff.Result r = result;
    ObjectNode root = MAPPER.createObjectNode();
    root.put("schema", JSON_SCHEMA);
    root.put("base", base);
    root.put("target", target);
    root.put("text", text);
    root.put("kl_direction", "KL(p_target || p_base), nats");
    root.put("sequences", r.sequences());
    root.put("positions", r.positions());
    number(root, "mean_kl", r.meanKl());
    number(root, "median_kl", r.klQuantiles()[0]);
    number(root, "p90_kl", r.klQuantiles()[1]);
    number(root, "p99_kl", r.klQuantiles()[2]);
    number(root, "max_kl", r.maxKl());
    ArrayNode largest = root.putArray("largest");
    for (OutputDiff.Position p : r.largest()) {
      Quote q = Quote.of(tokenizer, p.sequenceIds(), p.position());
      ObjectNode o = largest.addObject();
      number(o, "kl", p.kl());
      o.put("document", p.document());
      o.put("sequence", p.sequence());
      o.put("position", p.position());
      o.put("before", q.before());
      o.put("token", q.token());
      o.put("after", q.after());
      o.put("base_top", tokenizer.token(p.baseTop()));
      number(o, "base_top_probability", p.baseTopProbability());
      o.put("target_top", tokenizer.token(p.targetTop()));
      number(o, "target_top_probability", p.targetTopProbability());
    }
    ArrayNode tokens = root.putArray("next_tokens");
    for (OutputDiff.TokenKl t : r.tokens()) {
      number(tokens.addObject().put("token", tokenizer.token(t.token())).put("id", t.token())
          .put("positions", t.count()), "mean_kl", t.meanKl());
    }
    ArrayNode docs = root.putArray("documents");
    for (OutputDiff.DocumentKl d : r.documents()) {
      number(docs.addObject().put("document", d.document()).put("id", d.id()).put("positions", d.positions()),
          "mean_kl", d.meanKl());
    }
    ObjectNode lens = root.putObject("difference_lens");
    lens.put("positions", r.lensPositions());
    ArrayNode layers = lens.putArray("blocks");
    for (OutputDiff.LensLayer l : r.lens()) {
      ObjectNode o = layers.addObject();
      o.put("block", l.layer());
      ArrayNode norms = o.putArray("mean_difference_norm");
      for (double v : l.meanDifferenceNorm()) {
        if (Double.isFinite(v)) {
          norms.add(v);
        } else {
          norms.addNull();
        }
      }
      ArrayNode promoted = o.putArray("promoted");
      int[][] ids = l.promoted();
      double[][] logits = l.promotedLogits();
      for (int i = 0; i < ids.length; i++) {
        ArrayNode row = promoted.addArray();
        for (int k = 0; k < ids[i].length; k++) {
          number(row.addObject().put("token", tokenizer.token(ids[i][k])), "logit", logits[i][k]);
        }
      }
    }
    return root;
  }

  private void csv(Writer w) throws IOException {
    CSVPrinter p = new CSVPrinter(w, CSVFormat.DEFAULT.builder().setRecordSeparator('\n').build());
    int n = result.lensPositions();
    java.util.List<String> header = new java.util.ArrayList<>();
    header.add("block");
    for (int i = 0; i < n; i++) {
      header.add("norm_pos" + i);
    }
    header.add("norm_all");
    header.add("promoted_all");
    p.printRecord(header);
    for (OutputDiff.LensLayer l : result.lens()) {
      java.util.List<Object> row = new java.util.ArrayList<>();
      row.add(l.layer());
      for (double v : l.meanDifferenceNorm()) {
        row.add(v);
      }
      StringBuilder t = new StringBuilder();
      for (int id : l.promoted()[n]) {
        t.append(t.isEmpty() ? "" : " ").append(tokenizer.token(id));
      }
      row.add(t.toString());
      p.printRecord(row);
    }
    p.flush();
  }

  private static void number(ObjectNode o, String k, double v) {
    if (Double.isFinite(v)) {
      o.put(k, v);
    } else {
      o.putNull(k);
    }
  }

  private static String num(double v) {
    if (Double.isNaN(v)) {
      return "n/a";
    }
    return Math.abs(v) >= 1e-3 || v == 0 ? String.format(Locale.ROOT, "%.4g", v) : String.format(Locale.ROOT, "%.3e", v);
  }

  private static String pct(double p) {
    return String.format(Locale.ROOT, "%.0f%%", 100 * p);
  }

  private static String code(String s) {
    return Quote.clean(s).replace("`", "'").replace("|", "\\|");
  }
}
