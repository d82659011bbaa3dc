package io.crosscoder.model;

import io.crosscoder.InvalidInputException;
import io.crosscoder.text.Document;
import io.crosscoder.text.TextSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * A corpus cut into token sequences that two models read alike: each document is tokenized by
 * both tokenizers (they must agree, or the cut stops naming the document and the first differing
 * token), its ids are cut into runs of at most {@code contextLength} tokens, each wrapped in the
 * tokenizer's special tokens, and the sequences are numbered from 0 across the corpus and handed
 * out in batches of {@code batchSequences}. A deterministic function of the corpus and settings.
 */
final class Sequences {
  /** One batch of whole sequences. */
  record Batch(long firstSequence, int[][] ids, long[] documents, String[] documentIds) {
    /** The id of the batch's last document, for progress lines. */
    String lastDocument() {
      return documentIds[documentIds.length - 1];
    }
  }

  /** Receives batches; returns false to stop. */
  interface Sink {
    boolean accept(Batch batch);
  }

  private final Tokenizer a;
  private final Tokenizer b;
  private final TextSource text;
  private final int contextLength;
  private final int batchSequences;
  private final int[] prefix;
  private final int[] suffix;

  Sequences(Tokenizer a, Tokenizer b, TextSource text, int contextLength, int batchSequences) {
    this.a = a;
    this.b = b;
    this.text = text;
    this.contextLength = contextLength;
    this.batchSequences = batchSequences;
    this.prefix = a.prefix();
    this.suffix = a.suffix();
    if (!Arrays.equals(prefix, b.prefix()) || !Arrays.equals(suffix, b.suffix())) {
      throw new InvalidInputException(null, null, "the tokenizers disagree on special tokens: the base model's "
          + a.source() + " puts " + Arrays.toString(prefix) + " before and " + Arrays.toString(suffix)
          + " after a sequence, the target model's " + b.source() + " " + Arrays.toString(b.prefix()) + " and "
          + Arrays.toString(b.suffix()) + "; a crosscoder needs the same tokens in both models");
    }
    if (contextLength - prefix.length - suffix.length < 1) {
      throw new InvalidInputException(null, null, "context length " + contextLength + " leaves no room for text"
          + " beside the " + (prefix.length + suffix.length) + " special tokens of each sequence");
    }
  }

  /**
   * Hands out batches from sequence {@code skip} on (a multiple of the batch size; the sequences
   * before are cut but not handed out) until the corpus ends or {@code sink} returns false; the
   * last batch may be short. {@code more} is asked before each document.
   *
   * @return the number of sequences the corpus gave up to where it stopped
   */
  long run(long skip, BooleanSupplier more, Sink sink) {
    int body = contextLength - prefix.length - suffix.length;
    long sequence = 0;
    List<int[]> pending = new ArrayList<>();
    List<Long> docs = new ArrayList<>();
    List<String> names = new ArrayList<>();
    try (Stream<Document> stream = text.documents()) {
      Iterator<Document> it = stream.iterator();
      while (it.hasNext() && more.getAsBoolean()) {
        Document doc = it.next();
        int[] ids = a.encode(doc.text());
        requireAgreement(doc, ids, b.encode(doc.text()));
        for (int from = 0; from < ids.length; from += body) {
          if (sequence++ < skip) {
            continue;
          }
          int to = Math.min(ids.length, from + body);
          int[] seq = new int[prefix.length + (to - from) + suffix.length];
          System.arraycopy(prefix, 0, seq, 0, prefix.length);
          System.arraycopy(ids, from, seq, prefix.length, to - from);
          System.arraycopy(suffix, 0, seq, prefix.length + to - from, suffix.length);
          pending.add(seq);
          docs.add(doc.index());
          names.add(doc.id());
          if (pending.size() == batchSequences) {
            boolean go = sink.accept(batch(sequence - pending.size(), pending, docs, names));
            pending.clear();
            docs.clear();
            names.clear();
            if (!go) {
              return sequence;
            }
          }
        }
      }
      if (!pending.isEmpty()) {
        sink.accept(batch(sequence - pending.size(), pending, docs, names));
      }
    }
    if (sequence == 0) {
      throw new InvalidInputException(null, null, "the corpus " + text.description() + " gave no tokens");
    }
    return sequence;
  }

  private static Batch batch(long first, List<int[]> seqs, List<Long> docs, List<String> names) {
    return new Batch(first, seqs.toArray(new int[0][]), docs.stream().mapToLong(Long::longValue).toArray(),
        names.toArray(new String[0]));
  }

  private void requireAgreement(Document doc, int[] x, int[] y) {
    if (Arrays.equals(x, y)) {
      return;
    }
    int i = Arrays.mismatch(x, y);
    String at = i < x.length ? "'" + a.token(x[i]) + "' (id " + x[i] + ")" : "the end";
    String bt = i < y.length ? "'" + b.token(y[i]) + "' (id " + y[i] + ")" : "the end";
    throw new InvalidInputException(null, null, "the tokenizers disagree on document " + doc.index() + " ("
        + doc.id() + ") at token " + i + ": the base model's " + a.source() + " gives " + at + ", the target model's "
        + b.source() + " gives " + bt + "; a crosscoder needs the same tokens in both models");
  }
}
