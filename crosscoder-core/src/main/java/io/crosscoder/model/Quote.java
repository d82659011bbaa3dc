package io.crosscoder.model;

/**
 * A token in its context, as a reader should see it: up to {@link #BEFORE} tokens before it and
 * {@link #AFTER} after, special tokens left out, decoded together so that word pieces join as the
 * tokenizer joins them; the token's own text is what it adds to the decoded text before it. Line
 * breaks become {@code ↵} and other control characters spaces, so a quote stays on one line.
 *
 * @param before the text before the token
 * @param token the token's text (with its leading space, if it has one)
 * @param after the text after the token
 */
public record Quote(String before, String token, String after) {
  /**
   * The quote as Markdown: the token in bold, its leading space outside the bold, every character
   * Markdown or a table cell would read escaped.
   *
   * @return the Markdown text
   */
  public String markdown() {
    String t = token.strip();
    String lead = token.substring(0, token.indexOf(t.isEmpty() ? token : t));
    return escape(before) + lead + "**" + escape(t) + "**" + escape(after);
  }

  /**
   * Text safe in Markdown and inside a table cell.
   *
   * @param s any text
   * @return the text with Markdown's and tables' special characters escaped
   */
  public static String escape(String s) {
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
        .replace("`", "\\`").replace("<", "&lt;");
  }

  /** Tokens quoted before the token. */
  public static final int BEFORE = 16;
  /** Tokens quoted after it. */
  public static final int AFTER = 4;

  /**
   * The quote of position {@code pos} of {@code ids}.
   *
   * @param tok the tokenizer that made {@code ids}
   * @param ids a sequence of token ids
   * @param pos the quoted position
   * @return the token with up to {@link #BEFORE} tokens before it and {@link #AFTER} after, decoded
   * @throws IllegalArgumentException if {@code pos} is outside {@code ids}
   */
  public static Quote of(Tokenizer tok, int[] ids, int pos) {
    if (pos < 0 || pos >= ids.length) {
      throw new IllegalArgumentException("position " + pos + " outside a sequence of " + ids.length);
    }
    java.util.List<Integer> before = new java.util.ArrayList<>();
    for (int t = Math.max(0, pos - BEFORE); t < pos; t++) {
      if (!tok.isSpecial(ids[t])) {
        before.add(ids[t]);
      }
    }
    // A quote starts at a word: WordPiece continuations ("##ing") at the window's edge are dropped.
    while (!before.isEmpty() && tok.token(before.getFirst()).startsWith("##")) {
      before.removeFirst();
    }
    java.util.List<Integer> after = new java.util.ArrayList<>();
    for (int t = pos + 1; t < Math.min(ids.length, pos + 1 + AFTER); t++) {
      if (!tok.isSpecial(ids[t])) {
        after.add(ids[t]);
      }
    }
    String pre = decode(tok, before);
    java.util.List<Integer> withToken = new java.util.ArrayList<>(before);
    withToken.add(ids[pos]);
    String upTo = decode(tok, withToken);
    java.util.List<Integer> all = new java.util.ArrayList<>(withToken);
    all.addAll(after);
    String full = decode(tok, all);
    String token = upTo.startsWith(pre) ? upTo.substring(pre.length()) : tok.token(ids[pos]);
    String post = full.startsWith(upTo) ? full.substring(upTo.length()) : decode(tok, after);
    return new Quote(clean(pre), clean(token), clean(post));
  }

  private static String decode(Tokenizer tok, java.util.List<Integer> ids) {
    return ids.isEmpty() ? "" : tok.decode(ids.stream().mapToInt(Integer::intValue).toArray());
  }

  /**
   * Line breaks and other control characters as visible marks.
   *
   * @param s any text
   * @return the text on one line
   */
  public static String clean(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    s.codePoints().forEach(c -> {
      if (c == '\n') {
        sb.append('\u21b5');
      } else if (Character.isISOControl(c)) {
        sb.append(' ');
      } else {
        sb.appendCodePoint(c);
      }
    });
    return sb.toString();
  }
}
