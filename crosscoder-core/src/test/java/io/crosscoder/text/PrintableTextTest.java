package io.crosscoder.text;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.StringWriter;
import java.io.Writer;
import org.junit.jupiter.api.Test;

/** {@link PrintableText}: every control, C1 and bidi character escaped, everything else untouched. */
class PrintableTextTest {
  @Test
  void controlAndBidiCharactersAreEscaped() {
    assertThat(PrintableText.escape("layer\u001b[2J.weight")).isEqualTo("layer\\u001b[2J.weight");
    assertThat(PrintableText.escape("bell\u0007nul\u0000del\u007f")).isEqualTo("bell\\u0007nul\\u0000del\\u007f");
    assertThat(PrintableText.escape("csi\u009b31m")).isEqualTo("csi\\u009b31m");
    assertThat(PrintableText.escape("evil\u202Etxt.exe")).isEqualTo("evil\\u202etxt.exe");
    assertThat(PrintableText.escape("a\u2066b\u2069c\u200fd\u061ce")).isEqualTo("a\\u2066b\\u2069c\\u200fd\\u061ce");
    assertThat(PrintableText.escape("line\nbreak\ttab\rcr")).isEqualTo("line\\u000abreak\\u0009tab\\u000dcr");
    assertThat(PrintableText.escape("lone\ud800x")).isEqualTo("lone\\ud800x");
    // Every C0 and C1 code point, one by one.
    for (char c = 0; c <= 0x9f; c++) {
      boolean control = c < 0x20 || c >= 0x7f;
      assertThat(PrintableText.escape("x" + c)).as("U+%04X", (int) c)
          .isEqualTo(control ? String.format("x\\u%04x", (int) c) : "x" + c);
    }
  }

  @Test
  void ordinaryTextIsReturnedAsItIs() {
    String s = "model.layers.0.self_attn.q_proj.weight é 中文 😀 | `x`";
    assertThat(PrintableText.escape(s)).isSameAs(s);
    assertThat(PrintableText.escapeText("# Title\n\n| a | b |\n\tcode\n")).isEqualTo("# Title\n\n| a | b |\n\tcode\n");
    assertThat(PrintableText.escapeText("x\u001by\nz\r\n")).isEqualTo("x\\u001by\nz\\u000d\n");
  }

  @Test
  void theFilterEscapesADocumentWrittenThroughIt() throws Exception {
    StringWriter sink = new StringWriter();
    try (Writer w = PrintableText.filter(sink)) {
      w.write("| name\u0007 |\n");
      w.write('\u001b');
      w.write("ok\n".toCharArray(), 0, 3);
    }
    assertThat(sink.toString()).isEqualTo("| name\\u0007 |\n\\u001bok\n");
  }
}
