package io.crosscoder.backend;

import io.crosscoder.tensor.DType;

/**
 * An opaque handle to memory owned by a {@link Kernels} implementation: host memory for the CPU,
 * device memory for a GPU. Its contents are reached only through the kernels that made it
 * ({@link Kernels#upload}, {@link Kernels#download} and the compute kernels), so that the same
 * trainer code runs on every backend.
 *
 * <p>Element types: {@link DType#F32} (every kernel), {@link DType#BF16} (storage only: copy,
 * upload, download, conversion with {@link Kernels#copy}, and the A and B operands of {@link
 * Kernels#sgemm}) and {@link DType#I32} (indices: top-k and sparse rows).
 *
 * <p>A buffer made by {@link Kernels#allocate} owns its memory and frees it on {@link #close()}.
 * A {@linkplain #slice slice} shares its parent's memory, owns nothing, and is unusable once the
 * parent is closed. Buffers are not thread-safe for concurrent writes to overlapping elements;
 * kernels on disjoint buffers may run from several threads.
 */
public interface DeviceBuffer extends AutoCloseable {
  /** {@return the element type: F32, BF16 or I32} */
  DType dtype();

  /** {@return the number of elements} */
  long size();

  /** {@return the size in bytes: {@code size() * dtype().byteSize()}} */
  default long byteSize() {
    return size() * dtype().byteSize();
  }

  /**
   * A view of elements {@code [offset, offset + count)} of this buffer, sharing its memory. Used
   * to pass a sub-matrix or one model's half of a weight matrix to a kernel. Closing a slice does
   * nothing; the slice becomes unusable when its root buffer is closed.
   *
   * @param offset the first element of the view, in elements of this buffer
   * @param count the number of elements in the view
   * @return the view, which owns nothing
   * @throws IllegalArgumentException if the range is not inside this buffer
   * @throws IllegalStateException if the buffer is closed
   */
  DeviceBuffer slice(long offset, long count);

  /** {@return whether the memory is still usable (its root buffer has not been closed)} */
  boolean isOpen();

  /** Frees the memory of a buffer from {@link Kernels#allocate}; does nothing on a slice. Idempotent. */
  @Override
  void close();
}
