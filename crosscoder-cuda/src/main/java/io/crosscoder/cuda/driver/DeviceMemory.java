package io.crosscoder.cuda.driver;

/**
 * One device allocation ({@code cuMemAlloc}), freed by {@link #close()}. Made by {@link
 * CudaContext#allocate}. Thread-safe; closing is idempotent.
 */
public final class DeviceMemory implements AutoCloseable {
  private final CudaContext context;
  private final DevicePointer pointer;
  private final long bytes;
  private boolean freed;

  DeviceMemory(CudaContext context, DevicePointer pointer, long bytes) {
    this.context = context;
    this.pointer = pointer;
    this.bytes = bytes;
  }

  /** The start of the allocation. */
  public DevicePointer pointer() {
    return pointer;
  }

  /** The size in bytes. */
  public long bytes() {
    return bytes;
  }

  /** The context the memory belongs to. */
  public CudaContext context() {
    return context;
  }

  @Override
  public synchronized void close() {
    if (!freed) {
      freed = true;
      context.free(pointer);
    }
  }
}
