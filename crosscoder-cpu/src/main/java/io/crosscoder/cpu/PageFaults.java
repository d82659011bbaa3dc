package io.crosscoder.cpu;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * Maps a range of a memory-mapped checkpoint into the process in one system call before a pass
 * reads it: {@code madvise(MADV_POPULATE_READ)} (Linux 5.14 and later). Reading a mapped file
 * from the page cache otherwise takes a page fault every 64 KiB or so (the kernel maps a few pages
 * around each fault); on a 6 GB pair that is about 100,000 faults and half a second of CPU time,
 * where populating the same ranges ahead of the reads costs about a third of that. Nothing changes
 * in what is read.
 *
 * <p>Advisory only: off on other systems, where the foreign-function API may not be used without
 * a warning (the module's native access is not enabled), for segments that are not mapped or are
 * small, and for good after the first call the kernel refuses (an older kernel answers EINVAL).
 * {@code -Dcrosscoder.cpu.populate=false} turns it off. Thread-safe.
 */
final class PageFaults {
  /** Linux's {@code MADV_POPULATE_READ}. */
  private static final int MADV_POPULATE_READ = 22;
  /** The page size assumed for aligning the start; a kernel with larger pages refuses, and then it stays off. */
  private static final long PAGE = 4096;
  /** Ranges below this are left to the faults (a system call costs more than a few faults). */
  static final long MIN_BYTES = 1 << 20;

  private static final MethodHandle MADVISE = lookup();
  private static volatile boolean enabled = MADVISE != null;

  private PageFaults() {}

  /** Whether populating is on in this JVM. */
  static boolean enabled() {
    return enabled;
  }

  /**
   * Populates bytes {@code [offset, offset + length)} of {@code segment} when it is a mapped file
   * and the range is large enough; otherwise does nothing.
   *
   * @param segment the segment about to be read
   * @param offset the first byte to be read, in {@code segment}
   * @param length the bytes to be read
   */
  static void populate(MemorySegment segment, long offset, long length) {
    if (!enabled || length < MIN_BYTES || !segment.isNative() || !segment.isMapped()
        || offset < 0 || length > segment.byteSize() - offset) {
      return;
    }
    long address = segment.address() + offset;
    long start = address & -PAGE;
    try {
      int rc = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), address + length - start, MADV_POPULATE_READ);
      if (rc != 0) {
        enabled = false;
      }
    } catch (Throwable e) {
      enabled = false;
    }
  }

  private static MethodHandle lookup() {
    if ("false".equalsIgnoreCase(System.getProperty("crosscoder.cpu.populate"))
        || !System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")
        || !PageFaults.class.getModule().isNativeAccessEnabled()) {
      return null;
    }
    try {
      Linker linker = Linker.nativeLinker();
      return linker.defaultLookup().find("madvise")
          .map(s -> linker.downcallHandle(s, FunctionDescriptor.of(ValueLayout.JAVA_INT,
              ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT)))
          .orElse(null);
    } catch (RuntimeException | LinkageError e) {
      return null;
    }
  }
}
