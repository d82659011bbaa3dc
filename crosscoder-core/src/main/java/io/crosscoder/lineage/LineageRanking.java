package io.crosscoder.lineage;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.report.CheckpointSummary;
import io.crosscoder.report.LineageVerdict;
import io.crosscoder.report.Report;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.text.PrintableText;
import java.io.IOException;
import java.io.Writer;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;

/**
 * The answer of {@link LineageFinder}: the candidates ranked from the sampled verdicts, the full
 * pass over the best one, and a sentence saying which base the target comes from. Immutable.
 * Renders to Markdown, JSON (schema {@value #JSON_SCHEMA}), CSV (one row per candidate) and HTML (the
 * Markdown as a page).
 *
 * @param target the target checkpoint
 * @param sampleRows rows sampled per matrix
 * @param seed seed of the row sample
 * @param candidates the candidates, best first
 * @param confirmation the full pass over the best candidate, or null when it was not asked for
 * @param backend the compute backend's description
 * @param seconds wall time of the whole search (sampling and confirmation)
 */
public record LineageRanking(CheckpointSummary target, int sampleRows, long seed, List<CandidateScore> candidates,
    Confirmation confirmation, String backend, double seconds) implements Report {

  /** Version of the JSON schema. */
  public static final String JSON_SCHEMA = "crosscoder.lineage/1";

  private static final ObjectMapper MAPPER = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);

  /**
   * Checks the components and copies the candidates.
   *
   * @throws NullPointerException if {@code target} or {@code candidates} is null
   * @throws IllegalArgumentException if there is no candidate
   */
  public LineageRanking {
    Objects.requireNonNull(target, "target");
    candidates = List.copyOf(candidates);
    if (candidates.isEmpty()) {
      throw new IllegalArgumentException("a ranking needs at least one candidate");
    }
  }

  /** {@return the best-ranked candidate (rank 1)} */
  public CandidateScore best() {
    return candidates.getFirst();
  }

  /** {@return the full pass over the best candidate, or empty when it was not asked for} */
  public Optional<Confirmation> confirmed() {
    return Optional.ofNullable(confirmation);
  }

  /**
   * The answer in plain words: which candidate the target descends from (and whether the full pass
   * confirms it), that several candidates are related (then the closest one), or that none is.
   *
   * @return the answer, a few sentences of plain text (the Markdown report's first paragraph)
   */
  public String answer() {
    CandidateScore best = best();
    StringBuilder sb = new StringBuilder();
    List<CandidateScore> derived = candidates.stream()
        .filter(c -> c.verdict().kind() == LineageVerdict.Kind.DERIVED).toList();
    switch (best.verdict().kind()) {
      case DERIVED -> {
        sb.append(best.path()).append(" is the most likely base of ").append(target.path()).append(": on the sample, ")
            .append(lower(best.verdict().sentence()));
        if (derived.size() > 1) {
          sb.append(String.format(Locale.ROOT, " %d candidates descend from the same weights (a base and its own"
              + " fine-tunes, say); %s is the closest, with the highest median cosine (%.6f against %.6f for %s).",
              derived.size(), best.path(), best.verdict().medianCosine(), derived.get(1).verdict().medianCosine(),
              derived.get(1).path()));
        }
      }
      case INCONCLUSIVE -> sb.append("No candidate is clearly the base of ").append(target.path())
          .append("; the closest is ").append(best.path()).append(": on the sample, ")
          .append(lower(best.verdict().sentence()));
      case UNRELATED -> sb.append("None of the ").append(candidates.size() == 1 ? "candidate" : candidates.size() + " candidates")
          .append(" is the base of ").append(target.path()).append(": each is unrelated (the best, ")
          .append(best.path()).append(String.format(Locale.ROOT, ", has a sampled median matrix cosine of %.6f).",
              best.verdict().medianCosine()));
    }
    if (confirmation != null) {
      sb.append(confirmation.agrees() ? " The full pass confirms it: " : " The full pass does not confirm the sample,"
          + " and it is the one to trust: ").append(lower(confirmation.verdict().sentence()));
    }
    return sb.toString();
  }

  private static String lower(String sentence) {
    return sentence.isEmpty() ? sentence : Character.toLowerCase(sentence.charAt(0)) + sentence.substring(1);
  }

  @Override
  public void writeTo(Writer out, ReportFormat format) throws IOException {
    switch (format) {
      case MARKDOWN -> out.write(PrintableText.escapeText(markdown()));
      case HTML -> out.write(io.crosscoder.report.html.HtmlPage.fromMarkdown(PrintableText.escapeText(markdown())));
      case JSON -> {
        MAPPER.writeValue(out, json());
        out.write('\n');
      }
      case CSV -> csv(out);
    }
    out.flush();
  }

  private String markdown() {
    StringBuilder sb = new StringBuilder();
    sb.append("# Lineage: which base is `").append(target.path()).append("` from?\n\n");
    sb.append(answer()).append("\n\n");
    sb.append("| rank | candidate | format | sampled verdict | target share | coverage | median cosine | matrices"
        + " | rows read | seconds |\n");
    sb.append("|---:|---|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (CandidateScore c : candidates) {
      sb.append(String.format(Locale.ROOT, "| %d | `%s` | %s | %s | %s | %s | %s | %d | %,d | %.2f |%n", c.rank(),
          c.path(), c.format(), c.verdict().kind().name().toLowerCase(Locale.ROOT), percent(c.targetShare()),
          percent(c.coverage()), cosine(c.verdict().medianCosine()), c.verdict().matrices(), c.rowsRead(),
          c.seconds()));
    }
    sb.append('\n');
    if (confirmation != null) {
      sb.append("## Full pass over `").append(confirmation.path()).append("`\n\n");
      sb.append(confirmation.verdict().sentence()).append(' ');
      sb.append(String.format(Locale.ROOT, "Over all compared tensors: cosine %s, relative change |B-A|/|A| %.4g"
          + " (%.2f s, %,d bytes read). The sampled verdict %s.%n%n", cosine(confirmation.cosine()),
          confirmation.relativeChange(), confirmation.seconds(), confirmation.bytesRead(),
          confirmation.agrees() ? "agrees" : "disagrees"));
      sb.append("Run `crosscoder diff ").append(confirmation.path()).append(' ').append(target.path())
          .append("` for the per-layer report.\n\n");
    }
    sb.append("## Method\n\n");
    sb.append(String.format(Locale.ROOT, "Each candidate is aligned with the target by tensor name; from every matrix"
        + " of %d or more elements, one row is read from each of %d equal strata of its rows (seed %d), and the"
        + " matrix cosine is estimated from the sampled rows' sums. The lineage rule (derived when at least %.0f%%"
        + " of the matrix weights are in matrices of cosine >= %.1f; unrelated when at most %.0f%% are and the"
        + " median cosine is below %.1f) is applied to these estimates. For independent weights the estimate's"
        + " standard deviation is about 1/sqrt(rows x columns sampled), a few thousandths. Target share counts"
        + " matrices a candidate lacks as dissimilar; coverage is the share of the target's matrix weights the"
        + " candidate has. Candidates are ranked by verdict, then target share, then median cosine. Backend: %s;"
        + " %.2f s in all.%n", LineageVerdict.MIN_ELEMENTS, sampleRows, seed, LineageVerdict.DERIVED_SHARE * 100,
        LineageVerdict.SIMILAR_COSINE, LineageVerdict.UNRELATED_SHARE * 100, LineageVerdict.UNRELATED_MEDIAN_COSINE,
        backend, seconds));
    return sb.toString();
  }

  private ObjectNode json() {
    ObjectNode root = MAPPER.createObjectNode();
    root.put("schema", JSON_SCHEMA);
    ObjectNode t = root.putObject("target");
    t.put("path", target.path());
    t.put("format", target.format());
    t.put("tensors", target.tensors());
    t.put("bytes", target.bytes());
    root.put("answer", answer());
    ObjectNode sample = root.putObject("sample");
    sample.put("rows_per_matrix", sampleRows);
    sample.put("seed", seed);
    ArrayNode list = root.putArray("candidates");
    for (CandidateScore c : candidates) {
      ObjectNode o = list.addObject();
      o.put("rank", c.rank());
      o.put("path", c.path());
      o.put("format", c.format());
      verdict(o, c.verdict());
      number(o, "target_share", c.targetShare());
      number(o, "coverage", c.coverage());
      o.put("rows_read", c.rowsRead());
      o.put("bytes_read", c.bytesRead());
      number(o, "seconds", c.seconds());
    }
    if (confirmation == null) {
      root.putNull("confirmation");
    } else {
      ObjectNode o = root.putObject("confirmation");
      o.put("path", confirmation.path());
      verdict(o, confirmation.verdict());
      o.put("agrees", confirmation.agrees());
      number(o, "cosine", confirmation.cosine());
      number(o, "relative_change", confirmation.relativeChange());
      number(o, "seconds", confirmation.seconds());
      o.put("bytes_read", confirmation.bytesRead());
    }
    root.put("backend", backend);
    number(root, "seconds", seconds);
    return root;
  }

  private static void verdict(ObjectNode o, LineageVerdict v) {
    o.put("verdict", v.kind().name().toLowerCase(Locale.ROOT));
    o.put("sentence", v.sentence());
    o.put("matrices", v.matrices());
    number(o, "similar_share", v.similarShare());
    number(o, "median_cosine", v.medianCosine());
  }

  private void csv(Writer w) throws IOException {
    CSVPrinter p = new CSVPrinter(w, CSVFormat.DEFAULT.builder().setRecordSeparator('\n').build());
    p.printRecord("rank", "path", "format", "verdict", "similar_share", "median_cosine", "matrices", "target_share",
        "coverage", "rows_read", "bytes_read", "seconds", "confirmed_verdict");
    for (CandidateScore c : candidates) {
      String confirmed = confirmation != null && c.rank() == 1
          ? confirmation.verdict().kind().name().toLowerCase(Locale.ROOT) : "";
      p.printRecord(c.rank(), c.path(), c.format(), c.verdict().kind().name().toLowerCase(Locale.ROOT),
          cell(c.verdict().similarShare()), cell(c.verdict().medianCosine()), c.verdict().matrices(),
          cell(c.targetShare()), cell(c.coverage()), c.rowsRead(), c.bytesRead(), cell(c.seconds()), confirmed);
    }
    p.flush();
  }

  private static String cell(double v) {
    return Double.isNaN(v) ? "" : Double.toString(v);
  }

  private static void number(ObjectNode o, String key, double v) {
    if (Double.isFinite(v)) {
      o.put(key, v);
    } else {
      o.putNull(key);
    }
  }

  private static String cosine(double v) {
    return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.6f", v);
  }

  private static String percent(double f) {
    return Double.isNaN(f) ? "n/a" : String.format(Locale.ROOT, "%.1f%%", f * 100);
  }
}
