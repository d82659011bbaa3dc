package io.crosscoder.cpu;

import io.crosscoder.backend.BackendOptions;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.Kernels;
import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.tensor.TensorView;

/**
 * The compute backend on the CPU. Made by {@link CpuBackendProvider}; the code path (Vector API
 * or scalar) is fixed when it is made and named by {@link #description()}.
 *
 * <p><b>Pair statistics.</b> Each logical row is cut into blocks of at most 4096 elements. In a
 * block, every element pair {@code (a, b)} is read as f32, {@code d = b - a} is taken in f32, and
 * {@code a b}, {@code a^2}, {@code b^2}, {@code d^2} are added with fused multiply-adds into
 * interleaved f32 lanes (element {@code i} into lane {@code i mod lanes}, twice the machine's f32
 * vector length, 32 with AVX-512); the lanes are then added in f64, in a fixed order, to the row's
 * and the range's f64 sums. So no f32 sum runs over more than {@code 4096 / lanes} terms (128 or
 * fewer), and the sums are reproducible for a given lane count, which is the same for both paths
 * on one machine: the vector and the scalar path agree bit for bit. {@code max |d|} and the count
 * of pairs whose f32 bit patterns differ are exact.
 *
 * <p>A block whose f32 sums come out NaN or infinite (a non-finite element, or squares beyond the
 * f32 range, as with bf16 values near their maximum) is recomputed exactly: non-finite pairs are
 * left out of the sums and counted, products of the rest are formed and summed in f64. Products of
 * values below about {@code 2^-63} underflow in the f32 lanes, as in any f32 computation; each
 * such product loses at most {@code 2^-150} absolutely.
 *
 * <p>Where data is read: the vector path reads a pair of plain f32, f16 or bf16 tensors of one type
 * straight from their (mapped) segments; a pair of two different plain types is widened a block at
 * a time into f32 scratch first; the scalar path widens every block. Other dtypes and quantized
 * tensors go through {@link TensorView#readRow}, transposed matrices through storage-order tiles
 * read with {@link TensorView#readFloats}.
 *
 * <p>Thread-safe: calls from several threads at once use per-thread scratch of bounded size (four
 * 16 KiB blocks, and three 256 KiB tiles once a transposed matrix is met). Each call runs on the
 * calling thread; the caller splits large tensors into row ranges for parallelism.
 */
public final class CpuBackend implements ComputeBackend {
  static {
    // Before any kernel is compiled (see SegmentClasses).
    io.crosscoder.cpu.kernels.SegmentClasses.load();
  }

  private final PairKernel kernel;
  private final BackendOptions options;
  private final ThreadLocal<PairPass.Scratch> scratch;
  private CpuKernels kernels;

  CpuBackend(PairKernel kernel) {
    this(kernel, BackendOptions.DEFAULTS);
  }

  CpuBackend(PairKernel kernel, BackendOptions options) {
    this.kernel = kernel;
    this.options = options;
    int lanes = kernel.lanes();
    this.scratch = ThreadLocal.withInitial(() -> new PairPass.Scratch(lanes));
  }

  /** {@code "cpu"}. */
  @Override
  public String name() {
    return "cpu";
  }

  /** The code path, e.g. {@code "cpu: Vector API, 512-bit lanes"} or {@code "cpu: scalar (...)"}. */
  @Override
  public String description() {
    return "cpu: " + kernel.description();
  }

  /**
   * The fused pass over logical rows {@code [rowFrom, rowTo)}, as {@link
   * ComputeBackend#pairStatistics} specifies and computed as described on this class. Runs on the
   * calling thread.
   */
  @Override
  public PairStatistics pairStatistics(TensorView base, TensorView target, long rowFrom, long rowTo, RowStatistics rows) {
    return PairPass.run(kernel, scratch.get(), base, target, rowFrom, rowTo, rows);
  }

  /** The CPU training kernels ({@link CpuKernels#of(BackendOptions)} with this backend's options), made on first use. */
  @Override
  public synchronized Kernels kernels() {
    if (kernels == null) {
      kernels = CpuKernels.of(options);
    }
    return kernels;
  }

  /** Lets go of the calling thread's scratch and stops the kernels' threads. Idempotent. */
  @Override
  public synchronized void close() {
    scratch.remove();
    if (kernels != null) {
      kernels.close();
      kernels = null;
    }
  }

  @Override
  public String toString() {
    return description();
  }
}
