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
  /** {@return the file or folder this checkpoint was opened from} */
  Path path();

  /** {@return the name of the format that opened it ({@code "safetensors"}, {@code "onnx"})} */
  String format();

  /**
   * {@return the tensors by name, in the order the checkpoint lists them; unmodifiable, and valid
   * while the checkpoint is open}
   */
  SequencedMap<String, TensorView> tensors();

  /** {@return the free-form string metadata from the file headers; unmodifiable, possibly empty} */
  Map<String, String> metadata();

  /**
   * Sentences on how the format read this checkpoint where that matters to a reader of a report
   * (names mapped from another scheme, rows un-permuted, an adapter merged on read); empty for a
   * checkpoint read as stored. Reports quote them.
   *
   * @return the notes, in the order the format made them; unmodifiable
   */
  default List<String> notes() {
    return List.of();
  }

  /**
   * Looks a tensor up by name.
   *
   * @param name the tensor's name as the checkpoint lists it
   * @return the tensor, or empty if the checkpoint has none of that name
   */
  default Optional<TensorView> find(String name) {
    return Optional.ofNullable(tensors().get(name));
  }

  /**
   * The tensor with this name, which must be present.
   *
   * @param name the tensor's name as the checkpoint lists it
   * @return the tensor
   * @throws InvalidInputException naming the file and tensor if the checkpoint has none of that name
   */
  default TensorView tensor(String name) {
    TensorView t = tensors().get(name);
    if (t == null) {
      throw new InvalidInputException(path(), name, "no such tensor (the checkpoint has " + tensors().size() + ")");
    }
    return t;
  }

  /** {@return the total bytes of tensor data, as stored (quantized tensors count their blocks)} */
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
