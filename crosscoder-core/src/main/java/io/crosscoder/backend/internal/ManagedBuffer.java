package io.crosscoder.backend.internal;

import io.crosscoder.backend.Kernels;
import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.tensor.DType;
import java.util.Objects;

/**
 * The bookkeeping every {@link DeviceBuffer} implementation needs, whatever memory it holds: the
 * kernels that own it, root and slice, the element offset of a slice in its root, the closed flag
 * (kept by the root, so closing the root ends its slices), and the overlap tests that kernels use
 * to refuse aliased arguments. Subclasses add the memory (a native segment, a device pointer) and
 * free it in {@link #release()}.
 *
 * <p>Thread-safe: {@link #close()} frees at most once; the other methods read final fields and a
 * volatile flag.
 */
public abstract class ManagedBuffer implements DeviceBuffer {
  private final Kernels owner;
  private final DType dtype;
  private final long size;
  private final ManagedBuffer root;
  private final long rootOffset;
  private volatile boolean closed;

  /** A root buffer of {@code size} elements of {@code dtype}, owned by {@code owner}. */
  protected ManagedBuffer(Kernels owner, DType dtype, long size) {
    this.owner = Objects.requireNonNull(owner, "owner");
    this.dtype = Objects.requireNonNull(dtype, "dtype");
    this.size = size;
    this.root = this;
    this.rootOffset = 0;
  }

  /** A slice: elements {@code [offset, offset + count)} of {@code parent}, already range-checked. */
  protected ManagedBuffer(ManagedBuffer parent, long offset, long count) {
    this.owner = parent.owner;
    this.dtype = parent.dtype;
    this.size = count;
    this.root = parent.root;
    this.rootOffset = parent.rootOffset + offset;
  }

  @Override
  public final DType dtype() {
    return dtype;
  }

  @Override
  public final long size() {
    return size;
  }

  /** The kernels that allocated this buffer (its root). */
  public final Kernels owner() {
    return owner;
  }

  /** The buffer that owns the memory; {@code this} for a root. */
  public final ManagedBuffer root() {
    return root;
  }

  /** The element offset of this buffer's first element in its {@link #root()}. */
  public final long rootOffset() {
    return rootOffset;
  }

  /** Whether this buffer owns its memory (it is not a slice). */
  public final boolean isRoot() {
    return root == this;
  }

  @Override
  public final boolean isOpen() {
    return !root.closed;
  }

  /** Whether any element of this buffer is also an element of {@code other}. */
  public final boolean overlaps(ManagedBuffer other) {
    return root == other.root && rootOffset < other.rootOffset + other.size
        && other.rootOffset < rootOffset + size;
  }

  /** Whether both buffers start at the same element of the same root (the in-place case). */
  public final boolean sameStart(ManagedBuffer other) {
    return root == other.root && rootOffset == other.rootOffset;
  }

  @Override
  public final DeviceBuffer slice(long offset, long count) {
    if (offset < 0 || count < 0 || offset > size - count) {
      throw new IllegalArgumentException("slice [" + offset + ", " + offset + " + " + count
          + ") is outside a buffer of " + size + " elements");
    }
    if (!isOpen()) {
      throw new IllegalStateException("the buffer is closed");
    }
    return newSlice(offset, count);
  }

  /** Makes the slice {@code [offset, offset + count)}, already range-checked. */
  protected abstract ManagedBuffer newSlice(long offset, long count);

  /** Frees the memory of a root buffer; called at most once, by {@link #close()}. */
  protected abstract void release();

  @Override
  public final void close() {
    if (!isRoot()) {
      return;
    }
    synchronized (this) {
      if (!closed) {
        closed = true;
        release();
      }
    }
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "[" + dtype + " x " + size + (isRoot() ? "" : ", slice")
        + (isOpen() ? "" : ", closed") + "]";
  }
}
