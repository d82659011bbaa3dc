package io.crosscoder.tensor;

import io.crosscoder.InvalidInputException;
import java.nio.file.Path;

/**
 * Bounds every checkpoint reader applies to what a file declares about a tensor, before anything
 * is sized by it, so that a hostile or corrupt header is refused with a clear message instead of
 * hanging or exhausting memory further on.
 *
 * <ul>
 *   <li>A name is at most {@value #MAX_NAME_LENGTH} characters (real ones are under 200; names
 *       go into maps, messages, reports and regular expressions).
 *   <li>A shape has at most {@value #MAX_RANK} dimensions (NumPy's own limit is 64; model tensors
 *       have 1 to 4).
 *   <li>No dimension exceeds the file's size in bytes. For a tensor with elements this follows from
 *       its data being in the file; it matters for an empty tensor such as {@code [0, 2^31]},
 *       whose other dimensions no data vouches for, and which code that sizes a buffer per row or
 *       column would otherwise trust.
 * </ul>
 *
 * <p>Stateless and thread-safe.
 */
public final class TensorLimits {
  /** Longest tensor name accepted, in chars. */
  public static final int MAX_NAME_LENGTH = 4096;

  /** Most dimensions accepted. */
  public static final int MAX_RANK = 64;

  private TensorLimits() {}

  /**
   * Checks a tensor's declared name and shape against the limits above.
   *
   * @param file the file, for the message
   * @param name the declared name
   * @param shape the declared shape (dimensions already known non-negative)
   * @param fileSize the file's size in bytes
   * @throws InvalidInputException naming the file and the tensor (the name cut to 80 chars)
   */
  public static void check(Path file, String name, long[] shape, long fileSize) {
    checkName(file, name);
    checkRank(file, name, shape.length);
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] > fileSize) {
        throw new InvalidInputException(file, name, "dimension " + i + " is " + shape[i] + ", more than the file's "
            + fileSize + " bytes; no real tensor has such a dimension");
      }
    }
  }

  /**
   * Checks a declared name's length.
   *
   * @param file the file, for the message
   * @param name the declared name
   * @throws InvalidInputException if the name is longer than {@value #MAX_NAME_LENGTH} chars
   */
  public static void checkName(Path file, String name) {
    if (name.length() > MAX_NAME_LENGTH) {
      throw new InvalidInputException(file, shortName(name), "a tensor name of " + name.length()
          + " characters; at most " + MAX_NAME_LENGTH + " are accepted");
    }
  }

  /**
   * Checks a declared dimension count, before the dimensions are read or stored.
   *
   * @param file the file, for the message
   * @param name the declared tensor name, for the message
   * @param rank the declared number of dimensions, as read (a {@code long} so that a hostile
   *     64-bit count is checked before it is narrowed)
   * @throws InvalidInputException if {@code rank} exceeds {@value #MAX_RANK}
   */
  public static void checkRank(Path file, String name, long rank) {
    if (rank > MAX_RANK) {
      throw new InvalidInputException(file, shortName(name), rank + " dimensions; at most " + MAX_RANK
          + " are accepted");
    }
  }

  /**
   * Shortens a name for messages.
   *
   * @param name a tensor name; may be null
   * @return {@code name} itself if null or at most 80 chars, else its first 80 chars and its length
   */
  public static String shortName(String name) {
    return name == null || name.length() <= 80 ? name : name.substring(0, 80) + "... (" + name.length() + " chars)";
  }
}
