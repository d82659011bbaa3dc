package io.crosscoder.cpu;

import io.crosscoder.backend.internal.PairArguments;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.Elements;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.MemorySegment;

/**
 * One fused pass over rows {@code [rowFrom, rowTo)} of a tensor pair: splits each logical row into
 * blocks of at most {@value #BLOCK} elements, runs the kernel on each, recomputes a block with
 * {@link ExactBlock} when its fast sums are not finite or are too small to trust ({@link BlockSums#needsExact}), and adds the f64 block sums up per row and
 * in total. Block boundaries depend only on the row length, never on the path, so the plain path,
 * the generic path and both kernels cut the data the same way.
 *
 * <p>Plain floats ({@link TensorView#isPlainFloat()} on both sides) are handed to the kernel as
 * segments, which it reads directly: the mapping, or for a view with a {@link
 * TensorView#fileRegion()}, a buffer filled from the file with positional reads ({@link
 * FileWindow} says why). Everything else is read into f32 scratch through {@link TensorView#readRow}, except
 * transposed matrices, which are read in storage order a tile of rows at a time so that each read
 * is a contiguous run.
 */
final class PairPass {
  /** Elements per block: the f32 lane sums never run over more than {@code BLOCK / lanes} terms. */
  static final int BLOCK = 4096;
  /** Floats in a transposed-tile buffer (256 KiB). */
  static final int TILE = 1 << 16;

  private PairPass() {}

  /** Per-thread buffers of bounded size; the tiles are made on first need. */
  static final class Scratch {
    final float[] a = new float[BLOCK];
    final float[] b = new float[BLOCK];
    final FileWindow windowA = new FileWindow();
    final FileWindow windowB = new FileWindow();
    final BlockSums sums;
    float[] tileA;
    float[] tileB;
    float[] column;

    Scratch(int lanes) {
      sums = new BlockSums(lanes);
    }
  }

  /** See {@link io.crosscoder.backend.ComputeBackend#pairStatistics}. */
  static PairStatistics run(PairKernel kernel, Scratch scratch, TensorView base, TensorView target,
      long rowFrom, long rowTo, RowStatistics rows) {
    PairArguments.check(base, target, rowFrom, rowTo, rows);
    Totals totals = new Totals();
    if (base.isPlainFloat() && target.isPlainFloat()) {
      plain(kernel, scratch, base, target, rowFrom, rowTo, rows, totals);
    } else {
      RowReader a = reader(base, rowTo, scratch, true);
      RowReader b = reader(target, rowTo, scratch, false);
      generic(kernel, scratch, base.columns(), a, b, rowFrom, rowTo, rows, totals);
    }
    long count = Math.multiplyExact(rowTo - rowFrom, base.columns());
    return new PairStatistics(count, totals.dot, totals.baseSquares, totals.targetSquares, totals.diffSquares,
        totals.maxAbsDiff, totals.changed, totals.nonFinite, null);
  }

  private static void plain(PairKernel kernel, Scratch scratch, TensorView base, TensorView target,
      long rowFrom, long rowTo, RowStatistics rows, Totals totals) {
    long columns = base.columns();
    MemorySegment a = base.data();
    MemorySegment b = target.data();
    DType typeA = base.dtype();
    DType typeB = target.dtype();
    int kindA = kind(typeA);
    int kindB = kind(typeB);
    BlockSums sums = scratch.sums;
    Totals row = new Totals();
    long first = rowFrom * columns;
    long count = (rowTo - rowFrom) * columns;
    long end = rowTo * columns;
    FileWindow windowA = scratch.windowA;
    FileWindow windowB = scratch.windowB;
    // The first thread here in a fresh JVM runs alone while the kernel compiles (WarmUp).
    boolean pilot = WarmUp.JVM.enter();
    try {
      boolean readA = windowA.open(base);
      boolean readB = windowB.open(target);
      if (!readA) {
        PageFaults.populate(a, first * typeA.byteSize(), count * typeA.byteSize());
      }
      if (!readB) {
        PageFaults.populate(b, first * typeB.byteSize(), count * typeB.byteSize());
      }
      MemorySegment sa = readA ? windowA.segment() : a;
      MemorySegment sb = readB ? windowB.segment() : b;
      long timed = 0;
      long since = pilot ? System.nanoTime() : 0;
      for (long r = rowFrom; r < rowTo; r++) {
        row.clear();
        for (long c = 0; c < columns; c += BLOCK) {
          int n = (int) Math.min(BLOCK, columns - c);
          long at = r * columns + c;
          long ia = readA ? windowA.at(at, n, end) : at;
          long ib = readB ? windowB.at(at, n, end) : at;
          kernel.plainBlock(sa, kindA, ia, sb, kindB, ib, n, sums);
          if (pilot && (timed += n) >= WarmUp.PROBE_ELEMENTS) {
            long now = System.nanoTime();
            pilot = !WarmUp.JVM.report(now - since, timed);
            since = now;
            timed = 0;
          }
          if (sums.needsExact()) {
            Elements.decode(typeA, sa, ia, scratch.a, 0, n);
            Elements.decode(typeB, sb, ib, scratch.b, 0, n);
            ExactBlock.accumulate(scratch.a, scratch.b, n, sums);
          }
          row.add(sums);
        }
        finishRow(r, row, rows, totals);
      }
    } finally {
      windowA.close();
      windowB.close();
      if (pilot) {
        WarmUp.JVM.open();
      }
    }
  }

  private static void generic(PairKernel kernel, Scratch scratch, long columns, RowReader a, RowReader b,
      long rowFrom, long rowTo, RowStatistics rows, Totals totals) {
    BlockSums sums = scratch.sums;
    Totals row = new Totals();
    for (long r = rowFrom; r < rowTo; r++) {
      row.clear();
      for (long c = 0; c < columns; c += BLOCK) {
        int n = (int) Math.min(BLOCK, columns - c);
        a.read(r, c, scratch.a, n);
        b.read(r, c, scratch.b, n);
        kernel.arrayBlock(scratch.a, scratch.b, n, sums);
        if (sums.needsExact()) {
          ExactBlock.accumulate(scratch.a, scratch.b, n, sums);
        }
        row.add(sums);
      }
      finishRow(r, row, rows, totals);
    }
  }

  private static void finishRow(long r, Totals row, RowStatistics rows, Totals totals) {
    if (rows != null) {
      rows.set((int) r, row.dot, row.baseSquares, row.targetSquares);
    }
    totals.add(row);
  }

  private static int kind(DType t) {
    return switch (t) {
      case F32 -> PairKernel.F32;
      case F16 -> PairKernel.F16;
      case BF16 -> PairKernel.BF16;
      default -> throw new IllegalStateException(t + " is not a plain float type");
    };
  }

  /** Fills {@code dst[0, n)} with logical row {@code row}, columns {@code [column, column + n)}. */
  @FunctionalInterface
  private interface RowReader {
    void read(long row, long column, float[] dst, int n);
  }

  private static RowReader reader(TensorView v, long rowTo, Scratch scratch, boolean first) {
    long columns = v.columns();
    if (v.transposed() && v.shape().length == 2 && columns > 0 && columns <= TILE) {
      if (scratch.column == null) {
        scratch.column = new float[TILE];
      }
      float[] tile;
      if (first) {
        tile = scratch.tileA == null ? (scratch.tileA = new float[TILE]) : scratch.tileA;
      } else {
        tile = scratch.tileB == null ? (scratch.tileB = new float[TILE]) : scratch.tileB;
      }
      return new TransposedRows(v, rowTo, tile, scratch.column);
    }
    return (row, column, dst, n) -> v.readRow(row, column, dst, 0, n);
  }

  /**
   * Logical rows of a matrix stored transposed ({@code [columns, rows]} in storage): loads a tile
   * of consecutive logical rows by reading, for every storage row, one contiguous run.
   */
  private static final class TransposedRows implements RowReader {
    private final TensorView view;
    private final long storageRowLength;
    private final int columns;
    private final long rowTo;
    private final float[] tile;
    private final float[] column;
    private long first = -1;
    private long end = -1;

    TransposedRows(TensorView view, long rowTo, float[] tile, float[] column) {
      this.view = view;
      this.storageRowLength = view.rows();
      this.columns = (int) view.columns();
      this.rowTo = rowTo;
      this.tile = tile;
      this.column = column;
    }

    @Override
    public void read(long row, long from, float[] dst, int n) {
      if (row < first || row >= end) {
        load(row);
      }
      System.arraycopy(tile, (int) ((row - first) * columns + from), dst, 0, n);
    }

    private void load(long row) {
      int k = (int) Math.min(TILE / columns, rowTo - row);
      for (int j = 0; j < columns; j++) {
        view.readFloats(j * storageRowLength + row, column, 0, k);
        for (int i = 0; i < k; i++) {
          tile[i * columns + j] = column[i];
        }
      }
      first = row;
      end = row + k;
    }
  }

  /** f64 sums over several blocks: a row, or the whole range. */
  private static final class Totals {
    double dot;
    double baseSquares;
    double targetSquares;
    double diffSquares;
    double maxAbsDiff;
    long changed;
    long nonFinite;

    void clear() {
      dot = 0;
      baseSquares = 0;
      targetSquares = 0;
      diffSquares = 0;
      maxAbsDiff = 0;
      changed = 0;
      nonFinite = 0;
    }

    void add(BlockSums s) {
      dot += s.dot;
      baseSquares += s.baseSquares;
      targetSquares += s.targetSquares;
      diffSquares += s.diffSquares;
      maxAbsDiff = Math.max(maxAbsDiff, s.maxAbsDiff);
      changed += s.changed;
      nonFinite += s.nonFinite;
    }

    void add(Totals t) {
      dot += t.dot;
      baseSquares += t.baseSquares;
      targetSquares += t.targetSquares;
      diffSquares += t.diffSquares;
      maxAbsDiff = Math.max(maxAbsDiff, t.maxAbsDiff);
      changed += t.changed;
      nonFinite += t.nonFinite;
    }
  }
}
