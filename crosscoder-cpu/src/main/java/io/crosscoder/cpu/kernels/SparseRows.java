package io.crosscoder.cpu.kernels;

import io.crosscoder.backend.internal.KernelArguments;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The compressed-sparse-row kernels: {@link io.crosscoder.backend.Kernels#spmm} as one axpy of a
 * dense row per non-zero (rows split over threads; with the transpose, which scatters into output
 * rows, the columns of the output are split instead so no two threads write one element), and
 * {@link io.crosscoder.backend.Kernels#denseToCsr}.
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

  static void multiply(WorkerPool pool, ElementwiseOps ops, boolean trans, int rows, int cols, int n,
      float alpha, MemorySegment rowStart, MemorySegment colIndex, MemorySegment values,
      MemorySegment dense, float beta, MemorySegment out) {
    if (!trans) {
      pool.forRange(rows, Math.max(1, (1 << 15) / Math.max(1, n)), 1, (from, to) -> {
        for (long r = from; r < to; r++) {
          long row = r * n;
          applyBeta(ops, out, row, row + n, beta);
          for (int t = rowStart.getAtIndex(I, r); t < rowStart.getAtIndex(I, r + 1); t++) {
            float v = alpha * values.getAtIndex(F, t);
            ops.axpy(v, dense, (long) colIndex.getAtIndex(I, t) * n, out, row, n);
          }
        }
      });
    } else {
      pool.forRange(n, 256, 16, (j0, j1) -> {
        int width = (int) (j1 - j0);
        for (long c = 0; c < cols; c++) {
          applyBeta(ops, out, c * n + j0, c * n + j1, beta);
        }
        for (int r = 0; r < rows; r++) {
          long src = (long) r * n + j0;
          for (int t = rowStart.getAtIndex(I, r); t < rowStart.getAtIndex(I, r + 1); t++) {
            float v = alpha * values.getAtIndex(F, t);
            ops.axpy(v, dense, src, out, (long) colIndex.getAtIndex(I, t) * n + j0, width);
          }
        }
      });
    }
  }

  private static void applyBeta(ElementwiseOps ops, MemorySegment out, long from, long to, float beta) {
    if (beta == 0f) {
      ops.fill(out, from, to, 0f);
    } else if (beta != 1f) {
      ops.scale(beta, out, from, to);
    }
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
