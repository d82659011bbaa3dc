package io.crosscoder.checkpoint;

import io.crosscoder.InvalidInputException;
import io.crosscoder.tensor.TensorView;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;

/**
 * An open model checkpoint: named tensors whose bytes stay in the (usually memory-mapped) files.
 * Closing it unmaps the files; views obtained from it must not be used afterwards. Thread-safe
 * for reading.
 */
public interface Checkpoint extends AutoCloseable {
  /** The file or folder this checkpoint was opened from. */
  Path path();

  /** The name of the format that opened it ({@code "safetensors"}, {@code "onnx"}). */
  String format();

  /** Tensors by name, in the order the checkpoint lists them. Unmodifiable. */
  SequencedMap<String, TensorView> tensors();

  /** Free-form string metadata from the file headers (may be empty). Unmodifiable. */
  Map<String, String> metadata();

  /**
   * Sentences on how the format read this checkpoint where that matters to a reader of a report
   * (names mapped from another scheme, rows un-permuted, an adapter merged on read); empty for a
   * checkpoint read as stored. Reports quote them.
   */
  default List<String> notes() {
    return List.of();
  }

  /** The tensor with this name, if present. */
  default Optional<TensorView> find(String name) {
    return Optional.ofNullable(tensors().get(name));
  }

  /** The tensor with this name, or an {@link InvalidInputException} naming the file and tensor. */
  default TensorView tensor(String name) {
    TensorView t = tensors().get(name);
    if (t == null) {
      throw new InvalidInputException(path(), name, "no such tensor (the checkpoint has " + tensors().size() + ")");
    }
    return t;
  }

  /** Total bytes of tensor data. */
  default long dataBytes() {
    long sum = 0;
    for (TensorView t : tensors().values()) {
      sum += t.data().byteSize();
    }
    return sum;
  }

  @Override
  void close();
}
