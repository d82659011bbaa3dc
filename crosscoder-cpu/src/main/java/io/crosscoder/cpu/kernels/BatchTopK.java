package io.crosscoder.cpu.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

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
      java.util.Arrays.fill(quota, Long.MAX_VALUE);
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
   * {@code rows x cols} score matrix), in two streaming passes over {@code x} with the parts cut at
   * row boundaries: the histogram of the keys' high 16 bits, which fixes the bucket the threshold is
   * in, then a pass that collects the candidates, the positions in that bucket or above, with their
   * keys. There are {@code keep} plus the bucket's share of positions at most (known from the
   * histogram before anything is allocated), so the low-bit histogram, the ties, the row counts and
   * the rows themselves are computed from the candidates alone. Nothing is written before the
   * capacity check but the row starts.
   *
   * @return the smallest kept score
   */
  static float selectToCsr(WorkerPool pool, MemorySegment x, MemorySegment scale, int rows, int cols, long keep,
      MemorySegment rowStart, MemorySegment colIndex, long colIndexSize, MemorySegment values, long valuesSize) {
    long n = (long) rows * cols;
    int parts = (int) Math.max(1, Math.min(Math.min(pool.threads(), rows), n / (1 << 16)));
    long[] bounds = new long[parts + 1];
    for (int p = 0; p <= parts; p++) {
      bounds[p] = (long) (int) ((long) rows * p / parts) * cols;
    }
    float[] sc = scale.asSlice(0, cols * 4L).toArray(F);
    // Pass 1: histogram of the high 16 bits of the score keys.
    int[][] high = new int[parts][];
    pool.run(parts, p -> {
      int[] h = new int[BUCKETS];
      for (long i = bounds[p]; i < bounds[p + 1]; i += cols) {
        for (int c = 0; c < cols; c++) {
          h[bucketHigh(SortKey.of(x.getAtIndex(F, i + c) * sc[c]))]++;
        }
      }
      high[p] = h;
    });
    int b1 = 0;
    long above = 0;
    if (keep < n) {
      long[] bucket = thresholdBucket(merged(high), keep);
      b1 = (int) bucket[0];
      above = bucket[1];
    }
    int prefix = b1;
    // Pass 2: the candidates (keys in the threshold's bucket or above) of each part, in position order.
    long[][] positions = new long[parts][];
    int[][] keys = new int[parts][];
    for (int p = 0; p < parts; p++) {
      long count = 0;
      for (int b = prefix; b < BUCKETS; b++) {
        count += high[p][b];
      }
      if (count > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException("the selection has " + count + " candidates in one part, over 2^31");
      }
      positions[p] = new long[(int) count];
      keys[p] = new int[(int) count];
    }
    pool.run(parts, p -> {
      long[] pos = positions[p];
      int[] key = keys[p];
      int m = 0;
      for (long i = bounds[p]; i < bounds[p + 1]; i += cols) {
        for (int c = 0; c < cols; c++) {
          int k = SortKey.of(x.getAtIndex(F, i + c) * sc[c]);
          if (bucketHigh(k) >= prefix) {
            pos[m] = i + c;
            key[m] = k;
            m++;
          }
        }
      }
    });
    int threshold;
    long[] quota = new long[parts];
    java.util.Arrays.fill(quota, Long.MAX_VALUE);
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
