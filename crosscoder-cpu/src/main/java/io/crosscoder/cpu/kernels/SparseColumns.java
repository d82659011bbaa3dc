package io.crosscoder.cpu.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The sparse kernels that walk a compressed-sparse-row matrix column by column: {@link
 * io.crosscoder.backend.Kernels#spmm}, {@link io.crosscoder.backend.Kernels#sddmm} and {@link
 * io.crosscoder.backend.Kernels#denseTransposedSparse}.
 *
 * <p><b>Why by columns.</b> In a crosscoder step the columns are latents and each latent's dense
 * row (a decoder row of {@code 2d} floats) is reused by every token that keeps it: visiting the
 * non-zeros latent by latent keeps that row in L1 while the token rows ({@code B x 2d}, 25 MB at
 * the benchmark size) stream from the last-level cache, instead of every non-zero pulling one
 * random decoder row from memory. For the transposed product it also lets a thread own whole
 * output columns, so threads never write the same element and the result does not depend on the
 * thread count. The column form is a counting sort of the indices ({@code O(nnz + cols)}), built
 * per call; within a column the non-zeros stay in row order.
 */
final class SparseColumns {
  private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
  private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
  /** Output columns accumulated together before they are written, one cache line of f32 per output row. */
  private static final int BLOCK = 16;

  /** Column {@code c}'s non-zeros are {@code row[e]} and {@code position[e]} (their index in the row form) for {@code start[c] <= e < start[c + 1]}. */
  private final int[] start;
  private final int[] row;
  private final int[] position;

  private SparseColumns(int[] start, int[] row, int[] position) {
    this.start = start;
    this.row = row;
    this.position = position;
  }

  /** The column form of a validated row form with {@code nnz} non-zeros. */
  static SparseColumns of(int rows, int cols, MemorySegment rowStart, MemorySegment colIndex, int nnz) {
    int[] starts = rowStart.asSlice(0, (rows + 1L) * 4).toArray(I);
    int[] cols32 = colIndex.asSlice(0, nnz * 4L).toArray(I);
    int[] start = new int[cols + 1];
    for (int t = 0; t < nnz; t++) {
      start[cols32[t] + 1]++;
    }
    for (int c = 0; c < cols; c++) {
      start[c + 1] += start[c];
    }
    int[] next = java.util.Arrays.copyOf(start, cols);
    int[] row = new int[nnz];
    int[] position = new int[nnz];
    for (int r = 0; r < rows; r++) {
      for (int t = starts[r]; t < starts[r + 1]; t++) {
        int e = next[cols32[t]]++;
        row[e] = r;
        position[e] = t;
      }
    }
    return new SparseColumns(start, row, position);
  }

  /**
   * {@link io.crosscoder.backend.Kernels#spmm}: {@code out = alpha S dense + beta out} ({@code rows
   * x n}), or with {@code trans} {@code out = alpha S^T dense + beta out} ({@code cols x n}), one
   * axpy of a dense row per non-zero, visited latent by latent. Without the transpose the threads
   * own column ranges of the output (each reads its part of a dense row once, however many rows use
   * it); with it they own output rows. Either way every output element is summed by one thread in
   * row order of the non-zeros within a column, which for row-sorted input is the order of the row
   * form, whatever the thread count.
   */
  void product(WorkerPool pool, ElementwiseOps ops, boolean trans, int rows, int cols, int n, float alpha,
      MemorySegment values, MemorySegment dense, float beta, MemorySegment out) {
    if (!trans) {
      pool.forRange(n, 256, 16, (j0, j1) -> {
        int width = (int) (j1 - j0);
        for (long r = 0; r < rows; r++) {
          applyBeta(ops, out, r * n + j0, r * n + j1, beta);
        }
        for (int c = 0; c < cols; c++) {
          long src = (long) c * n + j0;
          for (int e = start[c]; e < start[c + 1]; e++) {
            ops.axpy(alpha * values.getAtIndex(F, position[e]), dense, src, out, (long) row[e] * n + j0, width);
          }
        }
      });
    } else {
      pool.forRange(cols, BLOCK, BLOCK, (c0, c1) -> {
        for (int c = (int) c0; c < c1; c++) {
          long dst = (long) c * n;
          applyBeta(ops, out, dst, dst + n, beta);
          for (int e = start[c]; e < start[c + 1]; e++) {
            ops.axpy(alpha * values.getAtIndex(F, position[e]), dense, (long) row[e] * n, out, dst, n);
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

  /** {@code out[t] = alpha * a(r, .) . b(colIndex[t], .)}, threads over columns. */
  void sddmm(WorkerPool pool, ElementwiseOps ops, int cols, int n, float alpha, MemorySegment a,
      MemorySegment b, MemorySegment out) {
    pool.forRange(cols, BLOCK, BLOCK, (c0, c1) -> {
      for (int c = (int) c0; c < c1; c++) {
        long bRow = (long) c * n;
        for (int e = start[c]; e < start[c + 1]; e++) {
          out.setAtIndex(F, position[e], alpha * ops.dot(a, (long) row[e] * n, b, bRow, n));
        }
      }
    });
  }

  /**
   * {@code out = alpha * dense^T S + beta * out} ({@code n x cols}). Each thread accumulates
   * {@link #BLOCK} columns at a time in native scratch (one axpy of a dense row per non-zero), then
   * writes them across the output rows; with {@code beta == 1} a block without non-zeros is skipped.
   */
  void denseTransposed(WorkerPool pool, ElementwiseOps ops, int cols, int n, float alpha,
      MemorySegment dense, MemorySegment values, float beta, MemorySegment out) {
    pool.forRange(cols, BLOCK, BLOCK, (c0, c1) -> {
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment acc = arena.allocate((long) BLOCK * n * 4, 64);
        for (int cb = (int) c0; cb < c1; cb += BLOCK) {
          int width = (int) Math.min(BLOCK, c1 - cb);
          if (beta == 1f && start[cb] == start[cb + width]) {
            continue;
          }
          for (int i = 0; i < width; i++) {
            int c = cb + i;
            long at = (long) i * n;
            ops.fill(acc, at, at + n, 0f);
            for (int e = start[c]; e < start[c + 1]; e++) {
              float v = alpha * values.getAtIndex(F, position[e]);
              ops.axpy(v, dense, (long) row[e] * n, acc, at, n);
            }
          }
          for (long j = 0; j < n; j++) {
            long o = j * cols + cb;
            for (int i = 0; i < width; i++) {
              float v = acc.getAtIndex(F, i * (long) n + j);
              if (beta == 0f) {
                out.setAtIndex(F, o + i, v);
              } else {
                out.setAtIndex(F, o + i, beta * out.getAtIndex(F, o + i) + v);
              }
            }
          }
        }
      }
    });
  }
}
