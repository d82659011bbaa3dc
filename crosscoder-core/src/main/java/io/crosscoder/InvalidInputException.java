package io.crosscoder;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Input that cannot be used as given: a truncated or malformed file, a tensor of the wrong
 * shape or dtype, a missing tensor. The message names the file and, where there is one, the
 * tensor: {@code "model.layers.3.mlp.up_proj.weight in base.safetensors: data_offsets [0, 4096)
 * but shape [64, 64] of BF16 needs 8192 bytes"}. The command line exits with status 2 on it.
 */
public class InvalidInputException extends CrosscoderException {
  private static final long serialVersionUID = 1L;

  // Path is not Serializable; a deserialized exception keeps its message and loses the path.
  private final transient Path file;
  /** The tensor or field, or null. */
  private final String tensor;

  /**
   * An error about {@code tensor} (may be null) in {@code file} (may be null).
   *
   * @param file the file the problem is in, or null when it is not about a file
   * @param tensor the tensor or field the problem is about, or null
   * @param problem what is wrong, in words
   */
  public InvalidInputException(Path file, String tensor, String problem) {
    super(format(file, tensor, problem));
    this.file = file;
    this.tensor = tensor;
  }

  /**
   * An error about {@code tensor} in {@code file}, caused by another exception.
   *
   * @param file the file the problem is in, or null when it is not about a file
   * @param tensor the tensor or field the problem is about, or null
   * @param problem what is wrong, in words
   * @param cause the exception that revealed it
   */
  public InvalidInputException(Path file, String tensor, String problem, Throwable cause) {
    super(format(file, tensor, problem), cause);
    this.file = file;
    this.tensor = tensor;
  }

  /** {@return the file the problem is in, if known} */
  public Optional<Path> file() {
    return Optional.ofNullable(file);
  }

  /** {@return the tensor the problem is about, if there is one} */
  public Optional<String> tensor() {
    return Optional.ofNullable(tensor);
  }

  private static String format(Path file, String tensor, String problem) {
    StringBuilder sb = new StringBuilder();
    if (tensor != null) {
      sb.append(tensor);
    }
    if (file != null) {
      sb.append(tensor != null ? " in " : "").append(file);
    }
    if (!sb.isEmpty()) {
      sb.append(": ");
    }
    return sb.append(problem).toString();
  }
}
