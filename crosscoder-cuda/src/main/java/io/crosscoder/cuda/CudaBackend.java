package io.crosscoder.cuda;

import io.crosscoder.backend.BackendOptions;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.Kernels;
import io.crosscoder.cuda.blas.Cublas;
import io.crosscoder.cuda.driver.CudaContext;
import io.crosscoder.cuda.driver.Resources;
import io.crosscoder.cuda.kernels.CudaKernels;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.tensor.TensorView;
import java.util.function.Supplier;

/**
 * The compute backend on an NVIDIA GPU. Made by {@link CudaBackendProvider}; owns the GPU's
 * context for its lifetime. Weight diffs stream both tensors through pinned memory to the
 * device ({@link PairStatisticsPass}); crosscoder training runs on {@link CudaKernels}.
 *
 * <p>Thread-safe: the diff engine calls {@link #pairStatistics} from several threads; the calls
 * take turns on the GPU.
 */
public final class CudaBackend implements ComputeBackend {
  private final CudaContext context;
  private final Supplier<Cublas> cublas;
  private final String blasName;
  private final boolean tf32;
  private final PairStatisticsPass pairs;
  private CudaKernels kernels;
  private boolean closed;

  CudaBackend(CudaContext context, Supplier<Cublas> cublas, String blasName) {
    this(context, cublas, blasName, BackendOptions.DEFAULTS);
  }

  /** A backend whose kernels take TF32 from {@code options} ({@link BackendOptions#tf32OrDefault()}); other options do not apply. */
  CudaBackend(CudaContext context, Supplier<Cublas> cublas, String blasName, BackendOptions options) {
    this.context = context;
    this.cublas = cublas;
    this.blasName = blasName;
    this.tf32 = options.tf32OrDefault();
    this.pairs = new PairStatisticsPass(context);
  }

  /** {@code "cuda"}. */
  @Override
  public String name() {
    return "cuda";
  }

  /** The device, cuBLAS and the origin of the kernels, e.g. {@code "cuda: NVIDIA H100 ... ; cuBLAS 13.0 through FFM; kernels PTX ISA 7.0 from the jar"}. */
  @Override
  public String description() {
    return "cuda: " + context.deviceDescription() + "; " + blasName + "; kernels " + context.moduleOrigin();
  }

  /** The fused pass over logical rows {@code [rowFrom, rowTo)}, on the GPU; see {@link PairStatisticsPass}. */
  @Override
  public PairStatistics pairStatistics(TensorView base, TensorView target, long rowFrom, long rowTo, RowStatistics rows) {
    return pairs.run(base, target, rowFrom, rowTo, rows);
  }

  /** The GPU training kernels, made on first use (with their cuBLAS handle). */
  @Override
  public synchronized Kernels kernels() {
    if (closed) {
      throw new IllegalStateException("the cuda backend is closed");
    }
    if (kernels == null || kernels.isClosed()) { // a caller may have closed them: make new ones
      context.makeCurrent();
      kernels = new CudaKernels(context, cublas.get(), tf32);
    }
    return kernels;
  }

  /**
   * A further, independent set of kernels on this backend's GPU, with its own cuBLAS handle; the
   * caller closes it before this backend. For tests that need two owners of buffers.
   */
  CudaKernels newKernels() {
    context.makeCurrent();
    return new CudaKernels(context, cublas.get(), tf32);
  }

  /** Frees the kernels' and the diff pass's memory and releases the GPU. Idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    RuntimeException failure = Resources.closeAll(kernels, pairs, context);
    if (failure != null) {
      throw failure;
    }
  }

  @Override
  public String toString() {
    return description();
  }
}
