package io.crosscoder.report;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.text.PrintableText;
import io.crosscoder.report.html.HtmlPage;
import io.crosscoder.report.html.MarkdownHtml;
import java.io.IOException;
import java.io.Writer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Several reports as one: the whole analysis of a model pair (weight diff, crosscoder, output
 * diffs). Markdown is the parts one after the other under a title; JSON is one object (schema
 * {@value #JSON_SCHEMA}) holding each part's own JSON under its key; HTML is one page with each
 * part's page as a section; CSV is not defined for a
 * composite (each part has its own table), so asking for it throws {@link
 * UnsupportedOperationException}. Immutable.
 */
public final class CompositeReport implements Report {
  /** JSON schema name and version. */
  public static final String JSON_SCHEMA = "crosscoder.model-diff/1";
  private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
      .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);

  private final String title;
  private final String summary;
  private final Map<String, Report> parts;

  private CompositeReport(String title, String summary, Map<String, Report> parts) {
    this.title = title;
    this.summary = summary;
    this.parts = parts;
  }

  /**
   * A composite of {@code parts} in order, keyed by their JSON names (e.g. {@code "weight_diff"}).
   *
   * @param title the Markdown title
   * @param summary a paragraph under the title (may be empty)
   * @param parts the parts by JSON name, in order
   * @return the report
   */
  public static CompositeReport of(String title, String summary, Map<String, ? extends Report> parts) {
    return new CompositeReport(Objects.requireNonNull(title), Objects.requireNonNull(summary),
        java.util.Collections.unmodifiableMap(new LinkedHashMap<>(parts)));
  }

  /** {@return the parts, in order} */
  public Map<String, Report> parts() {
    return parts;
  }

  /**
   * One page: the title, the weight diff's lineage verdict when a part is a {@link DiffReport}
   * (first, so that a reader of unrelated models learns it before any chart), the summary, a list
   * of the parts, then each part's own page as a section (its headings one level deeper). A part
   * that renders no page of its own is shown as its Markdown.
   */
  private String html() {
    StringBuilder sb = new StringBuilder();
    sb.append("<h1>").append(HtmlPage.escape(title)).append("</h1>\n");
    parts.values().stream().filter(r -> r instanceof DiffReport).map(r -> ((DiffReport) r).lineage()).findFirst()
        .ifPresent(v -> sb.append(DiffReportHtml.verdict(v)));
    if (!summary.isEmpty()) {
      sb.append("<p>").append(HtmlPage.escape(summary)).append("</p>\n");
    }
    StringBuilder toc = new StringBuilder("<nav><ul>\n");
    StringBuilder body = new StringBuilder();
    for (Map.Entry<String, Report> e : parts.entrySet()) {
      String id = "part-" + e.getKey().replaceAll("[^A-Za-z0-9_-]", "-");
      String page = e.getValue().render(ReportFormat.HTML);
      String inner = HtmlPage.body(page).orElseGet(() -> MarkdownHtml.render(e.getValue().render(ReportFormat.MARKDOWN)));
      String heading = firstHeading(inner).orElse(HtmlPage.escape(e.getKey()));
      toc.append("<li><a href=\"#").append(id).append("\">").append(heading).append("</a></li>\n");
      body.append("<article id=\"").append(id).append("\">\n").append(HtmlPage.demoteHeadings(inner))
          .append("\n</article>\n");
    }
    sb.append(toc).append("</ul></nav>\n").append(body);
    return HtmlPage.document(title, sb.toString());
  }

  /**
   * The content of the first h1 of HTML made here, as HTML text: tags inside it removed, its
   * escaped characters left escaped.
   */
  private static java.util.Optional<String> firstHeading(String html) {
    var m = java.util.regex.Pattern.compile("<h1[^>]*>(.*?)</h1>", java.util.regex.Pattern.DOTALL).matcher(html);
    return m.find() ? java.util.Optional.of(m.group(1).replaceAll("<[^>]*>", "")) : java.util.Optional.empty();
  }

  @Override
  public void writeTo(Writer w, ReportFormat format) throws IOException {
    switch (format) {
      case MARKDOWN -> {
        w = PrintableText.filter(w);
        w.write("# " + title + "\n\n");
        if (!summary.isEmpty()) {
          w.write(summary + "\n\n");
        }
        for (Report r : parts.values()) {
          // Each part's own title becomes a section of this one.
          String md = r.render(ReportFormat.MARKDOWN);
          w.write(md.replaceAll("(?m)^#", "##"));
          w.write("\n");
        }
      }
      case JSON -> {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("schema", JSON_SCHEMA);
        root.put("title", title);
        root.put("summary", summary);
        for (Map.Entry<String, Report> e : parts.entrySet()) {
          root.set(e.getKey(), MAPPER.readTree(e.getValue().render(ReportFormat.JSON)));
        }
        MAPPER.writeValue(w, root);
        w.write('\n');
      }
      case HTML -> w.write(html());
      case CSV -> throw new UnsupportedOperationException("a report of several parts has no single CSV table; ask"
          + " for md or json, or for each part on its own");
    }
  }
}
