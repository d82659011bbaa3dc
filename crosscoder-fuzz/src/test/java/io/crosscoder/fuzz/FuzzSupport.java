package io.crosscoder.fuzz;

import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * What every fuzz target shares: a scratch folder for the file under test, and the contract each
 * reader must keep on any input: return a usable result, or throw the library's own
 * {@link InvalidInputException} naming the file (or the folder it is in). Any other throwable,
 * an OutOfMemoryError included, escapes to Jazzer as a finding; a hang is caught by the
 * per-execution timeout (JUnit's {@code @Timeout}, which Jazzer turns into libFuzzer's
 * {@code -timeout}).
 *
 * <p>The scratch folder is on {@code /dev/shm} where there is one (executions write a file
 * each, and tmpfs keeps that off the disk), else in {@code java.io.tmpdir}. One per JVM; Jazzer
 * runs the executions of a JVM on one thread.
 */
final class FuzzSupport {
  private static final Path ROOT = createRoot();

  private FuzzSupport() {}

  private static Path createRoot() {
    try {
      Path shm = Path.of("/dev/shm");
      Path parent = Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
      Path root = Files.createTempDirectory(parent, "crosscoder-fuzz-");
      Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(root)));
      return root;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A fresh, empty folder {@code name} under the scratch root (emptied if it exists). */
  static Path folder(String name) {
    Path dir = ROOT.resolve(name);
    deleteTree(dir);
    try {
      return Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes {@code bytes} to {@code dir/name}, replacing what was there. */
  static Path write(Path dir, String name, byte[] bytes) {
    try {
      return Files.write(dir.resolve(name), bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A body that may throw anything; the contract decides what is allowed. */
  @FunctionalInterface
  interface Body {
    void run() throws Exception;
  }

  /**
   * Runs {@code body}, which reads {@code input} (a file or a folder), and enforces the contract:
   * it returns, or throws an {@link InvalidInputException} whose {@link
   * InvalidInputException#file()} is {@code input} or lies inside it (or, for a file, beside it
   * in its folder, as for the shards of an index). Anything else is rethrown for Jazzer.
   */
  static void expectValidOrRefused(Path input, Body body) throws Exception {
    try {
      body.run();
    } catch (InvalidInputException e) {
      Refusals.record(e);
      Path named = e.file().orElseThrow(() -> new AssertionError("InvalidInputException names no file: " + e.getMessage(), e));
      Path scope = input.toAbsolutePath().normalize();
      Path folder = Files.isDirectory(scope) ? scope : scope.getParent();
      if (!named.toAbsolutePath().normalize().startsWith(folder)) {
        throw new AssertionError("InvalidInputException names " + named + ", not the input " + input + ": " + e.getMessage(), e);
      }
      if (!e.getMessage().contains(named.toString())) {
        throw new AssertionError("the message does not name the file " + named + ": " + e.getMessage(), e);
      }
    }
  }

  /**
   * Reads a bounded sample of every tensor of {@code c} (the first and last elements, at most
   * 64 tensors), as a consumer would: lazy readers (GGUF blocks, ONNX, LoRA merges) fail here if
   * they fail at all.
   */
  static void touchAll(Checkpoint c) {
    int seen = 0;
    for (TensorView t : c.tensors().values()) {
      if (seen++ == 64) {
        break;
      }
      touch(t);
    }
    c.metadata().size();
  }

  /** Reads up to 256 elements from the start and the end of {@code t}, and its shape. */
  static void touch(TensorView t) {
    long n = t.elementCount();
    TensorView.formatShape(t.shape());
    int head = (int) Math.min(n, 256);
    float[] buf = new float[256];
    if (head > 0) {
      t.readFloats(0, buf, 0, head);
      t.readFloats(n - head, buf, 0, head);
      long rows = t.rows();
      long cols = t.columns();
      if (rows > 0 && cols > 0) {
        t.readRow(rows - 1, 0, buf, 0, (int) Math.min(cols, 256));
      }
    }
  }

  static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
