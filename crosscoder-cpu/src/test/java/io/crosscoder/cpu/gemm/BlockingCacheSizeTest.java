package io.crosscoder.cpu.gemm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The L2 size that {@link Blocking#forThisMachine()} sizes its blocks from, against the C
 * library's own {@code getconf LEVEL2_CACHE_SIZE}, a separate program that asks the same question
 * (glibc answers it from {@code cpuid} on x86, whether or not sysfs shows the caches).
 */
class BlockingCacheSizeTest {
  @Test
  void sysconfAgreesWithGetconf() throws Exception {
    OptionalLong getconf = getconf("LEVEL2_CACHE_SIZE");
    assumeTrue(getconf.isPresent(), "getconf reports no L2 size here");
    assertThat(Blocking.l2BytesFromSysconf()).hasValue(getconf.getAsLong());
  }

  @Test
  void sysfsFirstThenSysconf() {
    OptionalLong sysfs = Blocking.l2BytesFromSysfs();
    OptionalLong expected = sysfs.isPresent() ? sysfs : Blocking.l2BytesFromSysconf();
    assertThat(Blocking.l2Bytes()).isEqualTo(expected);
  }

  @Test
  void depthFollowsTheL2Found() throws Exception {
    OptionalLong getconf = getconf("LEVEL2_CACHE_SIZE");
    assumeTrue(getconf.isPresent() && Blocking.l2BytesFromSysfs().isEmpty()
        || getconf.isPresent() && Blocking.l2BytesFromSysfs().equals(getconf),
        "sysfs and getconf disagree or getconf is missing");
    long l2 = getconf.getAsLong();
    // kc: one KiB of L2 per depth step, within [256, 1024] (Blocking's rule, restated here).
    int kc = (int) Math.max(256, Math.min(1024, l2 / 1024));
    assertThat(Blocking.forThisMachine().kc()).isEqualTo(
        Integer.getInteger(Blocking.PROPERTY_PREFIX + "kc", kc));
  }

  @Test
  void parsesSysfsSizes() {
    assertThat(Blocking.parseSize("1024K\n")).isEqualTo(1 << 20);
    assertThat(Blocking.parseSize("2M")).isEqualTo(2 << 20);
    assertThat(Blocking.parseSize("49152")).isEqualTo(49152);
  }

  private static OptionalLong getconf(String name) throws IOException, InterruptedException {
    if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")) {
      return OptionalLong.empty();
    }
    Process p;
    try {
      p = new ProcessBuilder("getconf", name).redirectErrorStream(true).start();
    } catch (IOException e) {
      return OptionalLong.empty();
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
    if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0 || !out.matches("[0-9]+")) {
      return OptionalLong.empty();
    }
    long bytes = Long.parseLong(out);
    return bytes > 0 ? OptionalLong.of(bytes) : OptionalLong.empty();
  }
}
