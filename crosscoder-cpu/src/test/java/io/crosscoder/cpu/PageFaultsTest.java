package io.crosscoder.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Populating mapped ranges before a pass reads them ({@link PageFaults}): fewer page faults, the
 * same bytes.
 */
class PageFaultsTest {
  private static final long MIB = 1 << 20;

  /** Minor page faults of this process so far, field 10 of /proc/self/stat. */
  private static long minorFaults() throws IOException {
    String stat = Files.readString(Path.of("/proc/self/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[7]);
  }

  private static Path file(Path dir, long bytes) throws IOException {
    Path p = dir.resolve("data.bin");
    ByteBuffer block = ByteBuffer.allocate((int) MIB).order(ByteOrder.LITTLE_ENDIAN);
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      for (long at = 0; at < bytes; at += MIB) {
        block.clear();
        for (int i = 0; i < MIB / 4; i++) {
          block.putFloat(4 * i, (float) ((at / 4 + i) % 1000));
        }
        ch.write(block);
      }
    }
    return p;
  }

  /** Sums one float per 4 KiB page: touches every page once. */
  private static double touch(MemorySegment m, long from, long to) {
    double s = 0;
    for (long at = from; at < to; at += 4096) {
      s += m.get(ValueLayout.JAVA_FLOAT_UNALIGNED, at);
    }
    return s;
  }

  @Test
  void populatingAMappedRangeTakesItsFaultsInOneCallAndChangesNothing(@TempDir Path dir) throws IOException {
    assumeTrue(System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux"), "Linux only");
    assumeTrue(PageFaults.enabled(), "madvise not reachable (native access off?)");
    long size = 64 * MIB;
    Path p = file(dir, size);
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
      MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
      // The first half read by faults, the second populated first: both are in the page cache.
      long before = minorFaults();
      double first = touch(m, 0, size / 2);
      long faulted = minorFaults() - before;

      long offset = size / 2 + 100; // an unaligned start is rounded down to its page
      PageFaults.populate(m, offset, size / 2 - 100);
      assumeTrue(PageFaults.enabled(), "this kernel refuses MADV_POPULATE_READ (before Linux 5.14)");
      before = minorFaults();
      double second = touch(m, size / 2, size);
      long afterPopulate = minorFaults() - before;

      // 32 MiB by faults is tens to hundreds of faults (the kernel maps 64 KiB or a whole large
      // folio around each); populated, only the JVM's own background faults remain.
      System.out.printf("minor faults reading 32 MiB: %d by faults, %d populated first%n", faulted, afterPopulate);
      assumeTrue(faulted >= 32, "this kernel maps so much per fault that there is nothing to save");
      assertThat(afterPopulate).as("faults reading 32 MiB populated").isLessThan(faulted / 4);
      // Same bytes either way: the values written, read back.
      double expectFirst = 0;
      double expectSecond = 0;
      for (long at = 0; at < size; at += 4096) {
        double v = (at / 4) % 1000;
        if (at < size / 2) {
          expectFirst += v;
        } else {
          expectSecond += v;
        }
      }
      assertThat(first).isEqualTo(expectFirst);
      assertThat(second).isEqualTo(expectSecond);
    }
  }

  @Test
  void populateIgnoresWhatItCannotOrNeedNotDo() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment heap = MemorySegment.ofArray(new float[1 << 20]);
      MemorySegment nativeMemory = arena.allocate(4 * MIB);
      boolean was = PageFaults.enabled();
      PageFaults.populate(heap, 0, heap.byteSize());
      PageFaults.populate(nativeMemory, 0, nativeMemory.byteSize());
      PageFaults.populate(nativeMemory, 4 * MIB - 10, 2 * MIB); // past the end
      assertThat(PageFaults.enabled()).isEqualTo(was);
    }
  }
}
