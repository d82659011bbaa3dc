package io.crosscoder.cpu.kernels;

import io.crosscoder.backend.internal.KernelArguments;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The compressed-sparse-row kernels that walk rows: the checks of the row form, {@link
 * io.crosscoder.backend.Kernels#denseToCsr} and {@link io.crosscoder.backend.Kernels#csrToDense}
 * (the products walk columns, in {@link SparseColumns}).
 */
final class SparseRows {
  private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
  private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;

  private SparseRows() {}

  /**
   * Checks the row starts and column indices before anything is written.
   *
   * @return the number of non-zeros
   */
  static long validate(int rows, int cols, MemorySegment rowStart, MemorySegment colIndex,
      long colIndexSize, long valuesSize) {
    long nnz = KernelArguments.rowStarts(rowStart.asSlice(0, (rows + 1L) * 4).toArray(I), rows, colIndexSize, valuesSize);
    for (long t = 0; t < nnz; t++) {
      int c = colIndex.getAtIndex(I, t);
      if (c < 0 || c >= cols) {
        throw new IllegalArgumentException("colIndex[" + t + "] = " + c + " is outside [0, " + cols + ")");
      }
    }
    return nnz;
  }

  /** See {@link io.crosscoder.backend.Kernels#denseToCsr}. */
  static long compress(WorkerPool pool, MemorySegment x, int rows, int cols, MemorySegment rowStart,
      MemorySegment colIndex, long colIndexSize, MemorySegment values, long valuesSize) {
    long[] counts = new long[rows];
    pool.forRange(rows, Math.max(1, (1 << 16) / Math.max(1, cols)), 1, (from, to) -> {
      for (long r = from; r < to; r++) {
        long base = r * cols;
        long count = 0;
        for (int c = 0; c < cols; c++) {
          if (x.getAtIndex(F, base + c) != 0f) {
            count++;
          }
        }
        counts[(int) r] = count;
      }
    });
    long[] starts = new long[rows + 1];
    for (int r = 0; r < rows; r++) {
      starts[r + 1] = starts[r] + counts[r];
    }
    long nnz = starts[rows];
    if (nnz > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(nnz + " non-zeros do not fit I32 row starts");
    }
    if (nnz > colIndexSize || nnz > valuesSize) {
      throw new IllegalArgumentException("the matrix has " + nnz + " non-zeros but colIndex has "
          + colIndexSize + " and values " + valuesSize + " elements");
    }
    for (int r = 0; r <= rows; r++) {
      rowStart.setAtIndex(I, r, (int) starts[r]);
    }
    pool.forRange(rows, Math.max(1, (1 << 16) / Math.max(1, cols)), 1, (from, to) -> {
      for (long r = from; r < to; r++) {
        long base = r * cols;
        long t = starts[(int) r];
        for (int c = 0; c < cols; c++) {
          float v = x.getAtIndex(F, base + c);
          if (v != 0f) {
            colIndex.setAtIndex(I, t, c);
            values.setAtIndex(F, t, v);
            t++;
          }
        }
      }
    });
    return nnz;
  }

  /** See {@link io.crosscoder.backend.Kernels#csrToDense}; the arrays are already validated. */
  static void expand(WorkerPool pool, ElementwiseOps ops, int rows, int cols, MemorySegment rowStart,
      MemorySegment colIndex, MemorySegment values, MemorySegment out) {
    pool.forRange(rows, Math.max(1, (1 << 16) / Math.max(1, cols)), 1, (from, to) -> {
      for (long r = from; r < to; r++) {
        long base = r * cols;
        ops.fill(out, base, base + cols, 0f);
        for (int t = rowStart.getAtIndex(I, r); t < rowStart.getAtIndex(I, r + 1); t++) {
          long at = base + colIndex.getAtIndex(I, t);
          out.setAtIndex(F, at, out.getAtIndex(F, at) + values.getAtIndex(F, t));
        }
      }
    });
  }
}
