package io.crosscoder.report.html;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.commonmark.Extension;
import org.commonmark.ext.gfm.tables.TablesExtension;
import org.commonmark.node.HtmlBlock;
import org.commonmark.node.HtmlInline;
import org.commonmark.node.Node;
import org.commonmark.parser.Parser;
import org.commonmark.renderer.NodeRenderer;
import org.commonmark.renderer.html.HtmlNodeRendererContext;
import org.commonmark.renderer.html.HtmlRenderer;
import org.commonmark.renderer.html.HtmlWriter;
import org.commonmark.renderer.html.UrlSanitizer;

/**
 * The Markdown reports as HTML (CommonMark with GitHub's tables), so that the HTML page's text and
 * tables are the Markdown report's, word for word. Raw HTML in the Markdown is escaped, except the
 * {@code <details>} and {@code <summary>} tags the reports use to fold long tables: the names of
 * tensors, paths and quoted text come from the input files and must not become markup. Links keep
 * only fragment targets ({@code #...}), so a page links to nothing outside itself. Thread-safe.
 */
public final class MarkdownHtml {
  private static final List<Extension> EXTENSIONS = List.of(TablesExtension.create());
  private static final Parser PARSER = Parser.builder().extensions(EXTENSIONS).build();
  private static final Pattern ALLOWED = Pattern.compile("\\s*(?:</?details>|<summary>[^<>]*</summary>|</summary>)+\\s*");
  private static final HtmlRenderer RENDERER = HtmlRenderer.builder().extensions(EXTENSIONS)
      .sanitizeUrls(true)
      .urlSanitizer(new UrlSanitizer() {
        @Override
        public String sanitizeLinkUrl(String url) {
          return url.startsWith("#") ? url : "#";
        }

        @Override
        public String sanitizeImageUrl(String url) {
          return url.startsWith("data:image/") ? url : "";
        }
      })
      .nodeRendererFactory(RawHtml::new)
      .build();

  private MarkdownHtml() {}

  /**
   * Renders Markdown.
   *
   * @param markdown a report in CommonMark with GitHub tables
   * @return the HTML fragment, raw HTML escaped and links kept inside the page
   */
  public static String render(String markdown) {
    return RENDERER.render(PARSER.parse(markdown));
  }

  /**
   * A Markdown document cut at its level-2 headings ({@code ## }): the part before the first one
   * (heading {@code ""}), then one section per heading, in order, each with its heading's text and
   * the Markdown under it (the heading line excluded). Headings inside fenced code are not cuts.
   *
   * @param markdown a Markdown document
   * @return the sections, in document order; the first is the part before any heading (possibly
   *     empty)
   */
  public static List<Section> sections(String markdown) {
    List<Section> out = new ArrayList<>();
    String heading = "";
    StringBuilder body = new StringBuilder();
    boolean fenced = false;
    for (String line : markdown.split("\n", -1)) {
      if (line.startsWith("```")) {
        fenced = !fenced;
      }
      if (!fenced && line.startsWith("## ")) {
        out.add(new Section(heading, body.toString()));
        heading = line.substring(3).strip();
        body.setLength(0);
      } else {
        body.append(line).append('\n');
      }
    }
    out.add(new Section(heading, body.toString()));
    return out;
  }

  /**
   * A level-2 section of a Markdown document.
   *
   * @param heading the heading's text, {@code ""} for the part before the first heading
   * @param markdown the Markdown under it
   */
  public record Section(String heading, String markdown) {}

  /** Escapes raw HTML, except the folding tags. */
  private static final class RawHtml implements NodeRenderer {
    private final HtmlWriter html;

    RawHtml(HtmlNodeRendererContext context) {
      this.html = context.getWriter();
    }

    @Override
    public Set<Class<? extends Node>> getNodeTypes() {
      return Set.of(HtmlBlock.class, HtmlInline.class);
    }

    @Override
    public void render(Node node) {
      String literal = node instanceof HtmlBlock b ? b.getLiteral() : ((HtmlInline) node).getLiteral();
      if (ALLOWED.matcher(literal).matches()) {
        html.raw(literal);
      } else if (node instanceof HtmlBlock) {
        html.tag("p");
        html.text(literal.strip());
        html.tag("/p");
      } else {
        html.text(literal);
      }
    }
  }
}
