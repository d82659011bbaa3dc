package io.crosscoder.output;

import io.crosscoder.CrosscoderException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * An exclusive lock on a run's outputs between processes: an operating-system lock ({@link
 * FileChannel#tryLock}) on a small lock file next to them, so that two runs writing the same files
 * (two {@code crosscoder train} with one {@code --out}) do not interleave their checkpoints and
 * metrics. The second run fails at once with a message naming the lock file; it never waits. The
 * lock dies with its process, so a run killed with {@code kill -9} leaves a lock file that the next
 * run simply takes. The file itself is left in place (deleting it would race with a process taking
 * it). Within one JVM the same file cannot be locked twice either. Close it to release; not
 * thread-safe.
 */
public final class OutputLock implements AutoCloseable {
  private final FileChannel channel;
  private final FileLock lock;

  private OutputLock(FileChannel channel, FileLock lock) {
    this.channel = channel;
    this.lock = lock;
  }

  /**
   * Takes the lock on {@code lockFile}, creating it (and its folder) when missing.
   *
   * @param lockFile the lock file, usually next to the outputs it guards; left in place after
   *     release
   * @param what what the holder does, for the message ("training into cc.safetensors")
   * @return the held lock; the caller closes it to release the lock
   * @throws CrosscoderException if another process (or another run in this JVM) holds it, or the
   *     lock file cannot be created
   */
  public static OutputLock acquire(Path lockFile, String what) {
    Objects.requireNonNull(lockFile, "lockFile");
    FileChannel ch = null;
    try {
      Path parent = lockFile.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock l;
      try {
        l = ch.tryLock();
      } catch (OverlappingFileLockException e) {
        l = null;
      }
      if (l == null) {
        throw new CrosscoderException("another run is " + what + " (it holds the lock " + lockFile
            + "); wait for it to finish or write somewhere else");
      }
      return new OutputLock(ch, l);
    } catch (IOException e) {
      closeQuietly(ch);
      throw new CrosscoderException("cannot create the lock file " + lockFile + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      closeQuietly(ch);
      throw e;
    }
  }

  /** Releases the lock. Idempotent. */
  @Override
  public void close() {
    try {
      if (lock.isValid()) {
        lock.release();
      }
    } catch (IOException e) {
      // Closing the channel below releases it anyway.
    }
    closeQuietly(channel);
  }

  private static void closeQuietly(FileChannel ch) {
    if (ch != null) {
      try {
        ch.close();
      } catch (IOException e) {
        // Nothing left to release.
      }
    }
  }
}
