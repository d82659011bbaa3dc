package io.crosscoder.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Runs a pair kernel on small blocks so that the JIT compiles it early: the vector kernel's first
 * calls in a fresh JVM go through the Vector API's unintrinsified Java path, hundreds of times
 * slower than the compiled loop, until C2 has compiled it. Done on an otherwise idle core while a
 * command line still parses its arguments and the checkpoints' headers, the first pass then starts
 * on compiled code, or nearly (see {@link CpuBackendProvider#warmUp()}).
 *
 * <p>The point is to get the compilation queued, not to wait for it: each kind runs at most {@link
 * #MAX_CALLS} calls on a {@value #ELEMENTS}-element block (enough for the command line's JIT
 * thresholds, which {@code ./crosscoder} lowers for this kernel), and stops sooner once {@link
 * #FAST_CALLS} calls in a row took less than {@link #FAST_NANOS} each, i.e. ran compiled code. So
 * it costs a bounded few tens of milliseconds of CPU even on a loaded machine. The blocks are f32
 * and bf16, the kinds of nearly every checkpoint; an f16 pair compiles on first use as before.
 */
final class PairWarmUp {
  /** Elements per warm-up block: long enough for a realistic loop profile, short for the slow path. */
  static final int ELEMENTS = 1024;
  /** A call faster than this ran compiled code (an unintrinsified one takes a millisecond or more). */
  static final long FAST_NANOS = 50_000;
  /** Calls in a row that must be fast to stop early. */
  static final int FAST_CALLS = 8;
  /** The most calls per kind. */
  static final int MAX_CALLS = 64;

  private PairWarmUp() {}

  /**
   * Warms {@code kernel} up on f32 and bf16 blocks.
   *
   * @param kernel the kernel to run
   * @return how many calls it made in all
   */
  static int run(PairKernel kernel) {
    int n = ELEMENTS;
    int calls = 0;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment both = blocks(arena, n);
      MemorySegment a = both.asSlice(0, 4L * n);
      MemorySegment b = both.asSlice(4L * n, 4L * n);
      BlockSums sums = new BlockSums(kernel.lanes());
      for (int kind : new int[] {PairKernel.BF16, PairKernel.F32}) {
        int inRow = 0;
        for (int call = 0; call < MAX_CALLS && inRow < FAST_CALLS; call++, calls++) {
          long start = System.nanoTime();
          kernel.plainBlock(a, kind, 0, b, kind, 0, n, sums);
          inRow = System.nanoTime() - start < FAST_NANOS ? inRow + 1 : 0;
        }
      }
    }
    return calls;
  }

  /**
   * Two blocks of {@code n} small finite f32 values (different between the sides, so that every
   * sum has work to do), in a memory-mapped file when a temporary one can be made: checkpoints are
   * mapped, and code compiled on another kind of segment would be thrown away (an uncommon trap on
   * the segment's class) at the first real block. The file is deleted at once; the mapping stays
   * valid until the arena closes.
   */
  private static MemorySegment blocks(Arena arena, int n) {
    java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(8 * n).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      bytes.putFloat(4 * i, (i % 7) * 0.25f);
      bytes.putFloat(4 * (n + i), (i % 5) * 0.5f);
    }
    try {
      java.nio.file.Path file = java.nio.file.Files.createTempFile("crosscoder-warm-up", ".bin");
      try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
          java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
        while (bytes.hasRemaining()) {
          ch.write(bytes);
        }
        return ch.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, 8L * n, arena);
      } finally {
        java.nio.file.Files.deleteIfExists(file);
      }
    } catch (java.io.IOException | RuntimeException e) {
      MemorySegment m = arena.allocate(8L * n, 64);
      MemorySegment.copy(MemorySegment.ofBuffer(bytes.clear()), 0, m, 0, 8L * n);
      return m;
    }
  }
}
