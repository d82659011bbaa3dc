package io.crosscoder.io.tokenizer;

import io.crosscoder.CrosscoderException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Prepares DJL before its first class is touched, so that it works offline and writes only where
 * we say. DJL reads its settings from environment variables first, then system properties, once,
 * when its classes initialise; so this runs before any of them loads and sets system properties
 * (an environment variable the user set still wins, and is checked).
 *
 * <ul>
 *   <li>{@code ai.djl.offline=true}: no download of a native library or a model;
 *   <li>{@code OPT_OUT_TRACKING=true}: no telemetry call (DJL otherwise asks the EC2 metadata
 *       endpoint, 169.254.169.254, once a day when a tokenizer is created);
 *   <li>{@code ENGINE_CACHE_DIR} and {@code DJL_CACHE_DIR}: the folder the native library is
 *       extracted to from the jar, by default {@code ${java.io.tmpdir}/crosscoder-djl-${user.name}},
 *       never {@code ~/.djl.ai}, which need not be writable. A value the user set is kept;
 *   <li>{@code jna.tmpdir}: {@code jna} in that folder, unless set: DJL's platform probe loads JNA,
 *       which would otherwise unpack its native library into {@code ~/.cache/JNA}.
 * </ul>
 *
 * <p>DJL's settings are process-wide: other DJL code in the same JVM runs offline too.
 */
final class DjlRuntime {
  private static Path cacheFolder;

  private DjlRuntime() {}

  /**
   * Sets DJL up (once per JVM) and returns the folder its native library lives in.
   *
   * @throws CrosscoderException if DJL would go online or cannot write its cache folder, saying
   *     what to change
   */
  static synchronized Path prepare() {
    if (cacheFolder != null) {
      return cacheFolder;
    }
    for (String name : new String[] {"DJL_OFFLINE", "OPT_OUT_TRACKING"}) {
      String env = System.getenv(name);
      if (env != null && !Boolean.parseBoolean(env)) {
        throw new CrosscoderException("the environment sets " + name + "=" + env + ", which lets DJL go online;"
            + " crosscoder runs tokenizers strictly offline: unset it or set it to true");
      }
    }
    System.setProperty("ai.djl.offline", "true");
    System.setProperty("OPT_OUT_TRACKING", "true");
    Path folder = configured("ENGINE_CACHE_DIR");
    if (folder == null) {
      folder = Path.of(System.getProperty("java.io.tmpdir"), "crosscoder-djl-" + System.getProperty("user.name", "user"));
      System.setProperty("ENGINE_CACHE_DIR", folder.toString());
    }
    if (configured("DJL_CACHE_DIR") == null) {
      System.setProperty("DJL_CACHE_DIR", folder.toString());
    }
    if (System.getProperty("jna.tmpdir") == null) {
      // DJL's platform probe loads JNA, which unpacks its own native library into ~/.cache/JNA.
      System.setProperty("jna.tmpdir", folder.resolve("jna").toString());
    }
    try {
      Files.createDirectories(folder);
    } catch (IOException e) {
      throw new CrosscoderException("cannot create DJL's cache folder " + folder + " (" + e
          + "); set ENGINE_CACHE_DIR to a writable folder", e);
    }
    if (!Files.isWritable(folder)) {
      throw new CrosscoderException("DJL's cache folder " + folder + " is not writable; set ENGINE_CACHE_DIR to a writable folder");
    }
    checkBundledLibrary();
    cacheFolder = folder;
    return folder;
  }

  private static Path configured(String name) {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) {
      v = System.getProperty(name);
    }
    return v == null || v.isEmpty() ? null : Path.of(v);
  }

  /**
   * Fails early, with a message, where the DJL jar has no native library for this machine: DJL
   * would otherwise try to download one.
   */
  private static void checkBundledLibrary() {
    String override = System.getenv("RUST_LIBRARY_PATH");
    if (override == null) {
      override = System.getProperty("RUST_LIBRARY_PATH");
    }
    if (override != null && !override.isEmpty()) {
      return; // the user's own library, loaded from disk
    }
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    String osName = os.startsWith("linux") ? "linux"
        : os.startsWith("mac") ? "osx"
        : os.startsWith("windows") ? "win" : os;
    String archName = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64"
        : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch;
    String resource = "native/lib/" + osName + "-" + archName + "/cpu/" + System.mapLibraryName("tokenizers");
    if (DjlRuntime.class.getClassLoader().getResource(resource) == null) {
      throw new CrosscoderException("ai.djl.huggingface:tokenizers has no native library for " + osName + "-" + archName
          + " (no " + resource + " on the class path) and crosscoder never downloads one;"
          + " build the Hugging Face tokenizers JNI library for this machine and set RUST_LIBRARY_PATH to it");
    }
  }
}
