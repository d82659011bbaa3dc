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
