package io.crosscoder.crosscoder.analysis;

import io.crosscoder.model.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.LongFunction;
import java.util.function.LongUnaryOperator;

/**
 * Turns {@link LatentExamples} into {@link LatentCard}s that a report shows: for the target-only,
 * base-only and shared classes, the latents with the largest total activation, each with its most
 * frequent tokens and its top contexts quoted from the harvested sequences.
 */
public final class LatentCards {
  /** Tokens quoted before an activating token. */
  public static final int BEFORE = 16;
  /** Tokens quoted after it. */
  public static final int AFTER = 4;

  private LatentCards() {}

  /**
   * Cards for the {@code perClass} strongest latents of each of the target-only, base-only and
   * shared classes, in that order.
   *
   * @param report the crosscoder's analysis (classes, r, cosines)
   * @param examples gathered with row labels from {@link LatentExamples#rowLabel}
   * @param tokenizer decodes the contexts
   * @param sequences the token ids of a sequence, by its index
   * @param documents the document a sequence is from, by its index
   * @param perClass latents per class
   * @param contexts contexts per latent
   */
  public static List<LatentCard> strongest(CrosscoderReport report, LatentExamples examples, Tokenizer tokenizer,
      LongFunction<int[]> sequences, LongUnaryOperator documents, int perClass, int contexts) {
    Objects.requireNonNull(tokenizer, "tokenizer");
    List<LatentCard> out = new ArrayList<>();
    for (LatentClass k : new LatentClass[] {LatentClass.TARGET_ONLY, LatentClass.BASE_ONLY, LatentClass.SHARED}) {
      for (int i : examples.strongest(report.latentsOf(k), perClass)) {
        List<LatentCard.TokenShare> tokens = examples.topTokens(i, 5).stream()
            .map(t -> new LatentCard.TokenShare(tokenizer.token(t.token()), t.count())).toList();
        List<LatentCard.Context> quoted = new ArrayList<>();
        for (LatentExamples.Example e : examples.examples(i)) {
          if (quoted.size() == contexts) {
            break;
          }
          long seq = LatentExamples.sequenceOf(e.row());
          quoted.add(quote(tokenizer, sequences.apply(seq), LatentExamples.positionOf(e.row()), e.activation(),
              documents.applyAsLong(seq)));
        }
        out.add(new LatentCard(i, k, report.relativeNorm(i), report.decoderCosine(i), examples.firings(i),
            examples.rows(), examples.activationSum(i), tokens, quoted));
      }
    }
    return out;
  }

  /**
   * The context of position {@code pos} in {@code ids}: up to {@link #BEFORE} tokens before and
   * {@link #AFTER} after, special tokens left out, decoded together so that word pieces join as the
   * tokenizer joins them; the token's own text is what it adds to the decoded prefix.
   */
  static LatentCard.Context quote(Tokenizer tok, int[] ids, int pos, float activation, long document) {
    if (pos < 0 || pos >= ids.length) {
      throw new IllegalArgumentException("position " + pos + " outside a sequence of " + ids.length);
    }
    List<Integer> before = new ArrayList<>();
    for (int t = Math.max(0, pos - BEFORE); t < pos; t++) {
      if (!tok.isSpecial(ids[t])) {
        before.add(ids[t]);
      }
    }
    List<Integer> after = new ArrayList<>();
    for (int t = pos + 1; t < Math.min(ids.length, pos + 1 + AFTER); t++) {
      if (!tok.isSpecial(ids[t])) {
        after.add(ids[t]);
      }
    }
    String pre = decode(tok, before);
    List<Integer> withToken = new ArrayList<>(before);
    withToken.add(ids[pos]);
    String upTo = decode(tok, withToken);
    List<Integer> all = new ArrayList<>(withToken);
    all.addAll(after);
    String full = decode(tok, all);
    String token = upTo.startsWith(pre) ? upTo.substring(pre.length()) : tok.token(ids[pos]);
    String post = full.startsWith(upTo) ? full.substring(upTo.length()) : decode(tok, after);
    return new LatentCard.Context(activation, document, clean(pre), clean(token), clean(post));
  }

  private static String decode(Tokenizer tok, List<Integer> ids) {
    return ids.isEmpty() ? "" : tok.decode(ids.stream().mapToInt(Integer::intValue).toArray());
  }

  /** Line breaks and other control characters as visible marks, so that a context stays on one line. */
  private static String clean(String s) {
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
