package io.crosscoder.io.onnx;

import static io.crosscoder.io.onnx.OnnxBytes.graph;
import static io.crosscoder.io.onnx.OnnxBytes.model;
import static io.crosscoder.io.onnx.OnnxBytes.tensor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ONNX external data reached through a symbolic link leading outside the model's folder is refused. */
class OnnxExternalLinkTest {
  @TempDir Path dir;

  @Test
  void externalDataThroughALinkOutsideTheFolderIsRefused() throws Exception {
    Path folder = Files.createDirectory(dir.resolve("model"));
    Path outside = Files.createDirectory(dir.resolve("outside"));
    byte[] floats = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putFloat(1).putFloat(2).putFloat(3)
        .putFloat(4).array();
    Files.write(outside.resolve("secret.bin"), floats);
    Path onnx = folder.resolve("m.onnx");
    Files.write(onnx, model(graph(List.of(), List.of(tensor("w", 1, 4).external("location", "side.bin")
        .dataLocation(1).bytes()))));
    Files.createSymbolicLink(folder.resolve("side.bin"), outside.resolve("secret.bin"));
    assertThatThrownBy(() -> {
      try (Checkpoint c = new OnnxFormat().open(onnx)) {
        c.tensors().get("w").data();
      }
    }).isInstanceOfSatisfying(InvalidInputException.class, e -> {
      assertThat(e.file()).contains(onnx);
      assertThat(e.tensor()).contains("w");
    }).hasMessageContaining("outside the model's folder");
    // The same bytes as a file inside the folder are read.
    Files.delete(folder.resolve("side.bin"));
    Files.write(folder.resolve("side.bin"), floats);
    try (Checkpoint c = new OnnxFormat().open(onnx)) {
      assertThat(c.tensors().get("w").data().byteSize()).isEqualTo(16);
    }
  }
}
