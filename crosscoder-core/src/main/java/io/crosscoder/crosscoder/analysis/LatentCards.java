package io.crosscoder.crosscoder.analysis;

import io.crosscoder.model.Quote;
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
  private LatentCards() {}

  /**
   * Cards for the {@code perClass} strongest latents of each of the target-only, base-only and
   * shared classes, in that order ({@link LatentExamples#strongest}: by activation sum, latents
   * that fire on more than a tenth of the tokens last).
   *
   * @param report the crosscoder's analysis (classes, r, cosines)
   * @param examples gathered with row labels from {@link LatentExamples#rowLabel}
   * @param tokenizer decodes the contexts
   * @param sequences the token ids of a sequence, by its index
   * @param documents the document a sequence is from, by its index
   * @param perClass latents per class
   * @param contexts contexts per latent
   * @return the cards, target-only first, then base-only, then shared; fewer than {@code perClass}
   *     per class where fewer latents of the class fired
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

  static LatentCard.Context quote(Tokenizer tok, int[] ids, int pos, float activation, long document) {
    Quote q = Quote.of(tok, ids, pos);
    return new LatentCard.Context(activation, document, q.before(), q.token(), q.after());
  }
}
