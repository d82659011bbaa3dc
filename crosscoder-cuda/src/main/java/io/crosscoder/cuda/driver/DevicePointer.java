package io.crosscoder.cuda.driver;

import jcuda.driver.CUdeviceptr;

/**
 * An address in device memory: a base allocation and a byte offset into it. Immutable; owns
 * nothing (the allocation is owned by a {@link DeviceMemory}). The raw {@link #address()} goes to
 * kernels and to cuBLAS; {@link #jcuda()} goes to JCuda's copy and set functions.
 */
public final class DevicePointer {
  private final Base base;
  private final long offset;

  private DevicePointer(Base base, long offset) {
    this.base = base;
    this.offset = offset;
  }

  /** The pointer {@code bytes} further on. */
  public DevicePointer plus(long bytes) {
    return bytes == 0 ? this : new DevicePointer(base, offset + bytes);
  }

  /** The device address as a number, for kernel parameters and cuBLAS. */
  public long address() {
    return base.address() + offset;
  }

  /** The same address as JCuda's pointer type. */
  public CUdeviceptr jcuda() {
    return offset == 0 ? base : base.withByteOffset(offset);
  }

  @Override
  public String toString() {
    return "0x" + Long.toHexString(address());
  }

  /** A new, not yet allocated base for {@code cuMemAlloc} to fill in. */
  static DevicePointer unallocated() {
    return new DevicePointer(new Base(), 0);
  }

  /**
   * JCuda's pointer with its address readable: {@code cuMemAlloc} stores the address in the
   * object, and only subclasses may read it back.
   */
  static final class Base extends CUdeviceptr {
    long address() {
      return getNativePointer();
    }
  }

  Base base() {
    return base;
  }
}
