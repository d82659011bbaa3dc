package io.crosscoder.text;

import java.io.FilterWriter;
import java.io.IOException;
import java.io.Writer;
import java.util.Objects;

/**
 * The one rule for text read from a file (tensor names, metadata, tokens, messages that quote
 * them) on its way to a terminal or a Markdown report: characters that control a terminal or
 * reorder text are written as escapes, so a hostile name cannot move the cursor, ring the bell,
 * change colours, set the window title, truncate a line at NUL or make {@code txt.exe} read as
 * {@code exe.txt}. Escaped (as {@code \u001b}-style escapes, six ASCII characters each):
 *
 * <ul>
 *   <li>C0 controls U+0000-U+001F (ESC, BEL, NUL, backspace, carriage return, ...) and DEL U+007F;
 *       {@link #escapeText} keeps line feed and tab, which a document needs;
 *   <li>C1 controls U+0080-U+009F (CSI U+009B is an escape sequence on its own);
 *   <li>bidirectional controls: U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069, and the
 *       line and paragraph separators U+2028, U+2029;
 *   <li>unpaired surrogates (not text).
 * </ul>
 *
 * Everything else, accents and CJK included, passes unchanged; text without such characters is
 * returned as the same string. JSON needs none of this (its writer escapes controls itself).
 * Static methods only; thread-safe.
 */
public final class PrintableText {
  private PrintableText() {}

  /**
   * Escapes text for one line of a terminal or a table cell.
   *
   * @param s the text as read; not null
   * @return {@code s} with every character above escaped, line feed and tab included; {@code s}
   *     itself when nothing needs escaping
   */
  public static String escape(String s) {
    return escape(s, false);
  }

  /**
   * Escapes text for a document: as {@link #escape}, but line feeds and tabs are kept.
   *
   * @param s the text as read; not null
   * @return the escaped text; {@code s} itself when nothing needs escaping
   */
  public static String escapeText(String s) {
    return escape(s, true);
  }

  /** Whether {@code c} at {@code i} of {@code s} is escaped (line feed and tab per {@code keepLines}). */
  private static boolean unsafe(String s, int i, boolean keepLines) {
    char c = s.charAt(i);
    if (c < 0x20) {
      return !(keepLines && (c == '\n' || c == '\t'));
    }
    if (c < 0x7f) {
      return false;
    }
    if (c <= 0x9f) {
      return true;
    }
    if (c == 0x061c || c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)
        || c == 0x2028 || c == 0x2029) {
      return true;
    }
    if (Character.isHighSurrogate(c)) {
      return i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1));
    }
    if (Character.isLowSurrogate(c)) {
      return i == 0 || !Character.isHighSurrogate(s.charAt(i - 1));
    }
    return false;
  }

  private static String escape(String s, boolean keepLines) {
    Objects.requireNonNull(s, "s");
    int first = -1;
    for (int i = 0; i < s.length(); i++) {
      if (unsafe(s, i, keepLines)) {
        first = i;
        break;
      }
    }
    if (first < 0) {
      return s;
    }
    StringBuilder sb = new StringBuilder(s.length() + 16).append(s, 0, first);
    for (int i = first; i < s.length(); i++) {
      char c = s.charAt(i);
      if (unsafe(s, i, keepLines)) {
        sb.append("\\u").append(String.format("%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }

  /**
   * A writer that applies {@link #escapeText} to everything written through it, for whole
   * documents (a Markdown report). Characters are judged one {@code write} call at a time, so a
   * surrogate pair split across two calls is escaped; callers write whole strings. Closing it
   * closes {@code out}.
   *
   * @param out the writer the escaped text goes to; owned by the returned writer from then on
   * @return the escaping writer; not thread-safe, as writers in general
   */
  public static Writer filter(Writer out) {
    Objects.requireNonNull(out, "out");
    return new FilterWriter(out) {
      @Override
      public void write(int c) throws IOException {
        out.write(escapeText(String.valueOf((char) c)));
      }

      @Override
      public void write(char[] buf, int off, int len) throws IOException {
        out.write(escapeText(new String(buf, off, len)));
      }

      @Override
      public void write(String str, int off, int len) throws IOException {
        out.write(escapeText(str.substring(off, off + len)));
      }
    };
  }
}
