package io.crosscoder.cpu.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Per-row top-k with a candidate buffer: each row is scanned once, an element is appended to a
 * buffer of {@code 2k} {@link SortKey#rank} longs only when it beats the current floor (the k-th
 * best so far), and a full buffer is cut back to its k best by a quickselect, which raises the
 * floor. On random rows about {@code k (1 + ln(cols / k))} elements get past the floor, so the
 * work beyond the scan is linear in that, not {@code log k} per element as with a heap, which
 * matters for the auxiliary loss's large k. See {@link io.crosscoder.backend.Kernels#topK} for the
 * order and the tie-break (ranks are distinct: the column is part of the rank).
 */
final class RowTopK {
  private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
  private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;

  private RowTopK() {}

  /** The scratch length {@link #rows} needs for {@code k}. */
  static int scratch(int k) {
    return 2 * k + 16;
  }

  /** Rows {@code [rowFrom, rowTo)}; {@code buf} is scratch of {@link #scratch(int)} longs. */
  static void rows(MemorySegment x, int cols, int k, MemorySegment values, MemorySegment indices,
      int rowFrom, int rowTo, long[] buf) {
    rows(x, cols, null, cols, k, values, indices, rowFrom, rowTo, buf);
  }

  /**
   * Rows {@code [rowFrom, rowTo)} among the listed columns only ({@code columns[0, count)},
   * increasing; all {@code cols} columns in order when {@code columns} is null), for {@link
   * io.crosscoder.backend.Kernels#topKOfColumns}.
   */
  static void rows(MemorySegment x, int cols, int[] columns, int count, int k, MemorySegment values,
      MemorySegment indices, int rowFrom, int rowTo, long[] buf) {
    int cap = scratch(k);
    for (int r = rowFrom; r < rowTo; r++) {
      long base = (long) r * cols;
      int size = 0;
      boolean cut = false;
      long floorRank = Long.MIN_VALUE;
      // The float test admits a superset of what beats the floor (NaN, and both zeros when the
      // floor is a zero, since it cannot tell -0.0 from 0.0); the rank decides.
      float floor = Float.NEGATIVE_INFINITY;
      for (int j = 0; j < count; j++) {
        int c = columns == null ? j : columns[j];
        float v = x.getAtIndex(F, base + c);
        if (cut && !(v > floor) && v == v) {
          continue;
        }
        long key = SortKey.rank(v, c);
        if (cut && key <= floorRank) {
          continue;
        }
        buf[size++] = key;
        if (size == cap) {
          selectLargest(buf, size, k);
          size = k;
          floorRank = min(buf, k);
          float f = SortKey.value(floorRank);
          floor = f == 0f ? -Float.MIN_VALUE : f;
          cut = true;
        }
      }
      if (size > k) {
        selectLargest(buf, size, k);
      }
      Arrays.sort(buf, 0, k);
      long out = (long) r * k;
      for (int t = 0; t < k; t++) {
        long key = buf[k - 1 - t];
        values.setAtIndex(F, out + t, SortKey.value(key));
        indices.setAtIndex(I, out + t, SortKey.column(key));
      }
    }
  }

  private static long min(long[] a, int n) {
    long m = Long.MAX_VALUE;
    for (int i = 0; i < n; i++) {
      m = Math.min(m, a[i]);
    }
    return m;
  }

  /**
   * Reorders {@code a[0, n)} (distinct values) so that its {@code k} largest come first, in no
   * particular order: Hoare-style quickselect with a median-of-three pivot.
   */
  static void selectLargest(long[] a, int n, int k) {
    int lo = 0;
    int hi = n - 1;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      long pivot = median(a[lo], a[mid], a[hi]);
      int i = lo;
      int j = hi;
      while (i <= j) {
        while (a[i] > pivot) {
          i++;
        }
        while (a[j] < pivot) {
          j--;
        }
        if (i <= j) {
          long t = a[i];
          a[i] = a[j];
          a[j] = t;
          i++;
          j--;
        }
      }
      // Now a[lo..j] >= pivot >= a[i..hi]; keep the side holding position k - 1.
      if (k - 1 <= j) {
        hi = j;
      } else if (k - 1 >= i) {
        lo = i;
      } else {
        return;
      }
    }
  }

  private static long median(long a, long b, long c) {
    return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
  }
}
