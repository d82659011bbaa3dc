package io.crosscoder.io.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hugging Face model folders: an index and its shards, or several files without an index. */
class SafetensorsShardedTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;
  private Path folder;
  private Path index;

  /**
   * Five f32 tensors of 16, 16, 32, 8 and 8 bytes; with 32 bytes a shard they go
   * [a, b] [c] [d, e]. Tensor {@code t} holds values {@code 100 k + i}, k its position.
   */
  private static List<TensorView> fiveTensors() {
    String[] names = {"model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight",
        "model.layers.0.self_attn.q_proj.weight", "model.layers.1.input_layernorm.weight", "lm_head.weight"};
    int[] counts = {4, 4, 8, 2, 2};
    List<TensorView> out = new ArrayList<>();
    for (int k = 0; k < names.length; k++) {
      float[] v = new float[counts[k]];
      for (int i = 0; i < v.length; i++) {
        v[i] = 100 * k + i;
      }
      out.add(TestFiles.f32Tensor(names[k], new long[] {counts[k]}, v));
    }
    return out;
  }

  @BeforeEach
  void writeFolder() {
    folder = dir.resolve("model");
    index = SafetensorsWriter.writeSharded(folder, Map.of("format", "pt"), fiveTensors(), 32);
  }

  @Test
  void writesThreeShardsAndAnIndexHuggingFaceReads() throws IOException {
    assertThat(index).isEqualTo(folder.resolve("model.safetensors.index.json"));
    try (var files = Files.list(folder)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(
          "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
          "model.safetensors.index.json");
    }
    JsonNode root = JSON.readTree(index.toFile());
    assertThat(root.get("metadata").get("total_size").isNumber()).isTrue();
    assertThat(root.get("metadata").get("total_size").asLong()).isEqualTo(16 + 16 + 32 + 8 + 8);
    JsonNode map = root.get("weight_map");
    assertThat(map.get("model.embed_tokens.weight").asText()).isEqualTo("model-00001-of-00003.safetensors");
    assertThat(map.get("model.layers.0.mlp.up_proj.weight").asText()).isEqualTo("model-00001-of-00003.safetensors");
    assertThat(map.get("model.layers.0.self_attn.q_proj.weight").asText()).isEqualTo("model-00002-of-00003.safetensors");
    assertThat(map.get("model.layers.1.input_layernorm.weight").asText()).isEqualTo("model-00003-of-00003.safetensors");
    assertThat(map.get("lm_head.weight").asText()).isEqualTo("model-00003-of-00003.safetensors");
  }

  @Test
  void opensTheFolderAsOneCheckpoint() {
    try (Checkpoint cp = new SafetensorsFormat().open(folder)) {
      assertThat(cp.path()).isEqualTo(folder);
      assertThat(cp.tensors()).hasSize(5);
      // Shards in file order; within a shard, data order (the writer sorts by name).
      assertThat(cp.tensors().keySet()).containsExactly("model.embed_tokens.weight",
          "model.layers.0.mlp.up_proj.weight", "model.layers.0.self_attn.q_proj.weight", "lm_head.weight",
          "model.layers.1.input_layernorm.weight");
      assertThat(TestFiles.floats(cp.tensor("model.layers.0.self_attn.q_proj.weight")))
          .containsExactly(200, 201, 202, 203, 204, 205, 206, 207);
      assertThat(TestFiles.floats(cp.tensor("lm_head.weight"))).containsExactly(400, 401);
      assertThat(cp.tensor("lm_head.weight").source()).isEqualTo(folder.resolve("model-00003-of-00003.safetensors"));
      assertThat(cp.metadata()).containsEntry("format", "pt").containsEntry("total_size", "80");
      assertThat(cp.dataBytes()).isEqualTo(80);
    }
  }

  @Test
  void opensTheIndexFileDirectly() {
    try (Checkpoint cp = new SafetensorsFormat().open(index)) {
      assertThat(cp.path()).isEqualTo(index);
      assertThat(cp.tensors()).hasSize(5);
    }
  }

  @Test
  void closeUnmapsEveryShard() {
    Checkpoint cp = new SafetensorsFormat().open(folder);
    TensorView first = cp.tensor("model.embed_tokens.weight");
    TensorView last = cp.tensor("model.layers.1.input_layernorm.weight");
    cp.close();
    cp.close(); // idempotent
    assertThatThrownBy(() -> TestFiles.floats(first)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> TestFiles.floats(last)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void indexNamingAMissingShard() throws IOException {
    Files.delete(folder.resolve("model-00002-of-00003.safetensors"));
    InvalidInputException e = open();
    assertThat(e.file()).contains(index);
    assertThat(e.getMessage()).contains(index.toString(), "model-00002-of-00003.safetensors", "does not exist",
        "model.layers.0.self_attn.q_proj.weight");
  }

  @Test
  void tensorMissingFromItsShard() throws IOException {
    editWeightMap(map -> map.put("model.layers.9.mlp.down_proj.weight", "model-00001-of-00003.safetensors"));
    InvalidInputException e = open();
    assertThat(e.tensor()).contains("model.layers.9.mlp.down_proj.weight");
    assertThat(e.file()).contains(folder.resolve("model-00001-of-00003.safetensors").toAbsolutePath());
    assertThat(e.getMessage()).contains("model-00001-of-00003.safetensors", "does not have it");
  }

  @Test
  void tensorInAShardButNotInTheIndex() throws IOException {
    editWeightMap(map -> map.remove("lm_head.weight"));
    InvalidInputException e = open();
    assertThat(e.tensor()).contains("lm_head.weight");
    assertThat(e.getMessage()).contains("model-00003-of-00003.safetensors", "does not list it");
  }

  @Test
  void tensorInADifferentShardThanTheIndexSays() throws IOException {
    editWeightMap(map -> map.put("lm_head.weight", "model-00001-of-00003.safetensors"));
    InvalidInputException e = open();
    assertThat(e.tensor()).contains("lm_head.weight");
    assertThat(e.getMessage()).contains("model-00003-of-00003.safetensors",
        "puts this tensor in model-00001-of-00003.safetensors");
  }

  @Test
  void tensorInTwoShards() {
    // A shard of its own that repeats a tensor, named in the index for another tensor.
    SafetensorsWriter.write(folder.resolve("model-00004-of-00003.safetensors"), null,
        List.of(TestFiles.f32Tensor("lm_head.weight", new long[] {2}, 1, 2),
            TestFiles.f32Tensor("extra", new long[] {1}, 3)));
    editWeightMapUnchecked(map -> map.put("extra", "model-00004-of-00003.safetensors"));
    InvalidInputException e = open();
    assertThat(e.tensor()).contains("lm_head.weight");
    assertThat(e.getMessage()).contains("model-00004-of-00003.safetensors", "also in model-00003-of-00003.safetensors");
  }

  @Test
  void shardNameThatLeavesTheFolder() {
    editWeightMapUnchecked(map -> map.put("lm_head.weight", "../elsewhere.safetensors"));
    InvalidInputException e = open();
    assertThat(e.tensor()).contains("lm_head.weight");
    assertThat(e.getMessage()).contains("../elsewhere.safetensors", "not a file name in the index's folder");
  }

  @Test
  void shardNameThatIsNoPath() {
    // A NUL makes no path on any system (a non-ASCII name makes none where the locale is POSIX,
    // which is how the fuzzer found this: Path.of threw InvalidPathException out of the reader).
    editWeightMapUnchecked(map -> map.put("lm_head.weight", "model\u0000-00001.safetensors"));
    InvalidInputException e = open();
    assertThat(e.file()).contains(index);
    assertThat(e.tensor()).contains("lm_head.weight");
    assertThat(e.getMessage()).contains("which this system cannot name as a file");
  }

  @Test
  void indexThatIsNotJson() throws IOException {
    Files.writeString(index, "{\"weight_map\": ");
    InvalidInputException e = open();
    assertThat(e.file()).contains(index);
    assertThat(e.getMessage()).contains("not valid JSON");
  }

  @Test
  void indexWithoutWeightMap() throws IOException {
    Files.writeString(index, "{\"metadata\": {}}");
    assertThat(open().getMessage()).contains("lacks a weight_map");
  }

  @Test
  void folderWithoutIndexIsTheUnionOfItsFiles() throws IOException {
    Path plain = dir.resolve("plain");
    Files.createDirectories(plain);
    SafetensorsWriter.write(plain.resolve("b.safetensors"), Map.of("from", "b"),
        List.of(TestFiles.f32Tensor("y", new long[] {1}, 2)));
    SafetensorsWriter.write(plain.resolve("a.safetensors"), Map.of("from", "a"),
        List.of(TestFiles.f32Tensor("x", new long[] {1}, 1)));
    try (Checkpoint cp = new SafetensorsFormat().open(plain)) {
      assertThat(cp.tensors().keySet()).containsExactly("x", "y");
      assertThat(TestFiles.floats(cp.tensor("y"))).containsExactly(2f);
      assertThat(cp.metadata()).containsExactly(Map.entry("from", "a")); // first file wins
    }
  }

  @Test
  void folderWithoutIndexRejectsATensorInTwoFiles() throws IOException {
    Path plain = dir.resolve("dup");
    Files.createDirectories(plain);
    SafetensorsWriter.write(plain.resolve("a.safetensors"), null, List.of(TestFiles.f32Tensor("x", new long[] {1}, 1)));
    SafetensorsWriter.write(plain.resolve("b.safetensors"), null, List.of(TestFiles.f32Tensor("x", new long[] {1}, 2)));
    InvalidInputException e = catchThrowableOfType(InvalidInputException.class,
        () -> new SafetensorsFormat().open(plain));
    assertThat(e.tensor()).contains("x");
    assertThat(e.file()).contains(plain.resolve("b.safetensors"));
    assertThat(e.getMessage()).contains("also in a.safetensors");
  }

  @Test
  void folderWithNothingToOpen() throws IOException {
    Path emptyFolder = Files.createDirectories(dir.resolve("nothing"));
    InvalidInputException e = catchThrowableOfType(InvalidInputException.class,
        () -> new SafetensorsFormat().open(emptyFolder));
    assertThat(e.getMessage()).contains(emptyFolder.toString(), "no model.safetensors.index.json");
  }

  @Test
  void aBadShardIsReportedByItsOwnName() throws IOException {
    Path shard = folder.resolve("model-00003-of-00003.safetensors");
    Files.write(shard, new byte[] {1, 2, 3});
    InvalidInputException e = open();
    assertThat(e.file()).contains(shard.toAbsolutePath());
    assertThat(e.getMessage()).contains("3 bytes");
  }

  private InvalidInputException open() {
    InvalidInputException e = catchThrowableOfType(InvalidInputException.class,
        () -> new SafetensorsFormat().open(folder).close());
    assertThat(e).as("opening %s must fail", folder).isNotNull();
    return e;
  }

  private void editWeightMap(java.util.function.Consumer<ObjectNode> edit) throws IOException {
    ObjectNode root = (ObjectNode) JSON.readTree(index.toFile());
    edit.accept((ObjectNode) root.get("weight_map"));
    JSON.writeValue(index.toFile(), root);
  }

  private void editWeightMapUnchecked(java.util.function.Consumer<ObjectNode> edit) {
    try {
      editWeightMap(edit);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
