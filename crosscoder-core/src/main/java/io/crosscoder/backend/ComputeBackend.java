package io.crosscoder.backend;

import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.tensor.TensorView;

/**
 * The hot kernels, on some hardware. Obtained from a {@link ComputeBackendProvider}, usually via
 * {@link ComputeBackends#select(String)}. Implementations are thread-safe: the diff engine calls
 * {@link #pairStatistics} from several threads at once on disjoint row ranges.
 */
public interface ComputeBackend extends AutoCloseable {
  /**
   * The provider's name, e.g. {@code "cpu"}.
   *
   * @return the name of the provider that made this backend, lower case
   */
  String name();

  /**
   * One line for reports: the hardware and the code path, e.g. {@code "cpu: Vector API 256-bit"}.
   *
   * @return a short human-readable line naming the hardware and code path; never null
   */
  String description();

  /**
   * The fused pass over logical rows {@code [rowFrom, rowTo)} of a tensor pair of equal shape:
   * the sums of {@link PairStatistics}, accumulated in f64, over those rows only. When {@code
   * rows} is not null, the per-row sums of those rows are stored into it (row index = logical row).
   * The returned statistics carry no {@link RowStatistics} themselves.
   *
   * <p>Both views may have any {@link io.crosscoder.tensor.DType}, storage order and
   * quantization; plain f32/f16/bf16 ({@link TensorView#isPlainFloat()}) is the fast path.
   * Non-finite pairs are excluded and counted as {@link PairStatistics#nonFinite()} describes.
   *
   * @param base the base model's tensor; read, not kept
   * @param target the fine-tuned model's tensor, of the same shape; read, not kept
   * @param rowFrom the first logical row, inclusive, at least 0
   * @param rowTo the end row, exclusive, at most the number of rows
   * @param rows receives the per-row sums of {@code [rowFrom, rowTo)}, or null to skip them; calls
   *     on disjoint ranges may share it
   * @return the pair sums over the range, without row statistics
   * @throws IllegalArgumentException if the shapes differ or the range is outside the rows
   */
  PairStatistics pairStatistics(TensorView base, TensorView target, long rowFrom, long rowTo, RowStatistics rows);

  /**
   * The training kernels (GEMM, element-wise, top-k, Adam) on this backend's hardware, made on
   * first use and owned by this backend: closing the backend closes them.
   *
   * @return this backend's kernels, owned by the backend (closing it closes them); callers do not
   *     close them
   */
  Kernels kernels();

  /** Releases native resources. Idempotent. */
  @Override
  default void close() {}
}
