package io.crosscoder.cpu.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * BatchTopK over a whole buffer by a two-pass radix select on {@link SortKey} (16 high bits, then
 * 16 low bits of the key), then a masking pass that keeps every element above the threshold key
 * and, of the elements equal to it, the first ones in position order (a third pass counts each
 * thread's share of those ties, skipped when all of them are kept). Three or four streaming passes,
 * each split over the pool's threads; no sort, no allocation proportional to the buffer.
 */
final class BatchTopK {
  private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
  private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
  /** The key of NaN: above +infinity in the order, but not a positive score. */
  private static final int NAN_KEY = SortKey.of(Float.NaN);
  private static final int BUCKETS = 1 << 16;
  /** Rows between two sampled rows in {@link #sampledCandidates}. */
  private static final int SAMPLE_STRIDE = 16;
  /** Selections over at least this many rows start from a sample ({@link #sampledCandidates}). */
  static final int SAMPLED_ROWS_FROM = 16 * SAMPLE_STRIDE;

  private BatchTopK() {}

  /** See {@link io.crosscoder.backend.Kernels#batchTopK}; {@code 0 < keep < n}. */
  static float select(WorkerPool pool, MemorySegment scores, MemorySegment x, long n, long keep) {
    int parts = (int) Math.max(1, Math.min(pool.threads(), n / (1 << 16)));
    long[] bounds = new long[parts + 1];
    for (int p = 0; p <= parts; p++) {
      bounds[p] = n * p / parts;
    }
    // Pass 1: histogram of the high 16 bits of the unsigned key.
    int[][] high = new int[parts][];
    pool.run(parts, p -> {
      int[] h = new int[BUCKETS];
      for (long i = bounds[p]; i < bounds[p + 1]; i++) {
        h[bucketHigh(SortKey.of(scores.getAtIndex(F, i)))]++;
      }
      high[p] = h;
    });
    long[] bucket = thresholdBucket(merged(high), keep);
    long above = bucket[1];
    long need = keep - above;
    int prefix = (int) bucket[0];
    // Pass 2: histogram of the low 16 bits among keys in that high bucket.
    int[][] low = new int[parts][];
    pool.run(parts, p -> {
      int[] h = new int[BUCKETS];
      for (long i = bounds[p]; i < bounds[p + 1]; i++) {
        int k = SortKey.of(scores.getAtIndex(F, i));
        if (bucketHigh(k) == prefix) {
          h[k & 0xffff]++;
        }
      }
      low[p] = h;
    });
    long[] lowTotal = merged(low);
    long[] lowBucket = thresholdBucket(lowTotal, need);
    int b2 = (int) lowBucket[0];
    long ties = need - lowBucket[1];
    int threshold = ((prefix << 16) | b2) ^ 0x80000000;
    long equalTotal = lowTotal[b2];
    long[] quota = new long[parts];
    if (ties == equalTotal) {
      // Every element equal to the threshold is kept (with distinct scores, the usual case): no
      // tie-break by position is needed, so the pass that counts each part's ties is skipped.
      Arrays.fill(quota, Long.MAX_VALUE);
    } else {
      tieQuotas(pool, parts, bounds, scores, threshold, ties, quota);
    }
    // Pass 4: zero what is not kept.
    pool.run(parts, p -> {
      long allowed = quota[p];
      for (long i = bounds[p]; i < bounds[p + 1]; i++) {
        int k = SortKey.of(scores.getAtIndex(F, i));
        if (k > threshold) {
          continue;
        }
        if (k == threshold && allowed > 0) {
          allowed--;
          continue;
        }
        x.setAtIndex(F, i, 0f);
      }
    });
    return SortKey.value(threshold);
  }

  /**
   * See {@link io.crosscoder.backend.Kernels#batchTopKToCsr}; {@code 0 < keep}. Scores {@code x(r,
   * c) * scale[c]} are recomputed where needed (a multiply is cheaper than writing and re-reading a
   * {@code rows x cols} score matrix), in streaming passes over {@code x} with the parts cut at row
   * boundaries. First the candidates are collected, the positions whose key's high 16 bits are in
   * the threshold's bucket or above, with their keys: from {@value #SAMPLED_ROWS_FROM} rows on, in
   * one pass from a bound that a sample of the rows gives ({@link #sampledCandidates}), else (or
   * when the sample misled) after a pass that histograms every key ({@link #candidates}). The
   * low-bit histogram, the ties, the row counts and the rows themselves are then computed from the
   * candidates alone. Nothing is written before the capacity check but the row starts.
   *
   * @return the smallest kept score
   */
  static float selectToCsr(WorkerPool pool, ElementwiseOps ops, MemorySegment x, MemorySegment scale, int rows,
      int cols, long keep, MemorySegment rowStart, MemorySegment colIndex, long colIndexSize, MemorySegment values,
      long valuesSize) {
    long n = (long) rows * cols;
    int parts = (int) Math.max(1, Math.min(Math.min(pool.threads(), rows), n / (1 << 16)));
    long[] bounds = new long[parts + 1];
    for (int p = 0; p <= parts; p++) {
      bounds[p] = (long) (int) ((long) rows * p / parts) * cols;
    }
    Scores scores = new Scores(pool, ops, x, scale.asSlice(0, cols * 4L).toArray(F), cols, bounds);
    Candidates found = keep < n && rows >= SAMPLED_ROWS_FROM ? sampledCandidates(scores, keep) : null;
    if (found == null) {
      found = candidates(scores, Math.min(keep, n));
    }
    long[][] positions = found.positions();
    int[][] keys = found.keys();
    int prefix = found.bucket();
    long above = found.above();
    int threshold;
    long[] quota = new long[parts];
    Arrays.fill(quota, Long.MAX_VALUE);
    if (keep >= n) {
      threshold = Integer.MIN_VALUE;
    } else {
      // The low 16 bits among the candidates in the threshold's bucket.
      long need = keep - above;
      long[] low = new long[BUCKETS];
      for (int[] key : keys) {
        for (int k : key) {
          if (bucketHigh(k) == prefix) {
            low[k & 0xffff]++;
          }
        }
      }
      long[] lowBucket = thresholdBucket(low, need);
      int b2 = (int) lowBucket[0];
      long ties = need - lowBucket[1];
      threshold = ((prefix << 16) | b2) ^ 0x80000000;
      if (ties != low[b2]) {
        // Not every tie is kept: the first ones in position order are, shared out part by part.
        long[] equal = new long[parts];
        for (int p = 0; p < parts; p++) {
          for (int k : keys[p]) {
            equal[p] += k == threshold ? 1 : 0;
          }
        }
        shareTies(ties, equal, quota);
      }
    }
    // The kept positive scores of each row, then the rows; both passes spend each part's tie quota
    // in the same position order, so they agree.
    int th = threshold;
    int positive = SortKey.of(0f);
    int[] counts = new int[rows];
    for (int p = 0; p < parts; p++) {
      long allowed = quota[p];
      long[] pos = positions[p];
      int[] key = keys[p];
      for (int m = 0; m < pos.length; m++) {
        int k = key[m];
        boolean kept = k > th || (k == th && allowed-- > 0);
        if (kept && k > positive && k != NAN_KEY) {
          counts[(int) (pos[m] / cols)]++;
        }
      }
    }
    long nnz = 0;
    for (int r = 0; r < rows; r++) {
      rowStart.setAtIndex(I, r, (int) Math.min(nnz, Integer.MAX_VALUE));
      nnz += counts[r];
    }
    if (nnz > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(nnz + " kept positive scores do not fit I32 row starts");
    }
    rowStart.setAtIndex(I, rows, (int) nnz);
    if (nnz > colIndexSize || nnz > valuesSize) {
      throw new IllegalArgumentException("the selection keeps " + nnz + " positive scores but colIndex has "
          + colIndexSize + " and values " + valuesSize + " elements");
    }
    int min = Integer.MAX_VALUE;
    long t = 0;
    for (int p = 0; p < parts; p++) {
      long allowed = quota[p];
      long[] pos = positions[p];
      int[] key = keys[p];
      for (int m = 0; m < pos.length; m++) {
        int k = key[m];
        boolean kept = k > th || (k == th && allowed-- > 0);
        if (kept) {
          min = Math.min(min, k);
          if (k > positive && k != NAN_KEY) {
            colIndex.setAtIndex(I, t, (int) (pos[m] % cols));
            values.setAtIndex(F, t, x.getAtIndex(F, pos[m]));
            t++;
          }
        }
      }
    }
    return SortKey.value(keep >= n ? min : threshold);
  }

  /**
   * The scores {@code x(r, c) * scale[c]} of a row-major {@code rows x cols} matrix, cut into parts
   * at the row boundaries {@code bounds} (element indices, {@code bounds[0] = 0}), one per thread.
   */
  private record Scores(WorkerPool pool, ElementwiseOps ops, MemorySegment x, float[] scale, int cols, long[] bounds) {
    int parts() {
      return bounds.length - 1;
    }

    long n() {
      return bounds[bounds.length - 1];
    }
  }

  /**
   * The candidates of each part in position order, their positions and keys; every key in the
   * threshold's high bucket {@code bucket} or above is among them, and {@code above} of them are
   * in higher buckets.
   */
  private record Candidates(long[][] positions, int[][] keys, int bucket, long above) {}

  /**
   * The exact first pass: the high-bit histogram of every score, whose {@code keep}-th largest key
   * fixes the threshold's bucket, then {@link #collect} of everything in that bucket or above,
   * with capacities known from the histogram ({@code keep == n} collects everything).
   */
  private static Candidates candidates(Scores s, long keep) {
    int[][] high = highHistograms(s, 1);
    long[] bucket = thresholdBucket(merged(high), keep);
    int prefix = (int) bucket[0];
    long[] capacity = new long[s.parts()];
    for (int p = 0; p < s.parts(); p++) {
      for (int b = prefix; b < BUCKETS; b++) {
        capacity[p] += high[p][b];
      }
      if (capacity[p] > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException("the selection has " + capacity[p] + " candidates in one part, over 2^31");
      }
    }
    long[][] positions = new long[s.parts()][];
    int[][] keys = new int[s.parts()][];
    collect(s, prefix, capacity, capacity, positions, keys);
    return new Candidates(positions, keys, prefix, bucket[1]);
  }

  /**
   * The first pass from a sample: the high-bit histogram of every {@value #SAMPLE_STRIDE}th row
   * puts a lower bound on the threshold's bucket, with a margin, and {@link #collect} takes
   * everything from there up in one pass over the scores; the candidates' own histogram then gives
   * the exact bucket. Exact whatever the sample: when the bound was too high (fewer than {@code
   * keep} candidates) or so low that a part outgrows four times its estimate, returns {@code null}
   * and the caller takes the exact path. Measured at 4096 x 16384, keep 100 per row (the training
   * benchmark's shape, ReLU'd Gaussian scores), 2 threads: 116-123 ms a selection with the full
   * histogram pass, 60-70 ms with the sample and the float comparison in {@link #collect}. On
   * Zen 5 the whole selection took about 145 ms a step with the scalar scan in {@code collect},
   * most of it in that scan, and 58-100 ms with the vector scan ({@link
   * ElementwiseOps#nextAtOrAbove}).
   */
  private static Candidates sampledCandidates(Scores s, long keep) {
    long[] sample = merged(highHistograms(s, SAMPLE_STRIDE));
    long sampled = 0;
    for (long count : sample) {
      sampled += count;
    }
    // The sample's share of keep, with a margin of 20% and three standard deviations.
    long n = s.n();
    double want = (double) keep * sampled / n;
    long target = (long) Math.ceil(want * 1.2 + 3 * Math.sqrt(want) + 16);
    if (target >= sampled) {
      return null;
    }
    long[] bound = thresholdBucket(sample, target);
    int lowest = (int) bound[0];
    long estimate = (long) Math.ceil((double) (bound[1] + sample[lowest]) * n / sampled);
    long[] capacity = new long[s.parts()];
    long[] limit = new long[s.parts()];
    for (int p = 0; p < s.parts(); p++) {
      double share = (double) (s.bounds()[p + 1] - s.bounds()[p]) / n;
      capacity[p] = Math.min(Integer.MAX_VALUE - 8, (long) (estimate * share * 1.5) + 1024);
      limit[p] = Math.min(Integer.MAX_VALUE - 8, 4 * capacity[p]);
    }
    long[][] positions = new long[s.parts()][];
    int[][] keys = new int[s.parts()][];
    if (!collect(s, lowest, capacity, limit, positions, keys)) {
      return null;
    }
    long[] high = new long[BUCKETS];
    long total = 0;
    for (int[] key : keys) {
      for (int k : key) {
        high[bucketHigh(k)]++;
      }
      total += key.length;
    }
    if (total < keep) {
      return null;
    }
    long[] bucket = thresholdBucket(high, keep);
    return new Candidates(positions, keys, (int) bucket[0], bucket[1]);
  }

  /** High-bit histograms of the score keys of every {@code rowStep}th row, one per part. */
  private static int[][] highHistograms(Scores s, int rowStep) {
    int[][] high = new int[s.parts()][];
    MemorySegment x = s.x();
    float[] sc = s.scale();
    int cols = s.cols();
    long[] bounds = s.bounds();
    long step = (long) rowStep * cols;
    s.pool().run(s.parts(), p -> {
      int[] h = new int[BUCKETS];
      for (long i = bounds[p]; i < bounds[p + 1]; i += step) {
        for (int c = 0; c < cols; c++) {
          h[bucketHigh(SortKey.of(x.getAtIndex(F, i + c) * sc[c]))]++;
        }
      }
      high[p] = h;
    });
    return high;
  }

  /**
   * Fills {@code positions} and {@code keys} with the candidates of each part, in position order:
   * the positions whose score key is in bucket {@code lowest} or above, and the keys. Each part
   * starts with room for {@code capacity} and grows up to {@code limit}; returns false if a part
   * would need more.
   */
  private static boolean collect(Scores s, int lowest, long[] capacity, long[] limit, long[][] positions,
      int[][] keys) {
    boolean[] overflow = new boolean[s.parts()];
    // The bucket's first key, and as a float when that is above zero: then a float comparison
    // (NaN, whose key is above every other, let through) tells candidates from the rest without
    // computing each key, and most scores are not candidates.
    int lowKey = (lowest << 16) ^ 0x80000000;
    boolean positive = lowKey > SortKey.of(0f);
    float bound = SortKey.value(lowKey);
    MemorySegment x = s.x();
    float[] sc = s.scale();
    int cols = s.cols();
    long[] bounds = s.bounds();
    ElementwiseOps ops = s.ops();
    s.pool().run(s.parts(), p -> {
      long[] pos = new long[(int) capacity[p]];
      int[] key = new int[(int) capacity[p]];
      int m = 0;
      collecting:
      for (long i = bounds[p]; i < bounds[p + 1]; i += cols) {
        // Above zero, the next passing column comes from the vector scan; else every score is keyed.
        for (int c = positive ? ops.nextAtOrAbove(x, i, sc, 0, cols, bound) : 0; c < cols;
            c = positive ? ops.nextAtOrAbove(x, i, sc, c + 1, cols, bound) : c + 1) {
          float v = x.getAtIndex(F, i + c) * sc[c];
          if (positive || SortKey.of(v) >= lowKey) {
            if (m == pos.length) {
              if (m >= limit[p]) {
                overflow[p] = true;
                break collecting;
              }
              int grown = (int) Math.min(limit[p], 2L * m + 16);
              pos = Arrays.copyOf(pos, grown);
              key = Arrays.copyOf(key, grown);
            }
            pos[m] = i + c;
            key[m] = SortKey.of(v);
            m++;
          }
        }
      }
      positions[p] = m == pos.length ? pos : Arrays.copyOf(pos, m);
      keys[p] = m == key.length ? key : Arrays.copyOf(key, m);
    });
    for (boolean o : overflow) {
      if (o) {
        return false;
      }
    }
    return true;
  }

  /** Pass 3: how many threshold ties each part holds, so each part knows its share of the ties (in position order). */
  private static void tieQuotas(WorkerPool pool, int parts, long[] bounds, MemorySegment scores, int threshold,
      long ties, long[] quota) {
    long[] equal = new long[parts];
    pool.run(parts, p -> {
      long e = 0;
      for (long i = bounds[p]; i < bounds[p + 1]; i++) {
        if (SortKey.of(scores.getAtIndex(F, i)) == threshold) {
          e++;
        }
      }
      equal[p] = e;
    });
    shareTies(ties, equal, quota);
  }

  /** Gives the {@code ties} kept threshold ties to the parts in order, each up to the {@code equal} it holds. */
  private static void shareTies(long ties, long[] equal, long[] quota) {
    long left = ties;
    for (int p = 0; p < equal.length; p++) {
      quota[p] = Math.min(left, equal[p]);
      left -= quota[p];
    }
  }

  /** The smallest score by {@link Float#compare}'s order (for {@code keep >= n}). */
  static float min(MemorySegment scores, long n) {
    int min = Integer.MAX_VALUE;
    for (long i = 0; i < n; i++) {
      min = Math.min(min, SortKey.of(scores.getAtIndex(F, i)));
    }
    return SortKey.value(min);
  }

  /**
   * The bucket of the {@code keep}-th largest key from a histogram (of the high or the low 16 bits
   * of the keys): the highest bucket whose count, added to those of every higher bucket, reaches
   * {@code keep}.
   *
   * @return {@code {bucket, keys in higher buckets}}; the bucket is -1 when all keys together are
   *     fewer than {@code keep}
   */
  private static long[] thresholdBucket(long[] counts, long keep) {
    long above = 0;
    int bucket = BUCKETS - 1;
    for (; bucket >= 0; bucket--) {
      if (above + counts[bucket] >= keep) {
        break;
      }
      above += counts[bucket];
    }
    return new long[] {bucket, above};
  }

  /** The parts' histograms added up, bucket by bucket. */
  private static long[] merged(int[][] parts) {
    long[] total = new long[BUCKETS];
    for (int[] h : parts) {
      for (int b = 0; b < BUCKETS; b++) {
        total[b] += h[b];
      }
    }
    return total;
  }

  private static int bucketHigh(int key) {
    return (key ^ 0x80000000) >>> 16;
  }
}
