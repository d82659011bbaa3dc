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
    long above = 0;
    int b1 = BUCKETS - 1;
    for (; b1 >= 0; b1--) {
      long count = 0;
      for (int[] h : high) {
        count += h[b1];
      }
      if (above + count >= keep) {
        break;
      }
      above += count;
    }
    long need = keep - above;
    int prefix = b1;
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
    long above2 = 0;
    int b2 = BUCKETS - 1;
    for (; b2 >= 0; b2--) {
      long count = 0;
      for (int[] h : low) {
        count += h[b2];
      }
      if (above2 + count >= need) {
        break;
      }
      above2 += count;
    }
    long ties = need - above2;
    int threshold = ((prefix << 16) | b2) ^ 0x80000000;
    long equalTotal = 0;
    for (int[] h : low) {
      equalTotal += h[b2];
    }
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
   * See {@link io.crosscoder.backend.Kernels#batchTopKToCsr}; {@code 0 < keep}. The same radix
   * select on scores {@code x(r, c) * scale[c]} recomputed in each pass (a multiply is cheaper than
   * writing and re-reading a {@code rows x cols} score matrix), with the parts cut at row
   * boundaries; then a pass that counts each row's kept positive scores and one that writes them.
   * Nothing is written before the capacity check but the row starts.
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
    int threshold;
    long[] quota = new long[parts];
    if (keep >= n) {
      threshold = Integer.MIN_VALUE;
      java.util.Arrays.fill(quota, Long.MAX_VALUE);
    } else {
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
      long above = 0;
      int b1 = BUCKETS - 1;
      for (; b1 >= 0; b1--) {
        long count = 0;
        for (int[] h : high) {
          count += h[b1];
        }
        if (above + count >= keep) {
          break;
        }
        above += count;
      }
      long need = keep - above;
      int prefix = b1;
      int[][] low = new int[parts][];
      pool.run(parts, p -> {
        int[] h = new int[BUCKETS];
        for (long i = bounds[p]; i < bounds[p + 1]; i += cols) {
          for (int c = 0; c < cols; c++) {
            int k = SortKey.of(x.getAtIndex(F, i + c) * sc[c]);
            if (bucketHigh(k) == prefix) {
              h[k & 0xffff]++;
            }
          }
        }
        low[p] = h;
      });
      long above2 = 0;
      int b2 = BUCKETS - 1;
      for (; b2 >= 0; b2--) {
        long count = 0;
        for (int[] h : low) {
          count += h[b2];
        }
        if (above2 + count >= need) {
          break;
        }
        above2 += count;
      }
      long ties = need - above2;
      threshold = ((prefix << 16) | b2) ^ 0x80000000;
      long equalTotal = 0;
      for (int[] h : low) {
        equalTotal += h[b2];
      }
      if (ties == equalTotal) {
        java.util.Arrays.fill(quota, Long.MAX_VALUE);
      } else {
        int t = threshold;
        long[] equal = new long[parts];
        pool.run(parts, p -> {
          long e = 0;
          for (long i = bounds[p]; i < bounds[p + 1]; i += cols) {
            for (int c = 0; c < cols; c++) {
              e += SortKey.of(x.getAtIndex(F, i + c) * sc[c]) == t ? 1 : 0;
            }
          }
          equal[p] = e;
        });
        long left = ties;
        for (int p = 0; p < parts; p++) {
          quota[p] = Math.min(left, equal[p]);
          left -= quota[p];
        }
      }
    }
    // The kept positive scores of each row, then the rows themselves; both passes spend each
    // part's tie quota in the same position order, so they agree.
    int th = threshold;
    int positive = SortKey.of(0f);
    int[] counts = new int[rows];
    pool.run(parts, p -> {
      long allowed = quota[p];
      for (long i = bounds[p]; i < bounds[p + 1]; i += cols) {
        int count = 0;
        for (int c = 0; c < cols; c++) {
          int k = SortKey.of(x.getAtIndex(F, i + c) * sc[c]);
          boolean kept = k > th || (k == th && allowed-- > 0);
          count += kept && k > positive && k != NAN_KEY ? 1 : 0;
        }
        counts[(int) (i / cols)] = count;
      }
    });
    long nnz = 0;
    for (int r = 0; r < rows; r++) {
      rowStart.setAtIndex(I, r, (int) nnz);
      nnz += counts[r];
    }
    rowStart.setAtIndex(I, rows, (int) nnz);
    if (nnz > colIndexSize || nnz > valuesSize) {
      throw new IllegalArgumentException("the selection keeps " + nnz + " positive scores but colIndex has "
          + colIndexSize + " and values " + valuesSize + " elements");
    }
    pool.run(parts, p -> {
      long allowed = quota[p];
      for (long i = bounds[p]; i < bounds[p + 1]; i += cols) {
        long t = rowStart.getAtIndex(I, i / cols);
        for (int c = 0; c < cols; c++) {
          float v = x.getAtIndex(F, i + c);
          int k = SortKey.of(v * sc[c]);
          boolean kept = k > th || (k == th && allowed-- > 0);
          if (kept && k > positive && k != NAN_KEY) {
            colIndex.setAtIndex(I, t, c);
            values.setAtIndex(F, t, v);
            t++;
          }
        }
      }
    });
    if (keep >= n) {
      int min = Integer.MAX_VALUE;
      for (long i = 0; i < n; i++) {
        min = Math.min(min, SortKey.of(x.getAtIndex(F, i) * sc[(int) (i % cols)]));
      }
      return SortKey.value(min);
    }
    return SortKey.value(threshold);
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
    long left = ties;
    for (int p = 0; p < parts; p++) {
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

  private static int bucketHigh(int key) {
    return (key ^ 0x80000000) >>> 16;
  }
}
