package io.crosscoder.cuda.kernels;

import io.crosscoder.backend.internal.ManagedBuffer;
import io.crosscoder.cuda.driver.DeviceMemory;
import io.crosscoder.cuda.driver.DevicePointer;
import io.crosscoder.tensor.DType;

/**
 * A buffer of {@link CudaKernels}: device memory from its own allocation, freed by {@link
 * #close()}. Slices point into their root's allocation.
 */
final class CudaBuffer extends ManagedBuffer {
  /** The address of this buffer's first element. */
  final DevicePointer pointer;
  private final DeviceMemory memory;

  CudaBuffer(CudaKernels owner, DType dtype, long size, DeviceMemory memory) {
    super(owner, dtype, size);
    this.memory = memory;
    this.pointer = memory.pointer();
  }

  private CudaBuffer(CudaBuffer parent, long offset, long count) {
    super(parent, offset, count);
    this.memory = null;
    this.pointer = parent.pointer.plus(offset * parent.dtype().byteSize());
  }

  /** The address of element {@code index} of this buffer. */
  DevicePointer at(long index) {
    return pointer.plus(index * dtype().byteSize());
  }

  @Override
  protected ManagedBuffer newSlice(long offset, long count) {
    return new CudaBuffer(this, offset, count);
  }

  @Override
  protected void release() {
    memory.close();
  }
}
