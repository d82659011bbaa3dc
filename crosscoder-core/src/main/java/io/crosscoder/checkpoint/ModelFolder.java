package io.crosscoder.checkpoint;

import io.crosscoder.InvalidInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The rule by which a reader opens a file that another file names (a shard named by {@code
 * model.safetensors.index.json}, an ONNX initializer's external data): the named file must lie
 * inside the naming file's folder once every symbolic link is resolved. A name without {@code ..}
 * can still lead outside through a link ({@code model-00001.safetensors -> /etc/shadow}, or a
 * linked subfolder), so the check compares real paths ({@link Path#toRealPath}), not names. Links
 * that stay inside the folder are fine, and so are the links of a Hugging Face hub cache: a folder
 * {@code models--ORG--NAME/snapshots/REVISION} holds links to {@code ../../blobs/HASH}, which is
 * where the hub keeps the bytes of that same repository. Static methods only; thread-safe.
 */
public final class ModelFolder {
  private ModelFolder() {}

  /**
   * {@code candidate} (inside {@code folder} by name), checked: its real path must be inside {@code
   * folder}'s real path. Returns the candidate absolute and normalised, links kept (the reader
   * names files as the model names them); one that does not exist is returned unchecked, for the
   * reader to report as missing.
   *
   * @param folder the folder of the naming file, which the candidate must stay inside
   * @param candidate the named file, resolved against {@code folder}
   * @param namedIn the file that names the candidate, for the message
   * @param tensor the tensor it is for, or null
   * @return the candidate, absolute and normalised, links kept
   * @throws InvalidInputException if a link takes the candidate outside the folder, naming both
   */
  public static Path requireInside(Path folder, Path candidate, Path namedIn, String tensor) {
    Path plain = candidate.toAbsolutePath().normalize();
    if (!Files.exists(plain)) {
      return plain;
    }
    Path realFolder;
    Path real;
    try {
      realFolder = folder.toAbsolutePath().toRealPath();
      real = plain.toRealPath();
    } catch (IOException e) {
      throw new InvalidInputException(namedIn, tensor, "cannot resolve " + candidate + ": " + e.getMessage(), e);
    }
    if (!real.startsWith(realFolder) && !inHubBlobs(folder.toAbsolutePath().normalize(), real)) {
      throw new InvalidInputException(namedIn, tensor, candidate + " is a link to " + real
          + ", outside the model's folder " + realFolder + "; files named by a model must stay in its folder");
    }
    return plain;
  }

  /** Whether {@code folder} is {@code .../snapshots/REV} of a hub cache and {@code real} is in its {@code blobs}. */
  private static boolean inHubBlobs(Path folder, Path real) {
    Path snapshots = folder.getParent();
    if (snapshots == null || snapshots.getFileName() == null || !snapshots.getFileName().toString().equals("snapshots")
        || snapshots.getParent() == null) {
      return false;
    }
    Path blobs = snapshots.getParent().resolve("blobs");
    try {
      return Files.isDirectory(blobs) && real.startsWith(blobs.toRealPath());
    } catch (IOException e) {
      return false;
    }
  }
}
