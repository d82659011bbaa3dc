package io.crosscoder.cuda;

import io.crosscoder.backend.internal.PairArguments;
import io.crosscoder.cuda.driver.CudaContext;
import io.crosscoder.cuda.driver.DeviceMemory;
import io.crosscoder.cuda.driver.Kernel;
import io.crosscoder.cuda.driver.PinnedMemory;
import io.crosscoder.cuda.driver.Resources;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jcuda.Pointer;

/**
 * The fused pass of {@link io.crosscoder.backend.ComputeBackend#pairStatistics} on the GPU. Rows
 * are taken a chunk at a time: both tensors' bytes are staged through pinned memory to the device
 * as they are stored (f32, f16 or bf16; anything else, quantized or transposed, is decoded to f32
 * on the host first), the kernel {@code cc_pair_segments} sums each segment of at most 4096
 * elements of a row in f64 (products of f32 values are exact in f64, so only the additions round),
 * and the host adds the segments of each row, in order, in f64. Pairs with a NaN or infinite
 * element are left out and counted, as the contract says.
 *
 * <p>One pass runs at a time (the GPU works through its one stream in order anyway); the device
 * and pinned buffers are made once and reused.
 */
final class PairStatisticsPass implements AutoCloseable {
  /** Elements of a row summed by one kernel block: the same blocking as the CPU backend. */
  static final int SEGMENT = 4096;
  /** Elements per tensor per chunk: 16 MiB of f32. */
  private static final int CHUNK = 1 << 22;
  /** Segments per chunk at most, which bounds the result buffers (56 bytes a segment). */
  private static final int MAX_SEGMENTS = 1 << 16;

  private final CudaContext context;
  private DeviceMemory deviceA;
  private DeviceMemory deviceB;
  private DeviceMemory results;
  private PinnedMemory pinnedA;
  private PinnedMemory pinnedB;
  private float[] decoded;

  PairStatisticsPass(CudaContext context) {
    this.context = context;
  }

  synchronized PairStatistics run(TensorView base, TensorView target, long rowFrom, long rowTo, RowStatistics rows) {
    PairArguments.check(base, target, rowFrom, rowTo, rows);
    long cols = base.columns();
    long count = Math.multiplyExact(rowTo - rowFrom, cols);
    PairStatistics total = PairStatistics.EMPTY;
    if (cols == 0 || rowTo == rowFrom) {
      for (long r = rowFrom; rows != null && r < rowTo; r++) {
        rows.set((int) r, 0, 0, 0);
      }
      return new PairStatistics(count, 0, 0, 0, 0, 0, 0, 0, null);
    }
    buffers();
    if (cols > CHUNK) {
      // Rows longer than a chunk (large vectors): a piece of a row at a time, pieces on segment bounds.
      for (long r = rowFrom; r < rowTo; r++) {
        PairStatistics row = PairStatistics.EMPTY;
        for (long c0 = 0; c0 < cols; c0 += CHUNK) {
          int width = (int) Math.min(CHUNK, cols - c0);
          Result result = launch(base, target, r, 1, c0, width, (width + SEGMENT - 1) / SEGMENT);
          for (int s = 0; s < result.segments(); s++) {
            row = row.merge(result.segment(s));
          }
        }
        total = total.merge(row);
        if (rows != null) {
          rows.set((int) r, row.dot(), row.baseSquares(), row.targetSquares());
        }
      }
    } else {
      int width = (int) cols;
      int segments = (width + SEGMENT - 1) / SEGMENT;
      long perChunk = Math.max(1, Math.min(CHUNK / width, MAX_SEGMENTS / segments));
      for (long r0 = rowFrom; r0 < rowTo; r0 += perChunk) {
        int n = (int) Math.min(perChunk, rowTo - r0);
        Result result = launch(base, target, r0, n, 0, width, segments);
        for (int i = 0; i < n; i++) {
          PairStatistics row = PairStatistics.EMPTY;
          for (int s = 0; s < segments; s++) {
            row = row.merge(result.segment(i * segments + s));
          }
          total = total.merge(row);
          if (rows != null) {
            rows.set((int) (r0 + i), row.dot(), row.baseSquares(), row.targetSquares());
          }
        }
      }
    }
    // Segments carry no element count; the range's count is known.
    return new PairStatistics(count, total.dot(), total.baseSquares(), total.targetSquares(), total.diffSquares(),
        total.maxAbsDiff(), total.changed(), total.nonFinite(), null);
  }

  /**
   * Runs the kernel over rows {@code [r0, r0 + n)}, columns {@code [c0, c0 + width)}, cut into
   * {@code segmentsPerRow} segments a row, and returns the per-segment sums.
   */
  private Result launch(TensorView base, TensorView target, long r0, int n, long c0, int width, int segmentsPerRow) {
    int segments = n * segmentsPerRow;
    int typeA = stage(base, r0, n, c0, width, pinnedA, deviceA);
    int typeB = stage(target, r0, n, c0, width, pinnedB, deviceB);
    long sumsBytes = 32L * segments;
    long maxBytes = 4L * segments;
    var sums = results.pointer();
    var max = sums.plus(32L * MAX_SEGMENTS);
    var counts = max.plus(4L * MAX_SEGMENTS);
    context.launch(Kernel.PAIR_SEGMENTS, segments, CudaContext.BLOCK, 0, deviceA.pointer(), typeA,
        deviceB.pointer(), typeB, width, SEGMENT, segmentsPerRow, sums, max, counts);
    Result r = new Result(new double[4 * segments], new float[segments], new long[2 * segments]);
    context.copyToHost(Pointer.to(r.sums), sums, sumsBytes);
    context.copyToHost(Pointer.to(r.max), max, maxBytes);
    context.copyToHost(Pointer.to(r.counts), counts, 16L * segments);
    return r;
  }

  /**
   * Puts rows {@code [r0, r0 + n)}, columns {@code [c0, c0 + width)} of {@code v} on the device,
   * row-major, and returns the kernel's type code: the stored bytes as they are for plain f32, f16
   * and bf16, else f32 decoded on the host.
   */
  private int stage(TensorView v, long r0, int n, long c0, int width, PinnedMemory pinned, DeviceMemory device) {
    long elements = (long) n * width;
    if (v.isPlainFloat()) {
      int bytes = v.dtype().byteSize();
      long from = (r0 * v.columns() + c0) * bytes;
      MemorySegment.copy(v.data(), from, pinned.segment(), 0, elements * bytes);
      pinned.copyToDevice(0, device.pointer(), elements * bytes);
      return switch (v.dtype()) {
        case F32 -> 0;
        case F16 -> 1;
        default -> 2;
      };
    }
    float[] rowsF32 = decoded((int) elements);
    if (v.transposed()) {
      // Stored as [columns, rows]: each stored row holds one logical column; read runs of it.
      long logicalRows = v.rows();
      float[] run = new float[n];
      for (int c = 0; c < width; c++) {
        v.readFloats((c0 + c) * logicalRows + r0, run, 0, n);
        for (int i = 0; i < n; i++) {
          rowsF32[i * width + c] = run[i];
        }
      }
    } else {
      for (int i = 0; i < n; i++) {
        v.readRow(r0 + i, c0, rowsF32, i * width, width);
      }
    }
    MemorySegment.copy(rowsF32, 0, pinned.segment(), ValueLayout.JAVA_FLOAT, 0, (int) elements);
    pinned.copyToDevice(0, device.pointer(), 4 * elements);
    return 0;
  }

  private float[] decoded(int n) {
    if (decoded == null || decoded.length < n) {
      decoded = new float[Math.max(n, 1 << 16)];
    }
    return decoded;
  }

  /** Makes the device and pinned buffers on first use, all or none. */
  private void buffers() {
    if (deviceA != null) {
      return;
    }
    AutoCloseable[] made = new AutoCloseable[5];
    try {
      made[0] = context.allocate(4L * CHUNK);
      made[1] = context.allocate(4L * CHUNK);
      made[2] = context.allocate(56L * MAX_SEGMENTS);
      made[3] = context.pinned(4L * CHUNK);
      made[4] = context.pinned(4L * CHUNK);
    } catch (RuntimeException e) {
      RuntimeException cleanup = Resources.closeAll(made);
      if (cleanup != null) {
        e.addSuppressed(cleanup);
      }
      throw e;
    }
    deviceA = (DeviceMemory) made[0];
    deviceB = (DeviceMemory) made[1];
    results = (DeviceMemory) made[2];
    pinnedA = (PinnedMemory) made[3];
    pinnedB = (PinnedMemory) made[4];
  }

  @Override
  public synchronized void close() {
    RuntimeException failure = Resources.closeAll(pinnedA, pinnedB, deviceA, deviceB, results);
    deviceA = null;
    deviceB = null;
    results = null;
    pinnedA = null;
    pinnedB = null;
    if (failure != null) {
      throw failure;
    }
  }

  /** The kernel's outputs for one chunk: four f64 sums, the maximum and two counts per segment. */
  private record Result(double[] sums, float[] max, long[] counts) {
    int segments() {
      return max.length;
    }

    /** Segment {@code g}'s sums (with no element count). */
    PairStatistics segment(int g) {
      return new PairStatistics(0, sums[4 * g], sums[4 * g + 1], sums[4 * g + 2], sums[4 * g + 3], max[g],
          counts[2 * g], counts[2 * g + 1], null);
    }
  }
}
