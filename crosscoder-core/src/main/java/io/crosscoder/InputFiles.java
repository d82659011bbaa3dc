package io.crosscoder;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The check every file reader makes before it opens an input: the path is a regular file. Opening
 * a FIFO for reading blocks until some writer opens it, and reading a device or {@code /proc}
 * file may never end or may report a size that means nothing, so a reader given one would hang or
 * misread instead of saying what is wrong.
 *
 * <p>Stateless and thread-safe.
 */
public final class InputFiles {
  private InputFiles() {}

  /**
   * Returns {@code file} if it is a regular file (after following symbolic links).
   *
   * @param file the path to check
   * @param what what the file should be, for the message ("safetensors file", "config.json")
   * @return {@code file} itself
   * @throws InvalidInputException naming the file if it is missing, a folder, or not a regular
   *     file (a FIFO, socket or device)
   */
  public static Path requireRegularFile(Path file, String what) {
    if (Files.isRegularFile(file)) {
      return file;
    }
    if (!Files.exists(file)) {
      throw new InvalidInputException(file, null, "no such file; expected a " + what);
    }
    if (Files.isDirectory(file)) {
      throw new InvalidInputException(file, null, "is a folder; expected a " + what);
    }
    throw new InvalidInputException(file, null, "is not a regular file (a FIFO, socket or device?); expected a "
        + what + ", which is read from a regular file only");
  }
}
