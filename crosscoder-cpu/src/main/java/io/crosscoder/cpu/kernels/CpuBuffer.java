package io.crosscoder.cpu.kernels;

import io.crosscoder.backend.internal.ManagedBuffer;
import io.crosscoder.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A buffer of {@link CpuKernels}: native memory from its own shared {@link Arena} (64-byte
 * aligned, zero-filled), freed by {@link #close()}; or a read-only view of memory someone else
 * owns ({@link CpuKernels#wrapReadOnly}), for which closing frees nothing. Slices share the
 * root's segment.
 */
final class CpuBuffer extends ManagedBuffer {
  /** This buffer's elements (a slice of the root's segment for slices). */
  final MemorySegment segment;
  private final Arena arena;

  /** A root buffer owning {@code arena}. */
  CpuBuffer(CpuKernels owner, DType dtype, long size, Arena arena, MemorySegment segment) {
    super(owner, dtype, size);
    this.segment = segment;
    this.arena = arena;
  }

  /** A root view of {@code segment}, owned elsewhere (no arena: {@link #close()} frees nothing). */
  CpuBuffer(CpuKernels owner, DType dtype, long size, MemorySegment segment) {
    super(owner, dtype, size);
    this.segment = segment;
    this.arena = null;
  }

  private CpuBuffer(CpuBuffer parent, long offset, long count) {
    super(parent, offset, count);
    int bytes = parent.dtype().byteSize();
    this.segment = parent.segment.asSlice(offset * bytes, count * bytes);
    this.arena = null;
  }

  @Override
  protected ManagedBuffer newSlice(long offset, long count) {
    return new CpuBuffer(this, offset, count);
  }

  @Override
  protected void release() {
    if (arena != null) {
      arena.close();
    }
  }
}
