package io.crosscoder.report.html;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The frame of every HTML report: one self-contained document whose styles and script are inline
 * and whose Content-Security-Policy ({@code default-src 'none'}) lets the browser fetch nothing:
 * no host, no file, no font; charts are inline SVG. Text and tables are plain HTML, so the page
 * reads without JavaScript; the one script (sorting and filtering the latent table, opening every
 * {@code <details>} before printing) is allowed by its SHA-256 hash alone, so no other script on
 * the page would run. Printing hides the controls and keeps figures and table rows whole.
 *
 * <p>A page's content sits between {@link #BODY_START} and {@link #BODY_END}, so that a report of
 * several parts can take each part's page apart and put the bodies under one frame ({@link
 * #body}). Stateless and thread-safe.
 */
public final class HtmlPage {
  /** Marks the start of a page's content. */
  public static final String BODY_START = "<!--crosscoder:body-->";
  /** Marks the end of a page's content. */
  public static final String BODY_END = "<!--/crosscoder:body-->";

  private static final String STYLE = """
      :root { color-scheme: light; }
      body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
        margin: 0 auto; max-width: 1180px; padding: 1.2em 1.6em 3em; color: #1a1a1a; line-height: 1.45; }
      h1 { font-size: 1.6em; margin: 0.4em 0; } h2 { font-size: 1.3em; margin-top: 1.8em;
        border-bottom: 1px solid #ddd; } h3 { font-size: 1.1em; margin-top: 1.4em; }
      h4, h5, h6 { font-size: 1em; }
      table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.88em; }
      th, td { border: 1px solid #ddd; padding: 0.2em 0.5em; vertical-align: top; }
      th { background: #f4f4f4; text-align: left; } td[align=right], td.num { text-align: right;
        font-variant-numeric: tabular-nums; }
      code { font-size: 0.92em; background: #f4f4f4; padding: 0 0.2em; border-radius: 3px; }
      pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
      blockquote { margin: 0.6em 0; padding: 0.3em 0.9em; border-left: 4px solid #d55e00; background: #fff6ef; }
      figure { margin: 1em 0; break-inside: avoid; page-break-inside: avoid; }
      figure svg { width: 100%; height: auto; max-width: 900px; display: block; }
      figcaption { font-size: 0.88em; color: #444; max-width: 900px; }
      .verdict { padding: 0.7em 1em; border-radius: 6px; margin: 0.8em 0 1.2em; font-size: 1.05em; }
      .verdict.derived { background: #eef7f1; border: 2px solid #009e73; }
      .verdict.inconclusive { background: #fff8e6; border: 2px solid #e69f00; }
      .verdict.unrelated { background: #fdecea; border: 2px solid #c62828; }
      .verdict strong { display: block; font-size: 1.1em; margin-bottom: 0.2em; }
      .note { font-size: 0.9em; color: #444; }
      .controls { margin: 0.5em 0; display: flex; gap: 1em; align-items: center; flex-wrap: wrap; }
      table.latents th { cursor: pointer; user-select: none; }
      table.latents th.sorted-asc::after { content: " \\25B2"; } table.latents th.sorted-desc::after { content: " \\25BC"; }
      table.latents td.ctx { max-width: 38em; }
      .ctx mark { background: #ffe08a; }
      .ctx ol { margin: 0.2em 0; padding-left: 1.4em; }
      @media print {
        body { max-width: none; padding: 0; font-size: 10pt; }
        .controls { display: none; }
        tr, figure, .verdict { break-inside: avoid; page-break-inside: avoid; }
        h2, h3 { break-after: avoid; page-break-after: avoid; }
        a { color: inherit; text-decoration: none; }
      }
      """;

  /** Sorts and filters tables of class {@code latents}; opens every details element before printing. */
  private static final String SCRIPT = """
      (function () {
        'use strict';
        function num(td) {
          var v = td.getAttribute('data-v');
          if (v === null) { return NaN; }
          return v === '' ? NaN : parseFloat(v);
        }
        function setUp(table) {
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          var classes = [];
          rows.forEach(function (r) {
            var c = r.getAttribute('data-class');
            if (classes.indexOf(c) < 0) { classes.push(c); }
          });
          var bar = document.createElement('div');
          bar.className = 'controls';
          var label = document.createElement('label');
          label.textContent = 'Class ';
          var select = document.createElement('select');
          select.className = 'class-filter';
          [''].concat(classes).forEach(function (c) {
            var o = document.createElement('option');
            o.value = c;
            o.textContent = c === '' ? 'all' : c;
            select.appendChild(o);
          });
          label.appendChild(select);
          var search = document.createElement('input');
          search.type = 'search';
          search.placeholder = 'latent or text in its contexts';
          search.className = 'text-filter';
          var shown = document.createElement('span');
          shown.className = 'shown-count';
          bar.appendChild(label);
          bar.appendChild(search);
          bar.appendChild(shown);
          table.parentNode.insertBefore(bar, table);
          function filter() {
            var c = select.value;
            var q = search.value.trim().toLowerCase();
            var n = 0;
            rows.forEach(function (r) {
              var ok = (c === '' || r.getAttribute('data-class') === c)
                  && (q === '' || r.textContent.toLowerCase().indexOf(q) >= 0);
              r.style.display = ok ? '' : 'none';
              n += ok ? 1 : 0;
            });
            shown.textContent = n + ' of ' + rows.length + ' rows shown';
          }
          select.addEventListener('change', filter);
          search.addEventListener('input', filter);
          var heads = table.tHead.rows[0].cells;
          Array.prototype.forEach.call(heads, function (th, col) {
            th.title = 'sort';
            th.addEventListener('click', function () {
              var desc = th.classList.contains('sorted-asc');
              Array.prototype.forEach.call(heads, function (h) { h.classList.remove('sorted-asc', 'sorted-desc'); });
              th.classList.add(desc ? 'sorted-desc' : 'sorted-asc');
              var numeric = th.getAttribute('data-type') === 'num';
              rows.sort(function (a, b) {
                var x, y, d;
                if (numeric) {
                  x = num(a.cells[col]); y = num(b.cells[col]);
                  if (isNaN(x) && isNaN(y)) { d = 0; } else if (isNaN(x)) { return 1; } else if (isNaN(y)) { return -1; }
                  else { d = x - y; }
                } else {
                  d = a.cells[col].textContent.localeCompare(b.cells[col].textContent);
                }
                return desc ? -d : d;
              });
              var frag = document.createDocumentFragment();
              rows.forEach(function (r) { frag.appendChild(r); });
              body.appendChild(frag);
            });
          });
          filter();
        }
        Array.prototype.forEach.call(document.querySelectorAll('table.latents'), setUp);
        window.addEventListener('beforeprint', function () {
          Array.prototype.forEach.call(document.querySelectorAll('details'), function (d) { d.open = true; });
        });
        document.documentElement.setAttribute('data-script', 'ran');
      })();
      """;

  private static final String SCRIPT_HASH = sha256(SCRIPT);
  private static final Pattern HEADING = Pattern.compile("<(/?)h([1-6])([ >])");

  private HtmlPage() {}

  /**
   * The whole document: doctype, head (charset, viewport, the policy, the style), {@code body}
   * between the markers, then the script.
   *
   * @param title the window title (escaped here)
   * @param body HTML, already safe
   * @return the page, ready to write as UTF-8
   */
  public static String document(String title, String body) {
    return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        + "<meta http-equiv=\"Content-Security-Policy\" content=\"" + policy() + "\">\n"
        + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        + "<meta name=\"generator\" content=\"crosscoder\">\n"
        + "<title>" + escape(title) + "</title>\n<style>" + STYLE + "</style>\n</head>\n<body>\n"
        + BODY_START + "\n" + body + "\n" + BODY_END + "\n<script>" + SCRIPT + "</script>\n</body>\n</html>\n";
  }

  /**
   * The page's Content-Security-Policy: nothing may load from anywhere ({@code default-src 'none'},
   * which also covers fonts, frames, connections and forms' targets), styles only inline, images
   * only as {@code data:} URIs, and scripts only the page's own, by hash.
   *
   * @return the policy, as the page's {@code <meta http-equiv>} carries it
   */
  public static String policy() {
    return "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src '" + SCRIPT_HASH
        + "'; base-uri 'none'; form-action 'none'";
  }

  /**
   * A page of a Markdown report and nothing more, for reports without charts: the title is the
   * text of the first line when it is a level-1 heading ({@code "report"} otherwise).
   *
   * @param markdown the report, Markdown as the reports write it (raw HTML in it is escaped)
   * @return the page
   */
  public static String fromMarkdown(String markdown) {
    String first = markdown.lines().findFirst().orElse("");
    String title = first.startsWith("# ") ? first.substring(2).strip() : "report";
    return document(title, MarkdownHtml.render(markdown));
  }

  /**
   * Takes a page made by {@link #document} apart.
   *
   * @param page any text
   * @return the HTML between the body markers, stripped, or empty if {@code page} has none
   */
  public static Optional<String> body(String page) {
    int a = page.indexOf(BODY_START);
    int b = page.lastIndexOf(BODY_END);
    if (a < 0 || b < a) {
      return Optional.empty();
    }
    return Optional.of(page.substring(a + BODY_START.length(), b).strip());
  }

  /**
   * {@code html} with every heading one level deeper ({@code h1} becomes {@code h2}, {@code h6}
   * stays), for a page that becomes a section of another. Only for HTML made here, where text is
   * escaped and a literal {@code <h} can only be a tag.
   *
   * @param html HTML made by this package
   * @return the HTML with every heading tag one level deeper
   */
  public static String demoteHeadings(String html) {
    Matcher m = HEADING.matcher(html);
    StringBuilder sb = new StringBuilder(html.length());
    while (m.find()) {
      int level = Math.min(6, Integer.parseInt(m.group(2)) + 1);
      m.appendReplacement(sb, "<" + m.group(1) + "h" + level + m.group(3));
    }
    m.appendTail(sb);
    return sb.toString();
  }

  /**
   * A chart in a figure, with its caption, and its numbers in a closed {@code details} element
   * under it (for screen readers, for copying, and to check the chart against).
   *
   * @param svg the chart, from {@link Charts}
   * @param caption HTML, already safe
   * @param dataTable a {@code <table>}, already safe, or empty for none
   * @return the {@code <figure>} element
   */
  public static String figure(String svg, String caption, String dataTable) {
    StringBuilder sb = new StringBuilder("<figure>\n").append(svg).append("\n<figcaption>").append(caption);
    if (!dataTable.isEmpty()) {
      sb.append("\n<details class=\"data\"><summary>the numbers</summary>\n").append(dataTable).append("</details>");
    }
    return sb.append("</figcaption>\n</figure>\n").toString();
  }

  /**
   * A chart of a page, as a standalone SVG document.
   *
   * @param title the chart's title (plain text)
   * @param svg the SVG document, with its XML declaration
   */
  public record Chart(String title, String svg) {}

  private static final Pattern FIGURE_SVG = Pattern.compile("<figure>\\s*(<svg\\b.*?</svg>)", Pattern.DOTALL);
  private static final Pattern SVG_TEXT = Pattern.compile(">([^<>]+)</text>");

  /**
   * The charts of a page made here, in page order, each as an SVG file's text: for a Markdown
   * report that shows the page's charts as images.
   *
   * @param page a page made by {@link #document}
   * @return the charts, each titled by the first text of its SVG ({@code "chart"} without one)
   */
  public static java.util.List<Chart> charts(String page) {
    java.util.List<Chart> out = new java.util.ArrayList<>();
    Matcher m = FIGURE_SVG.matcher(page);
    while (m.find()) {
      String svg = m.group(1);
      Matcher t = SVG_TEXT.matcher(svg);
      String title = t.find() ? unescape(t.group(1)) : "chart";
      out.add(new Chart(title, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg + "\n"));
    }
    return out;
  }

  private static String unescape(String s) {
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'")
        .replace("&apos;", "'").replace("&amp;", "&");
  }

  /**
   * A table of plain-text cells (escaped here), the first column as labels and the rest as numbers.
   *
   * @param head the column headings
   * @param rows the rows' cells, plain text
   * @return the {@code <table>} element, for {@link #figure}
   */
  public static String dataTable(String[] head, java.util.List<String[]> rows) {
    StringBuilder sb = new StringBuilder("<table><thead><tr>");
    for (String h : head) {
      sb.append("<th>").append(escape(h)).append("</th>");
    }
    sb.append("</tr></thead><tbody>\n");
    for (String[] row : rows) {
      sb.append("<tr>");
      for (int i = 0; i < row.length; i++) {
        sb.append(i == 0 ? "<td>" : "<td class=\"num\">").append(escape(row[i])).append("</td>");
      }
      sb.append("</tr>\n");
    }
    return sb.append("</tbody></table>\n").toString();
  }

  /**
   * {@code v} with six significant digits (enough to check a chart against, short enough to
   * read), {@code "n/a"} when not finite.
   *
   * @param v the number
   * @return its text, {@code %.6g} in the root locale
   */
  public static String number(double v) {
    return Double.isFinite(v) ? String.format(java.util.Locale.ROOT, "%.6g", v) : "n/a";
  }

  /**
   * Escapes text for HTML.
   *
   * @param s plain text
   * @return {@code s} as HTML text: {@code & < > " '} escaped, fit for element content and quoted
   *     attributes
   */
  public static String escape(String s) {
    StringBuilder sb = new StringBuilder(s.length() + 16);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&' -> sb.append("&amp;");
        case '<' -> sb.append("&lt;");
        case '>' -> sb.append("&gt;");
        case '"' -> sb.append("&quot;");
        case '\'' -> sb.append("&#39;");
        default -> sb.append(c);
      }
    }
    return sb.toString();
  }

  private static String sha256(String s) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      return "sha256-" + Base64.getEncoder().encodeToString(h);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }
}
