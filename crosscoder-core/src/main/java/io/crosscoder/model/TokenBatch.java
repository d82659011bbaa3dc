package io.crosscoder.model;

import java.util.Objects;

/**
 * Token sequences for one forward pass, right-padded to a common length: sequence {@code s} is
 * {@code ids[s * length .. s * length + lengths[s] - 1]}; the ids past its length are padding,
 * whatever they hold, and a model masks them (attention mask) and replaces them with its own
 * padding id. Positions count from 0 at the start of each sequence.
 *
 * @param sequences the number of sequences, {@code >= 1}
 * @param length the padded length, {@code >= 1}
 * @param ids row-major {@code sequences x length} token ids
 * @param lengths each sequence's real length, in {@code [1, length]}
 */
public record TokenBatch(int sequences, int length, int[] ids, int[] lengths) {
  /** Checks the shapes and lengths. */
  public TokenBatch {
    Objects.requireNonNull(ids, "ids");
    Objects.requireNonNull(lengths, "lengths");
    if (sequences < 1 || length < 1) {
      throw new IllegalArgumentException("a batch needs >= 1 sequence of length >= 1, got " + sequences + " x " + length);
    }
    if ((long) sequences * length != ids.length || lengths.length != sequences) {
      throw new IllegalArgumentException(sequences + " x " + length + " batch but " + ids.length + " ids and "
          + lengths.length + " lengths");
    }
    for (int s = 0; s < sequences; s++) {
      if (lengths[s] < 1 || lengths[s] > length) {
        throw new IllegalArgumentException("sequence " + s + " has length " + lengths[s] + ", not in [1, " + length + "]");
      }
    }
  }

  /**
   * {@return a batch of unpadded sequences, padded on the right with {@code pad}}
   *
   * @param sequences the token ids of each sequence, at least one id each
   * @param pad the padding id
   */
  public static TokenBatch of(int[][] sequences, int pad) {
    int length = 1;
    for (int[] s : sequences) {
      length = Math.max(length, s.length);
    }
    int[] ids = new int[Math.multiplyExact(sequences.length, length)];
    java.util.Arrays.fill(ids, pad);
    int[] lengths = new int[sequences.length];
    for (int s = 0; s < sequences.length; s++) {
      System.arraycopy(sequences[s], 0, ids, s * length, sequences[s].length);
      lengths[s] = sequences[s].length;
    }
    return new TokenBatch(sequences.length, length, ids, lengths);
  }

  /**
   * {@return the id at position {@code t} of sequence {@code s}}
   *
   * @param s the sequence
   * @param t the position
   */
  public int id(int s, int t) {
    return ids[s * length + t];
  }

  /** {@return the number of real (unpadded) tokens} */
  public long tokens() {
    long n = 0;
    for (int l : lengths) {
      n += l;
    }
    return n;
  }
}
