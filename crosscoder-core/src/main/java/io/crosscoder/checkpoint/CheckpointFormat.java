package io.crosscoder.checkpoint;

import java.nio.file.Path;

/**
 * SPI: a checkpoint file format. Implementations are found with {@link java.util.ServiceLoader}
 * (listed in {@code META-INF/services/io.crosscoder.checkpoint.CheckpointFormat}) and must have a
 * public no-argument constructor.
 */
public interface CheckpointFormat {
  /** {@return the format's short lower-case name, e.g. {@code "safetensors"}} */
  String name();

  /**
   * Whether this format can open {@code path} (a file or a folder). Cheap: looks at names and at
   * most the first bytes, never throws for unreadable input.
   *
   * @param path a file or folder, which may not exist or be readable
   * @return whether {@link #open} should be tried on it
   */
  boolean recognizes(Path path);

  /**
   * Opens the checkpoint. Malformed input raises {@link io.crosscoder.InvalidInputException}
   * naming the file and, where there is one, the tensor.
   *
   * @param path a file or folder this format {@link #recognizes}
   * @return the open checkpoint, which the caller closes
   */
  Checkpoint open(Path path);
}
