package io.crosscoder.report.html;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.junit.jupiter.api.Test;

/** The Markdown-to-HTML step and the page frame: what passes as markup and what is only text. */
class MarkdownHtmlTest {
  @Test
  void foldingTagsPassEverythingElseIsText() {
    String md = "# T\n\n<details><summary>3 tensor pairs</summary>\n\n| a | b |\n|---|---:|\n| `x<y>` | 1 |\n\n</details>\n\n"
        + "<img src=\"http://h.invalid/a.png\" onerror=\"alert(1)\">\n\nInline <b onclick=\"x()\">b</b> and"
        + " [a link](http://h.invalid/) and [an anchor](#by-layer).\n";
    Document doc = Jsoup.parse(MarkdownHtml.render(md));
    assertThat(doc.select("details > summary").text()).isEqualTo("3 tensor pairs");
    assertThat(doc.select("details table td").eachText()).containsExactly("x<y>", "1");
    assertThat(doc.select("img, b")).isEmpty();
    assertThat(doc.text()).contains("<img src=\"http://h.invalid/a.png\" onerror=\"alert(1)\">",
        "<b onclick=\"x()\">");
    assertThat(doc.select("a").eachAttr("href")).containsExactly("#", "#by-layer");
  }

  @Test
  void sectionsCutAtLevelTwoHeadingsOutsideCode() {
    List<MarkdownHtml.Section> s = MarkdownHtml.sections("# T\nintro\n## A\na\n```\n## not a heading\n```\n## B\nb\n");
    assertThat(s).extracting(MarkdownHtml.Section::heading).containsExactly("", "A", "B");
    assertThat(s.get(1).markdown()).contains("## not a heading");
  }

  @Test
  void aPagesBodyComesBackAndItsHeadingsGoOneLevelDown() {
    String page = HtmlPage.document("t <x>", "<h1>One</h1><h2 id=\"a\">Two</h2><p>h1 in text</p><h6>Six</h6>");
    assertThat(Jsoup.parse(page).title()).isEqualTo("t <x>");
    String body = HtmlPage.body(page).orElseThrow();
    assertThat(HtmlPage.demoteHeadings(body))
        .isEqualTo("<h2>One</h2><h3 id=\"a\">Two</h3><p>h1 in text</p><h6>Six</h6>");
    assertThat(HtmlPage.body("<html>not ours</html>")).isEmpty();
  }

  @Test
  void theScriptIsAllowedByItsHashAndNothingElse() throws Exception {
    Document doc = Jsoup.parse(HtmlPage.document("t", "<p>x</p>"));
    String script = doc.selectFirst("script").data();
    byte[] h = java.security.MessageDigest.getInstance("SHA-256").digest(script.getBytes(
        java.nio.charset.StandardCharsets.UTF_8));
    String hash = "'sha256-" + java.util.Base64.getEncoder().encodeToString(h) + "'";
    assertThat(HtmlPage.policy()).contains("script-src " + hash + ";").startsWith("default-src 'none';")
        .doesNotContain("unsafe-eval").doesNotContain("http");
  }
}
