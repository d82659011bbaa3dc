package io.crosscoder.tensor;

import io.crosscoder.InvalidInputException;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * Turns a fault on a memory-mapped file into a clear {@link InvalidInputException}.
 *
 * <p>Checkpoints are memory-mapped. When another process truncates (or rewrites shorter) a file
 * while it is mapped, reading a page past the new end raises SIGBUS; the JVM surfaces that in Java
 * code as {@code java.lang.InternalError: a fault occurred in an unsafe memory access operation}
 * (for memory-segment reads in the interpreter and in compiled code alike). No check at open time
 * can rule it out, since the file can change at any moment after, so the rule is: every place that
 * reads mapped bytes on behalf of a caller catches that error where it reads and rethrows it as
 * {@code InvalidInputException} naming the file and tensor: "the file changed while being read".
 * Other {@code InternalError}s are rethrown as they are.
 *
 * <p>Stateless and thread-safe.
 */
public final class MappedReads {
  private MappedReads() {}

  /**
   * Tells a fault on mapped memory from other errors.
   *
   * @param t any throwable
   * @return whether {@code t} is the JVM's report of a fault on mapped memory
   */
  public static boolean isMappingFault(Throwable t) {
    return t instanceof InternalError e && e.getMessage() != null
        && e.getMessage().contains("fault occurred in an unsafe memory access");
  }

  /**
   * The exception for a fault while reading a tensor of a file.
   *
   * @param file the mapped file; may be null
   * @param tensor the tensor being read; may be null (long names are cut for the message)
   * @param e the fault, kept as the cause
   * @return the exception, for the caller to throw
   */
  public static InvalidInputException changed(Path file, String tensor, Throwable e) {
    return new InvalidInputException(file, tensor == null ? null : TensorLimits.shortName(tensor),
        "the file changed while being read (truncated or rewritten by another process?); reading it again"
            + " once it is complete may work", e);
  }

  /**
   * For a {@code catch (InternalError e)} around a read of mapped bytes: {@code throw
   * MappedReads.rethrow(file, tensor, e)} throws {@link #changed} for a mapping fault and {@code e}
   * itself otherwise (the return type only lets the caller write {@code throw}).
   *
   * @param file the mapped file; may be null
   * @param tensor the tensor being read; may be null
   * @param e the error caught around the read
   * @return the {@link #changed} exception for a mapping fault
   * @throws InternalError {@code e} itself when it is not a mapping fault
   */
  public static InvalidInputException rethrow(Path file, String tensor, InternalError e) {
    if (isMappingFault(e)) {
      return changed(file, tensor, e);
    }
    throw e;
  }

  /**
   * Runs {@code read}, which reads mapped bytes of {@code file}, turning a mapping fault into
   * {@link #changed}.
   *
   * @param <T> the read's result type
   * @param file the mapped file; may be null
   * @param tensor the tensor being read; may be null
   * @param read the read, run once on the calling thread
   * @return what {@code read} returned
   * @throws io.crosscoder.InvalidInputException if the file changed while being read
   */
  public static <T> T guard(Path file, String tensor, Supplier<T> read) {
    try {
      return read.get();
    } catch (InternalError e) {
      if (isMappingFault(e)) {
        throw changed(file, tensor, e);
      }
      throw e;
    }
  }

  /**
   * As {@link #guard(Path, String, Supplier)}, for a read with no result.
   *
   * @param file the mapped file; may be null
   * @param tensor the tensor being read; may be null
   * @param read the read, run once on the calling thread
   * @throws io.crosscoder.InvalidInputException if the file changed while being read
   */
  public static void guard(Path file, String tensor, Runnable read) {
    guard(file, tensor, () -> {
      read.run();
      return null;
    });
  }
}
