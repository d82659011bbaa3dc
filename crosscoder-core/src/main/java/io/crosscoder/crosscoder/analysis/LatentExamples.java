package io.crosscoder.crosscoder.analysis;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * What makes each latent fire, gathered in one pass over labelled rows: for every latent its
 * {@code perLatent} highest activations with the row they came from, its total activation and
 * firing count, and how often it fires on each token. Rows are labelled by the caller with a
 * {@code long} (the harvest's rows use {@link #rowLabel}: sequence and position).
 *
 * <p>Memory: {@code F * perLatent} examples, plus one counter per (latent, token) pair that fired,
 * at most {@value #MAX_TOKEN_PAIRS} pairs; pairs first seen after that are not counted and {@link
 * #tokenCountsComplete()} says so. Not thread-safe.
 */
public final class LatentExamples {
  /** The most (latent, token) pairs counted. */
  public static final int MAX_TOKEN_PAIRS = 1 << 23;
  /** Bits of a row label that hold the position. */
  public static final int POSITION_BITS = 20;

  private final int f;
  private final int perLatent;
  private final float[] heapValue;
  private final long[] heapRow;
  private final int[] heapSize;
  private final double[] sums;
  private final long[] firings;
  private final PairCounts pairs = new PairCounts();
  private long rows;

  /**
   * One example: the row and the latent's activation on it.
   *
   * @param row the row's label, as given to {@link #add}
   * @param activation the latent's activation on the row, positive
   */
  public record Example(long row, float activation) {}

  /**
   * A token and how often the latent fired on it.
   *
   * @param token the token id
   * @param count the rows with this token on which the latent fired
   */
  public record TokenCount(int token, long count) {}

  /**
   * An empty collection for a dictionary of {@code dictionarySize} latents; allocates {@code
   * F * perLatent} examples at once.
   *
   * @param dictionarySize F
   * @param perLatent examples kept per latent, {@code >= 1}
   */
  public LatentExamples(int dictionarySize, int perLatent) {
    if (dictionarySize < 1 || perLatent < 1) {
      throw new IllegalArgumentException("dictionary size and examples per latent must be >= 1, got "
          + dictionarySize + ", " + perLatent);
    }
    this.f = dictionarySize;
    this.perLatent = perLatent;
    this.heapValue = new float[Math.multiplyExact(f, perLatent)];
    this.heapRow = new long[heapValue.length];
    this.heapSize = new int[f];
    this.sums = new double[f];
    this.firings = new long[f];
  }

  /**
   * Packs a row's place into a label: {@code sequence << POSITION_BITS | position}.
   *
   * @param sequence the sequence's index, at least 0 (below 2^43)
   * @param position the token's position in the sequence, in {@code [0, 2^POSITION_BITS)}
   * @return the label
   * @throws IllegalArgumentException if either is out of range
   */
  public static long rowLabel(long sequence, int position) {
    if (sequence < 0 || position < 0 || position >= 1 << POSITION_BITS) {
      throw new IllegalArgumentException("sequence " + sequence + ", position " + position + " out of range");
    }
    return (sequence << POSITION_BITS) | position;
  }

  /**
   * {@return the sequence of a {@link #rowLabel}}
   *
   * @param label a label made by {@link #rowLabel}
   */
  public static long sequenceOf(long label) {
    return label >>> POSITION_BITS;
  }

  /**
   * {@return the position of a {@link #rowLabel}}
   *
   * @param label a label made by {@link #rowLabel}
   */
  public static int positionOf(long label) {
    return (int) (label & ((1 << POSITION_BITS) - 1));
  }

  /**
   * Adds {@code rows} rows of codes ({@code rows x F}, row-major) labelled {@code labels[r]},
   * whose tokens are {@code tokens[r]}. A latent fires on a row where its code is positive.
   *
   * @param rows the number of rows, at least 0
   * @param codes the latent codes, {@code rows x F} row-major; read, not kept
   * @param labels one label per row (at least {@code rows} entries), e.g. from {@link #rowLabel}
   * @param tokens the token id of each row (at least {@code rows} entries)
   * @throws IllegalArgumentException if an array is shorter than {@code rows} need
   */
  public void add(int rows, float[] codes, long[] labels, int[] tokens) {
    if ((long) rows * f > codes.length || labels.length < rows || tokens.length < rows) {
      throw new IllegalArgumentException(rows + " rows of " + f + " latents but " + codes.length + " codes, "
          + labels.length + " labels, " + tokens.length + " tokens");
    }
    for (int r = 0; r < rows; r++) {
      int o = r * f;
      for (int i = 0; i < f; i++) {
        float v = codes[o + i];
        if (v > 0) {
          sums[i] += v;
          firings[i]++;
          offer(i, v, labels[r]);
          pairs.increment(((long) i << 32) | (tokens[r] & 0xffffffffL));
        }
      }
    }
    this.rows += rows;
  }

  /** Keeps the perLatent largest in a min-heap per latent. */
  private void offer(int latent, float v, long row) {
    int base = latent * perLatent;
    int n = heapSize[latent];
    if (n < perLatent) {
      int i = n;
      heapSize[latent] = n + 1;
      while (i > 0) {
        int parent = (i - 1) / 2;
        if (heapValue[base + parent] <= v) {
          break;
        }
        heapValue[base + i] = heapValue[base + parent];
        heapRow[base + i] = heapRow[base + parent];
        i = parent;
      }
      heapValue[base + i] = v;
      heapRow[base + i] = row;
      return;
    }
    if (v <= heapValue[base]) {
      return;
    }
    int i = 0;
    while (true) {
      int child = 2 * i + 1;
      if (child >= n) {
        break;
      }
      if (child + 1 < n && heapValue[base + child + 1] < heapValue[base + child]) {
        child++;
      }
      if (heapValue[base + child] >= v) {
        break;
      }
      heapValue[base + i] = heapValue[base + child];
      heapRow[base + i] = heapRow[base + child];
      i = child;
    }
    heapValue[base + i] = v;
    heapRow[base + i] = row;
  }

  /** {@return the number of rows added} */
  public long rows() {
    return rows;
  }

  /**
   * {@return the sum of latent {@code i}'s activations over every row}
   *
   * @param i the latent, in {@code [0, F)}
   */
  public double activationSum(int i) {
    return sums[i];
  }

  /**
   * {@return the number of rows on which latent {@code i} fired}
   *
   * @param i the latent, in {@code [0, F)}
   */
  public long firings(int i) {
    return firings[i];
  }

  /**
   * {@return latent {@code i}'s examples (at most {@code perLatent}), highest activation first
   * (ties: lower row label first); a new list}
   *
   * @param i the latent, in {@code [0, F)}
   */
  public List<Example> examples(int i) {
    List<Example> out = new ArrayList<>(heapSize[i]);
    for (int k = 0; k < heapSize[i]; k++) {
      out.add(new Example(heapRow[i * perLatent + k], heapValue[i * perLatent + k]));
    }
    out.sort(Comparator.comparingDouble((Example e) -> -e.activation()).thenComparingLong(Example::row));
    return out;
  }

  /**
   * {@return the {@code n} tokens latent {@code i} fired on most often (fewer if it fired on fewer),
   * most frequent first (ties: lower id first)}
   *
   * @param i the latent, in {@code [0, F)}
   * @param n how many tokens, at least 0
   */
  public List<TokenCount> topTokens(int i, int n) {
    List<TokenCount> all = pairs.tokensOf(i);
    all.sort(Comparator.comparingLong((TokenCount t) -> -t.count()).thenComparingInt(TokenCount::token));
    return all.subList(0, Math.min(n, all.size()));
  }

  /** {@return whether every (latent, token) pair was counted (see {@link #MAX_TOKEN_PAIRS})} */
  public boolean tokenCountsComplete() {
    return !pairs.full;
  }

  /**
   * Latents that fire on more than this share of the rows are dense: they track position, norm or
   * the most common tokens rather than a feature one can read, so {@link #strongest} shows them
   * only after every sparser latent.
   */
  public static final double DENSE_FRACTION = 0.1;

  /**
   * {@return whether latent {@code i} fired on more than {@link #DENSE_FRACTION} of the rows}
   *
   * @param i the latent, in {@code [0, F)}
   */
  public boolean isDense(int i) {
    return firings[i] > DENSE_FRACTION * rows;
  }

  /**
   * The {@code n} latents of {@code among} that fired, largest activation sum first, the dense
   * ones ({@link #isDense}) after all others (ties: lower index).
   *
   * @param among the candidate latents, e.g. {@link CrosscoderReport#latentsOf} a class
   * @param n how many latents, at least 0
   * @return at most {@code n} latents; those that never fired are left out
   */
  public int[] strongest(int[] among, int n) {
    return Arrays.stream(among).boxed()
        .filter(i -> firings[i] > 0)
        .sorted(Comparator.comparing((Integer i) -> isDense(i)).thenComparingDouble(i -> -sums[i])
            .thenComparingInt(i -> i))
        .limit(n).mapToInt(Integer::intValue).toArray();
  }

  /** Open addressing from (latent, token) keys to counts, bounded by {@link #MAX_TOKEN_PAIRS}. */
  private static final class PairCounts {
    private static final long EMPTY = -1;
    private long[] keys = filled(1 << 16);
    private long[] counts = new long[1 << 16];
    private int size;
    private boolean full;

    private static long[] filled(int n) {
      long[] a = new long[n];
      Arrays.fill(a, EMPTY);
      return a;
    }

    void increment(long key) {
      int slot = find(keys, key);
      if (keys[slot] == key) {
        counts[slot]++;
        return;
      }
      if (size >= MAX_TOKEN_PAIRS) {
        full = true;
        return;
      }
      keys[slot] = key;
      counts[slot] = 1;
      if (++size * 2 > keys.length) {
        grow();
      }
    }

    private static int find(long[] keys, long key) {
      int mask = keys.length - 1;
      int slot = (int) (mix(key) & mask);
      while (keys[slot] != EMPTY && keys[slot] != key) {
        slot = (slot + 1) & mask;
      }
      return slot;
    }

    private static long mix(long x) {
      x ^= x >>> 33;
      x *= 0xff51afd7ed558ccdL;
      x ^= x >>> 33;
      return x;
    }

    private void grow() {
      long[] k2 = filled(keys.length * 2);
      long[] c2 = new long[k2.length];
      for (int s = 0; s < keys.length; s++) {
        if (keys[s] != EMPTY) {
          int t = find(k2, keys[s]);
          k2[t] = keys[s];
          c2[t] = counts[s];
        }
      }
      keys = k2;
      counts = c2;
    }

    List<TokenCount> tokensOf(int latent) {
      List<TokenCount> out = new ArrayList<>();
      for (int s = 0; s < keys.length; s++) {
        if (keys[s] != EMPTY && (int) (keys[s] >>> 32) == latent) {
          out.add(new TokenCount((int) keys[s], counts[s]));
        }
      }
      return out;
    }
  }
}
