package io.crosscoder.tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/**
 * Where a view's {@link TensorView#data() data} lies, byte for byte, in a file: the file, the
 * position of the first byte, and the file's identity ({@link BasicFileAttributes#fileKey()}, on
 * Linux the device and inode) when the checkpoint opened it. A backend may read the bytes with
 * positional reads instead of touching the mapping: on some virtual machines the first touch of each
 * mapped page costs far more than copying it (see {@code docs/DESIGN.md}). The identity lets
 * the reader tell a file replaced since (renamed over, rewritten as a new file), whose bytes the
 * mapping no longer shows; it then reads the mapping.
 *
 * @param file the file
 * @param offset the position in the file of {@code data()}'s first byte
 * @param fileKey the file's identity when it was opened; never null
 */
public record FileRegion(Path file, long offset, Object fileKey) {
  /**
   * Checks the components.
   *
   * @throws NullPointerException if the file or key is null
   * @throws IllegalArgumentException if the offset is negative
   */
  public FileRegion {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(fileKey, "fileKey");
    if (offset < 0) {
      throw new IllegalArgumentException("negative offset " + offset + " in " + file);
    }
  }

  /**
   * The identity of {@code file} now, for a {@link FileRegion} of a file about to be mapped; null
   * where the file system has none or it cannot be read (views then have no region).
   *
   * @param file the file
   * @return its {@link BasicFileAttributes#fileKey()}, or null
   */
  public static Object keyOf(Path file) {
    try {
      return Files.readAttributes(file, BasicFileAttributes.class).fileKey();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /**
   * The identity {@code before}, taken by {@link #keyOf} before the file was mapped, if the path
   * still names that file; else null. A reader calls it after mapping, so that a file replaced in
   * between gets no region (and is read through the mapping, which shows what was mapped).
   *
   * @param file the file's path
   * @param before its identity before the mapping, or null when that could not be had
   * @return {@code before}, or null
   */
  public static Object keyIfUnchanged(Path file, Object before) {
    return before != null && before.equals(keyOf(file)) ? before : null;
  }

  /** {@return whether {@code file} is still the file this region was taken from} */
  public boolean sameFile() {
    return fileKey.equals(keyOf(file));
  }
}
