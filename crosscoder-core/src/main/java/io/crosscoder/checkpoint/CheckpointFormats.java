package io.crosscoder.checkpoint;

import io.crosscoder.InvalidInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/** The checkpoint formats on the class path, and opening a path with the one that recognises it. */
public final class CheckpointFormats {
  private static final List<CheckpointFormat> FORMATS =
      ServiceLoader.load(CheckpointFormat.class).stream().map(ServiceLoader.Provider::get).toList();

  private CheckpointFormats() {}

  /**
   * {@return every format found by {@link ServiceLoader} when this class was loaded, in service
   * order; unmodifiable}
   */
  public static List<CheckpointFormat> available() {
    return FORMATS;
  }

  /**
   * Opens {@code path} with the first format that recognises it.
   *
   * @param path a checkpoint file or folder
   * @return the open checkpoint, which the caller closes
   * @throws InvalidInputException if the path does not exist, no format recognises it, or the
   *     format that does finds it malformed
   */
  public static Checkpoint open(Path path) {
    if (!Files.exists(path)) {
      throw new InvalidInputException(path, null, "no such file or folder");
    }
    for (CheckpointFormat f : FORMATS) {
      if (f.recognizes(path)) {
        return f.open(path);
      }
    }
    String names = FORMATS.stream().map(CheckpointFormat::name).collect(Collectors.joining(", "));
    throw new InvalidInputException(path, null, FORMATS.isEmpty()
        ? "no checkpoint format is on the class path; add crosscoder-io"
        : "not a checkpoint of any known format (" + names + ")");
  }
}
