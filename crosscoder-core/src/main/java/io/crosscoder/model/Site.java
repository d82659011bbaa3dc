package io.crosscoder.model;

import io.crosscoder.InvalidInputException;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where in a transformer activations are read (METHOD.md section 4), named as TransformerLens
 * names it: {@code resid_pre L} is the input of block {@code L} (0-based), {@code resid_post L}
 * its output. {@code resid_pre 0} is the embedding output (after the embedding LayerNorm in
 * BERT); {@code resid_pre L == resid_post L-1}. In Hugging Face's {@code output_hidden_states}
 * list, {@code resid_pre L} is {@code hidden_states[L]} and {@code resid_post L} is {@code
 * hidden_states[L + 1]}, except that Hugging Face's last decoder entry has the final norm applied:
 * this library's {@code resid_post} of the last block never has it.
 *
 * @param kind before or after the block
 * @param layer the block, 0-based
 */
public record Site(Kind kind, int layer) {
  private static final Pattern TEXT = Pattern.compile(
      "(?:blocks\\.(\\d+)\\.hook_)?(resid_pre|resid_post)(?:[ ._:]?(\\d+))?");

  /** Before or after a block. */
  public enum Kind {
    /** The residual stream entering the block. */
    RESID_PRE,
    /** The residual stream leaving the block. */
    RESID_POST;

    /** {@return {@code resid_pre} or {@code resid_post}} */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Checks the arguments. */
  public Site {
    Objects.requireNonNull(kind, "kind");
    if (layer < 0) {
      throw new IllegalArgumentException("layer must be >= 0, got " + layer);
    }
  }

  /**
   * {@return the output of block {@code layer}}
   *
   * @param layer the block, 0-based
   */
  public static Site residPost(int layer) {
    return new Site(Kind.RESID_POST, layer);
  }

  /**
   * {@return the input of block {@code layer}}
   *
   * @param layer the block, 0-based
   */
  public static Site residPre(int layer) {
    return new Site(Kind.RESID_PRE, layer);
  }

  /**
   * Parses {@code "resid_post 6"}, {@code "resid_post.6"}, {@code "resid_pre6"} or TransformerLens's
   * {@code "blocks.6.hook_resid_post"} (case-insensitive).
   *
   * @param text {@code resid_pre L}, {@code resid_post L} or {@code blocks.L.hook_resid_post}
   * @return the site
   * @throws InvalidInputException naming the text when it is none of these
   */
  public static Site parse(String text) {
    Matcher m = TEXT.matcher(text.trim().toLowerCase(Locale.ROOT));
    if (!m.matches() || (m.group(1) == null) == (m.group(3) == null)) {
      throw new InvalidInputException(null, null, "site '" + text
          + "' is not one of 'resid_pre L', 'resid_post L' or 'blocks.L.hook_resid_post'");
    }
    String n = m.group(1) != null ? m.group(1) : m.group(3);
    int layer;
    try {
      layer = Integer.parseInt(n);
    } catch (NumberFormatException e) {
      throw new InvalidInputException(null, null, "site '" + text + "': layer " + n + " is too large");
    }
    return new Site(m.group(2).equals("resid_pre") ? Kind.RESID_PRE : Kind.RESID_POST, layer);
  }

  /**
   * The index of this site in Hugging Face's {@code hidden_states} list: the number of blocks the
   * stream has passed ({@code layer} for {@code resid_pre}, {@code layer + 1} for {@code resid_post}).
   *
   * @return the number of blocks the stream has passed at this site
   */
  public int blocksBefore() {
    return kind == Kind.RESID_PRE ? layer : layer + 1;
  }

  /**
   * Checks that a model with {@code layers} blocks has this site.
   *
   * @param layers the model's number of blocks
   * @param model the model's name, for the message
   * @throws InvalidInputException naming {@code model} and the valid range otherwise
   */
  public void requireIn(int layers, String model) {
    if (layer >= layers) {
      throw new InvalidInputException(null, null, "site " + this + " is out of range for " + model
          + ", which has " + layers + " blocks (layers 0 to " + (layers - 1) + ")");
    }
  }

  /** {@code "resid_post 6"}. */
  @Override
  public String toString() {
    return kind.label() + " " + layer;
  }
}
