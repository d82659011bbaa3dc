package io.crosscoder.output;

import io.crosscoder.CrosscoderException;
import io.crosscoder.InvalidInputException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Objects;

/**
 * The one rule by which the library writes a file: checked first, written in full to a temporary
 * sibling, then renamed over the target. A kill at any moment leaves the old file or the new one,
 * never a torn one.
 *
 * <ul>
 *   <li><b>Targets.</b> {@link #checkTarget} accepts a path that does not exist yet or is a regular
 *       file (a symbolic link to one is written through, so the link stays), in an existing folder
 *       or one that can be created. A folder, a device ({@code /dev/full}), a FIFO or {@code /} is
 *       refused with an {@link InvalidInputException} before anything is written.
 *   <li><b>Temporary file.</b> {@code NAME.tmp} next to the target (same file system, so the rename
 *       is atomic). A stray one from a killed run is deleted first (without following a link) and
 *       the file is created anew, so it never trips a rerun and gets the mode the umask gives, as
 *       any new file does (not the 0600 of {@link Files#createTempFile}).
 *   <li><b>Commit.</b> The data is forced to the disk, then {@link StandardCopyOption#ATOMIC_MOVE}
 *       replaces the target (a plain replace where the file system cannot, which is rare in one
 *       folder); on any failure the temporary file is deleted.
 * </ul>
 *
 * Two processes writing the same target at once are not serialised here; commands that write
 * several related files take a lock ({@link OutputLock}). Static methods only; thread-safe for
 * distinct targets.
 */
public final class OutputFiles {
  /** The suffix of temporary siblings. */
  public static final String TEMPORARY_SUFFIX = ".tmp";

  private OutputFiles() {}

  /** Writes the body's bytes to a channel; may map it. */
  @FunctionalInterface
  public interface ChannelBody {
    /**
     * Writes everything to {@code channel}, a new empty file opened for reading and writing.
     *
     * @param channel the temporary file, empty and positioned at 0; {@link OutputFiles} forces and
     *     closes it
     * @throws IOException if writing fails; the temporary file is then deleted and the target left
     *     as it was
     */
    void write(FileChannel channel) throws IOException;
  }

  /** Writes the body's bytes to a stream. */
  @FunctionalInterface
  public interface StreamBody {
    /**
     * Writes everything to {@code out}; need not close it.
     *
     * @param out a buffered stream onto the temporary file; {@link OutputFiles} flushes it
     * @throws IOException if writing fails; the temporary file is then deleted and the target left
     *     as it was
     */
    void write(OutputStream out) throws IOException;
  }

  /**
   * The absolute path to write for {@code file}: the file itself, or the regular file a symbolic
   * link points to.
   *
   * @param file the path the caller means to write, relative or absolute
   * @return the absolute, normalised path that will be written: {@code file} or the regular file
   *     its link points to
   * @throws InvalidInputException if {@code file} exists and is not a regular file (a folder, a
   *     device, a FIFO), or its parent exists and is not a folder
   */
  public static Path checkTarget(Path file) {
    Objects.requireNonNull(file, "file");
    Path target = file.toAbsolutePath().normalize();
    if (target.getFileName() == null) {
      throw new InvalidInputException(file, null, "is the root folder, not a file to write");
    }
    if (Files.isDirectory(target)) {
      throw new InvalidInputException(file, null, "is a folder; name a file to write");
    }
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(target)) {
      if (!Files.isRegularFile(target)) {
        throw new InvalidInputException(file, null, Files.exists(target)
            ? "exists and is not a regular file (a device, a FIFO or a socket); name a file to write"
            : "is a symbolic link to nothing; remove it or name another file");
      }
      if (Files.isSymbolicLink(target)) {
        try {
          target = target.toRealPath();
        } catch (IOException e) {
          throw new CrosscoderException("cannot resolve the link " + file + ": " + e.getMessage(), e);
        }
      }
    }
    Path parent = target.getParent();
    if (Files.exists(parent) && !Files.isDirectory(parent)) {
      throw new InvalidInputException(file, null, "its parent " + parent + " is not a folder");
    }
    return target;
  }

  /**
   * Writes {@code file} atomically through a channel: {@link #checkTarget}, the parent folder
   * created when missing, the body run on a fresh {@code NAME.tmp}, forced, then renamed over the
   * target.
   *
   * @param file the file to write, replaced if it exists
   * @param body writes the whole content, called once on this thread
   * @return the path written (absolute; a link's target)
   * @throws InvalidInputException if the target cannot be a file ({@link #checkTarget})
   * @throws CrosscoderException if the file cannot be written (permissions, a full disk): the
   *     message names it and says why; the old file is left as it was
   */
  public static Path write(Path file, ChannelBody body) {
    Objects.requireNonNull(body, "body");
    Path target = checkTarget(file);
    Path tmp = temporaryFor(target);
    try {
      Files.createDirectories(target.getParent());
      Files.deleteIfExists(tmp);
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
          StandardOpenOption.READ)) {
        body.write(ch);
        ch.force(true);
      }
      commit(tmp, target);
      return target;
    } catch (IOException e) {
      deleteQuietly(tmp);
      throw new CrosscoderException("cannot write " + file + ": " + describe(e), e);
    } catch (RuntimeException | Error e) {
      deleteQuietly(tmp);
      throw e;
    }
  }

  /**
   * As {@link #write(Path, ChannelBody)}, through a buffered stream.
   *
   * @param file the file to write, replaced if it exists
   * @param body writes the whole content, called once on this thread
   * @return the path written (absolute; a link's target)
   */
  public static Path writeStream(Path file, StreamBody body) {
    Objects.requireNonNull(body, "body");
    return write(file, ch -> {
      OutputStream raw = Channels.newOutputStream(ch);
      java.io.BufferedOutputStream out = new java.io.BufferedOutputStream(raw, 1 << 16);
      body.write(out);
      out.flush();
    });
  }

  /**
   * {@code NAME.tmp} next to {@code target}.
   *
   * @param target the file to be written
   * @return the sibling {@code target + ".tmp"}; nothing is created
   */
  public static Path temporaryFor(Path target) {
    return target.resolveSibling(target.getFileName() + TEMPORARY_SUFFIX);
  }

  /**
   * Renames the finished {@code tmp} over {@code target} atomically (a plain replace where the file
   * system cannot rename atomically), then forces the folder entry where the platform allows.
   *
   * @param tmp the finished temporary file, forced to the disk by the caller
   * @param target the file it replaces, in the same folder
   * @throws IOException if the rename fails; {@code tmp} is then left for the caller to delete
   */
  public static void commit(Path tmp, Path target) throws IOException {
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
    }
    try (FileChannel dir = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // Not every platform opens folders; the rename itself is what gives atomicity.
    }
  }

  /**
   * Refuses a run whose outputs would overwrite one of its inputs, or one another: every pair of
   * named paths (outputs against inputs and outputs against outputs) that are the same file, by
   * {@link Files#isSameFile} where both exist and by real path (the parent's real path and the
   * name) where an output does not exist yet. Nothing is written before this check.
   *
   * @param outputs option name to path (for example {@code "--out"}), null values ignored
   * @param inputs argument name to path (a file or a folder: an output anywhere inside an input
   *     folder is refused too, since it could replace an input file or become one), null values
   *     ignored
   * @throws InvalidInputException naming both arguments and the file
   */
  public static void requireDistinct(Map<String, Path> outputs, Map<String, Path> inputs) {
    var outs = outputs.entrySet().stream().filter(e -> e.getValue() != null).toList();
    var ins = inputs.entrySet().stream().filter(e -> e.getValue() != null).toList();
    for (int i = 0; i < outs.size(); i++) {
      var o = outs.get(i);
      for (var in : ins) {
        if (same(o.getValue(), in.getValue())) {
          throw new InvalidInputException(o.getValue(), null, o.getKey() + " names the input " + in.getKey()
              + "; writing it would destroy the input. Name another file.");
        }
        if (Files.isDirectory(in.getValue()) && canonical(o.getValue()).startsWith(canonical(in.getValue()))) {
          throw new InvalidInputException(o.getValue(), null, o.getKey() + " lies inside the input folder "
              + in.getKey() + " (" + in.getValue() + "), where it could replace or add to the input. Write it"
              + " elsewhere.");
        }
      }
      for (int j = i + 1; j < outs.size(); j++) {
        var other = outs.get(j);
        if (same(o.getValue(), other.getValue())) {
          throw new InvalidInputException(o.getValue(), null, o.getKey() + " and " + other.getKey()
              + " name the same file; name two different files.");
        }
      }
    }
  }

  /** Whether {@code a} and {@code b} are, or would be once created, one file. */
  static boolean same(Path a, Path b) {
    try {
      if (Files.exists(a) && Files.exists(b)) {
        return Files.isSameFile(a, b);
      }
      return canonical(a).equals(canonical(b));
    } catch (IOException e) {
      return canonical(a).equals(canonical(b));
    }
  }

  /** The real path of the file, or of its nearest existing ancestor followed by the rest. */
  private static Path canonical(Path p) {
    Path abs = p.toAbsolutePath().normalize();
    Path existing = abs;
    Path rest = null;
    while (existing != null && !Files.exists(existing)) {
      Path name = existing.getFileName();
      rest = rest == null ? name : name.resolve(rest);
      existing = existing.getParent();
    }
    if (existing == null) {
      return abs;
    }
    try {
      Path real = existing.toRealPath();
      return rest == null ? real : real.resolve(rest);
    } catch (IOException e) {
      return abs;
    }
  }

  private static String describe(IOException e) {
    String m = e.getMessage();
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied" + (m == null ? "" : " (" + m + ")");
    }
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "no such file or folder" + (m == null ? "" : " (" + m + ")");
    }
    if (e instanceof java.nio.file.FileSystemException fse && fse.getReason() != null) {
      return fse.getReason() + " (" + fse.getFile() + ")";
    }
    return m == null ? e.getClass().getSimpleName() : m;
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      // Best effort: the next write deletes it first anyway.
    }
  }
}
