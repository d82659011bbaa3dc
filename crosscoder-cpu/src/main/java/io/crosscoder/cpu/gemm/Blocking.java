package io.crosscoder.cpu.gemm;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * Cache blocking of {@link Sgemm} in the GotoBLAS/BLIS arrangement: a {@code kc x nc} panel of
 * {@code op(B)} is packed once per {@code (jc, pc)} and read from L3, an {@code mc x kc} block of
 * {@code op(A)} is packed and stays in L2, and each {@code kc x nr} sliver of packed B is reused
 * from L2 by the {@code mc / mr} micro-kernel calls that sweep the block of A over it.
 *
 * <p>The depth {@code kc} is deeper than the textbook "B sliver in L1" choice: each depth block
 * reads and writes the whole of C once more, and on the machine this was tuned on (Zen 4, 32 KiB
 * L1d, 1 MiB L2) {@code kc = 1024} measured 15-25% faster than {@code kc = 256} at the crosscoder's
 * shapes, the L2 feeding the kernel's slivers fast enough. On Ice Lake (48 KiB L1d, 1.25 MiB L2)
 * with the 8 x 32 kernel the same held: {@code kc} 256, 384 and 512 (with {@code mc} up to 960)
 * measured 10-40% slower than 1024, and 2048 no faster.
 *
 * @param mc rows of an A block (rounded up to a multiple of the kernel's mr)
 * @param kc depth of a block (the inner dimension)
 * @param nc columns of a B panel (rounded up to a multiple of the kernel's nr)
 */
public record Blocking(int mc, int kc, int nc) {
  /**
   * The default of {@link #packedBBytes()}: 0, the textbook order. Keeping 32 MiB (the three
   * depth panels of the crosscoder's {@code k = 3072}) measured 1-7% faster on Ice Lake, within
   * the shared machine's noise, and costs 24 MiB more per thread at that shape, so it is not the
   * default; see {@link Sgemm}.
   */
  public static final long DEFAULT_PACKED_B_BYTES = 0;

  /**
   * System property prefix for overrides: {@code crosscoder.cpu.gemm.mc}, {@code .kc}, {@code .nc},
   * and {@code .packedBMiB} for {@link #packedBBytes()}.
   */
  public static final String PROPERTY_PREFIX = "crosscoder.cpu.gemm.";

  /** glibc's {@code _SC_LEVEL2_CACHE_SIZE} (from {@code bits/confname.h}). */
  private static final int SC_LEVEL2_CACHE_SIZE = 191;

  /** Checks that every size is positive. */
  public Blocking {
    if (mc < 1 || kc < 1 || nc < 1) {
      throw new IllegalArgumentException("block sizes must be positive: mc " + mc + ", kc " + kc + ", nc " + nc);
    }
  }

  /**
   * Sizes for this machine from its per-core L2 size ({@link #l2Bytes()}; 512 KiB assumed where it
   * cannot be read): {@code kc = clamp(L2 / 1 KiB, 256, 1024)}, {@code mc} the largest block of
   * {@code 3/4} of L2 ({@code 192} rows at 1 MiB, {@code kc = 1024}), {@code nc = 2048} (an 8 MiB
   * panel of B per thread at {@code kc = 1024}). Each can be overridden with a system property
   * {@value #PROPERTY_PREFIX}{@code mc|kc|nc}.
   */
  public static Blocking forThisMachine() {
    long l2 = l2Bytes().orElse(512 * 1024);
    int kc = (int) Math.max(256, Math.min(1024, l2 / 1024));
    int mc = (int) Math.max(24, Math.min(512, (l2 * 3 / 4) / (4L * kc)));
    int nc = 2048;
    return new Blocking(override("mc", mc), override("kc", kc), override("nc", nc));
  }

  /**
   * Packed {@code op(B)} that {@link Sgemm} may keep per thread, in bytes (one depth panel is
   * kept whatever the budget): {@value #DEFAULT_PACKED_B_BYTES} or the system property {@value #PROPERTY_PREFIX}{@code
   * packedBMiB} (0 for the textbook loop order). Keeping several depth panels lets each block of C
   * take all of them while it is in cache instead of coming back from memory once per depth block.
   */
  public static long packedBBytes() {
    String v = System.getProperty(PROPERTY_PREFIX + "packedBMiB");
    if (v == null || v.isBlank()) {
      return DEFAULT_PACKED_B_BYTES;
    }
    try {
      long parsed = Long.parseLong(v.trim());
      if (parsed < 0 || parsed > 1L << 20) {
        throw new NumberFormatException("not in [0, 2^20]");
      }
      return parsed << 20;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("-D" + PROPERTY_PREFIX + "packedBMiB=" + v
          + " must be an integer from 0 to 1048576", e);
    }
  }

  private static int override(String name, int value) {
    String v = System.getProperty(PROPERTY_PREFIX + name);
    if (v == null || v.isBlank()) {
      return value;
    }
    try {
      int parsed = Integer.parseInt(v.trim());
      if (parsed < 1) {
        throw new NumberFormatException("not positive");
      }
      return parsed;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("-D" + PROPERTY_PREFIX + name + "=" + v + " must be a positive integer", e);
    }
  }

  /**
   * The per-core L2 size: Linux sysfs ({@code /sys/devices/system/cpu/cpu0/cache}), else the C
   * library's {@code sysconf(_SC_LEVEL2_CACHE_SIZE)}, which glibc answers from {@code cpuid} on
   * x86. Sandboxes and some containers hide the sysfs cache directory; on the Zen 5 machine that
   * found this, the 512 KiB assumed without either gave {@code kc = 512}, and the crosscoder's
   * encoder product ran 5-7% slower than with the 1 MiB that {@code sysconf} reports.
   */
  static OptionalLong l2Bytes() {
    OptionalLong fromSysfs = l2BytesFromSysfs();
    return fromSysfs.isPresent() ? fromSysfs : l2BytesFromSysconf();
  }

  /** The L2 size of CPU 0 from {@code /sys/devices/system/cpu/cpu0/cache}, if this is Linux. */
  static OptionalLong l2BytesFromSysfs() {
    Path dir = Path.of("/sys/devices/system/cpu/cpu0/cache");
    for (int i = 0; i < 8; i++) {
      Path index = dir.resolve("index" + i);
      try {
        if (!Files.isDirectory(index) || !Files.readString(index.resolve("level")).trim().equals("2")) {
          continue;
        }
        return OptionalLong.of(parseSize(Files.readString(index.resolve("size"))));
      } catch (IOException | RuntimeException e) {
        return OptionalLong.empty();
      }
    }
    return OptionalLong.empty();
  }

  /**
   * {@code sysconf(_SC_LEVEL2_CACHE_SIZE)} on Linux with glibc, when this module may call native
   * code; empty elsewhere, or when the library answers 0 or -1 (musl and some ARM builds do).
   */
  static OptionalLong l2BytesFromSysconf() {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")
        || !Blocking.class.getModule().isNativeAccessEnabled()) {
      return OptionalLong.empty();
    }
    try {
      Linker linker = Linker.nativeLinker();
      MethodHandle sysconf = linker.defaultLookup().find("sysconf")
          .map(s -> linker.downcallHandle(s, FunctionDescriptor.of(linker.canonicalLayouts().get("long"),
              ValueLayout.JAVA_INT)))
          .orElse(null);
      if (sysconf == null) {
        return OptionalLong.empty();
      }
      // C long is 64 bits on the 64-bit Linux ABIs; elsewhere the call's type mismatches and throws.
      long bytes = (long) sysconf.invokeExact(SC_LEVEL2_CACHE_SIZE);
      return bytes >= 64 * 1024 && bytes <= 1L << 30 ? OptionalLong.of(bytes) : OptionalLong.empty();
    } catch (Throwable e) {
      return OptionalLong.empty();
    }
  }

  /** {@code "1024K"}, {@code "2M"} or a plain byte count. */
  static long parseSize(String text) {
    String s = text.trim().toUpperCase(Locale.ROOT);
    long unit = 1;
    if (s.endsWith("K")) {
      unit = 1024;
    } else if (s.endsWith("M")) {
      unit = 1024 * 1024;
    }
    if (unit != 1) {
      s = s.substring(0, s.length() - 1);
    }
    return Long.parseLong(s) * unit;
  }
}
