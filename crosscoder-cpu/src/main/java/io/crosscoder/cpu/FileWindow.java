package io.crosscoder.cpu;

import io.crosscoder.CrosscoderException;
import io.crosscoder.InvalidInputException;
import io.crosscoder.tensor.FileRegion;
import io.crosscoder.tensor.MappedReads;
import io.crosscoder.tensor.TensorLimits;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;

/**
 * One side of a {@link PairPass} read from its file with positional reads ({@code pread}) into a
 * small native buffer, {@value #BYTES} bytes at a time, instead of through the mapping. The kernel
 * then reads the buffer, which stays in L2.
 *
 * <p>Why: the first touch of each 4 KiB page of a mapping costs more than the page cache's copy of
 * it, and on some virtual machines far more. On the Zen 5 sandbox this was measured on, a C loop
 * summing a 3 GB safetensors file from the page cache ran at 1.4-2.5 GB/s through a fresh mapping
 * (with {@code MADV_POPULATE_READ}, {@code MAP_POPULATE} or {@code MADV_HUGEPAGE} alike; 7-30 GB/s
 * on a second pass over the same mapping) and at 15-19 GB/s through {@code pread} into a 256 KiB
 * buffer. The diff reads each byte once, so it only ever sees the first touch.
 *
 * <p>Used for views with a {@link TensorView#fileRegion()} whose file is still the one mapped
 * ({@link FileRegion#sameFile()}); other views, and everything when {@code
 * -Dcrosscoder.cpu.fileReads=false}, read the mapping. The channel is opened per pass and closed
 * after it, so an interrupt (which closes a {@link FileChannel}) only ends its own pass, and no
 * descriptor outlives it; for a small pass that costs a few microseconds more than the mapping.
 * A read that ends before the region does (the file was truncated meanwhile) throws the mapping's
 * {@link MappedReads#changed} error. Small passes come here too for that reason: a vector load
 * from a truncated mapping in C2-compiled code is not one the JVM turns into an {@code
 * InternalError} but a SIGBUS that ends the process (seen in this class's test with the window
 * off: {@code VectorPairKernel.bf16Block}, compiled by C2, in the crash report). One per thread; not
 * thread-safe.
 */
final class FileWindow implements AutoCloseable {
  /** The buffer: 256 KiB, 32 blocks of 4096 bf16 elements. */
  static final int BYTES = 256 << 10;

  /** Passes opened on a file so far in this JVM, for tests. */
  static final LongAdder OPENED = new LongAdder();
  private static final boolean ENABLED = !"false".equalsIgnoreCase(System.getProperty("crosscoder.cpu.fileReads"));

  private MemorySegment buffer;
  private ByteBuffer bytes;
  private FileChannel channel;
  private Path file;
  private String tensor;
  private long start;
  private int elementBytes;
  private long lo;
  private long hi;

  /**
   * Opens the view's file for a pass, when that is how it should be read.
   *
   * @return whether the pass reads through this window ({@link #at}); false to read the mapping
   */
  boolean open(TensorView view) {
    if (!ENABLED) {
      return false;
    }
    Optional<FileRegion> region = view.fileRegion();
    // A closed checkpoint's views must fail as they would on the mapping, not read on.
    if (region.isEmpty() || !view.data().scope().isAlive()) {
      return false;
    }
    try {
      channel = FileChannel.open(region.get().file(), StandardOpenOption.READ);
    } catch (IOException | RuntimeException e) {
      return false;
    }
    // Checked after the open, so that the channel is on the file the mapping shows (the mapping
    // keeps that file's inode from being reused), not on one renamed over it in between.
    if (!region.get().sameFile()) {
      close();
      return false;
    }
    OPENED.increment();
    if (buffer == null) {
      buffer = Arena.ofAuto().allocate(BYTES, 64);
      bytes = buffer.asByteBuffer();
    }
    file = region.get().file();
    tensor = view.name();
    start = region.get().offset();
    elementBytes = view.dtype().byteSize();
    lo = 0;
    hi = 0;
    return true;
  }

  /** The buffer the elements are read into, for the kernel. */
  MemorySegment segment() {
    return buffer;
  }

  /**
   * Makes elements {@code [at, at + n)} of the tensor resident, reading ahead as far as {@code end}
   * (or the buffer), and returns where element {@code at} is in {@link #segment()}, in elements.
   *
   * @param at the first element wanted
   * @param n how many; at most a buffer's worth
   * @param end the pass's end, in elements; {@code at + n <= end}
   * @return the element index of {@code at} in the buffer
   * @throws InvalidInputException if the file cannot be read or ends early
   */
  long at(long at, int n, long end) {
    if (at >= lo && at + n <= hi) {
      return at - lo;
    }
    long count = Math.min(BYTES / elementBytes, end - at);
    bytes.clear().limit((int) (count * elementBytes));
    long position = start + at * elementBytes;
    try {
      while (bytes.hasRemaining()) {
        if (channel.read(bytes, position + bytes.position()) < 0) {
          throw MappedReads.changed(file, tensor, null);
        }
      }
    } catch (ClosedByInterruptException e) {
      // The thread was interrupted (its channel is closed by that): not the file's fault.
      Thread.currentThread().interrupt();
      throw new CrosscoderException("interrupted while reading " + file, e);
    } catch (IOException e) {
      throw new InvalidInputException(file, TensorLimits.shortName(tensor), "cannot read the file: " + e, e);
    }
    lo = at;
    hi = at + count;
    return 0;
  }

  /** Closes the pass's channel, if one is open. */
  @Override
  public void close() {
    FileChannel c = channel;
    channel = null;
    if (c != null) {
      try {
        c.close();
      } catch (IOException e) {
        // Read-only: nothing was written that a failed close could lose.
      }
    }
  }
}
