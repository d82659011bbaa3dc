package io.crosscoder.cuda.driver;

import java.lang.foreign.MemorySegment;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

/**
 * Page-locked host memory ({@code cuMemAllocHost}): copies from it to the device run at full bus
 * speed, and a synchronous copy from it returns only when the data is on the device, so it can be
 * refilled at once. Seen from Java as a {@link MemorySegment} ({@link #segment()}), so mapped
 * tensors are staged into it with a bulk copy. Not thread-safe; closed by its user.
 */
public final class PinnedMemory implements AutoCloseable {
  private final CudaContext context;
  private final Pointer pointer;
  private final MemorySegment segment;
  private boolean freed;

  private PinnedMemory(CudaContext context, Pointer pointer, MemorySegment segment) {
    this.context = context;
    this.pointer = pointer;
    this.segment = segment;
  }

  static PinnedMemory allocate(CudaContext context, long bytes) {
    if (bytes <= 0 || bytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("pinned buffers hold 1 byte to 2 GiB, not " + bytes);
    }
    Pointer p = new Pointer();
    CudaContext.check(JCudaDriver.cuMemAllocHost(p, bytes), "cuMemAllocHost(" + bytes + " bytes)");
    context.allocated();
    return new PinnedMemory(context, p, MemorySegment.ofBuffer(p.getByteBuffer(0, bytes)));
  }

  /** The memory as a segment of {@link #bytes()} bytes. */
  public MemorySegment segment() {
    return segment;
  }

  /** The size in bytes. */
  public long bytes() {
    return segment.byteSize();
  }

  /** Copies {@code bytes} from offset {@code from} of this memory to the device. */
  public void copyToDevice(long from, DevicePointer dst, long bytes) {
    context.copyToDevice(dst, pointer.withByteOffset(from), bytes);
  }

  /** Copies {@code bytes} from the device into this memory at offset {@code to}. */
  public void copyFromDevice(DevicePointer src, long to, long bytes) {
    context.copyToHost(pointer.withByteOffset(to), src, bytes);
  }

  /** Frees the memory; the segment must not be used after. Idempotent. */
  @Override
  public synchronized void close() {
    if (!freed) {
      freed = true;
      try {
        context.makeCurrent();
        CudaContext.check(JCudaDriver.cuMemFreeHost(pointer), "cuMemFreeHost");
      } finally {
        context.freed();
      }
    }
  }
}
