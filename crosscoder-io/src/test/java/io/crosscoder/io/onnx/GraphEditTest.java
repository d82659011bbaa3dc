package io.crosscoder.io.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.InvalidInputException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link GraphEdit} on bge-small-en: the edited bytes, read back by {@link OnnxModelReader} and by
 * the test's own {@link OnnxOracle}, declare the requested outputs and keep exactly the nodes and
 * initializers those outputs depend on, and everything else unchanged.
 */
class GraphEditTest {
  @TempDir static Path folder;
  static Path file;

  @BeforeAll
  static void copyModel() throws Exception {
    file = LangchainModels.copy(LangchainModels.BGE_SMALL_EN, folder);
  }

  private static OnnxModelReader.ParsedModel read(Path path, MemorySegment bytes) {
    return OnnxModelReader.read(path, bytes);
  }

  private record Edited(OnnxModelReader.ParsedModel before, OnnxModelReader.ParsedModel after, Path written) {}

  private static Edited edit(List<String> outputs) throws Exception {
    try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
      OnnxModelReader.ParsedModel before = read(file, mapped);
      MemorySegment edited = GraphEdit.computing(file, mapped, before, outputs, arena);
      Path written = folder.resolve("edited-" + outputs.size() + ".onnx");
      Files.write(written, edited.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
      return new Edited(before, read(written, edited), written);
    }
  }

  @Test
  void everyBlockOutputKeepsTheWholeGraph() throws Exception {
    List<String> outputs = new java.util.ArrayList<>();
    outputs.add("/embeddings/LayerNorm/Add_1_output_0");
    for (int l = 0; l < 11; l++) {
      outputs.add("/encoder/layer." + l + "/output/LayerNorm/Add_1_output_0");
    }
    outputs.add("last_hidden_state");
    Edited e = edit(outputs);
    assertThat(e.before().graphOutputs()).containsExactly("last_hidden_state");
    assertThat(e.after().graphOutputs()).containsExactlyElementsOf(outputs);
    assertThat(e.after().nodes()).isEqualTo(e.before().nodes());
    assertThat(e.after().initializers().stream().map(RawInitializer::name).toList())
        .isEqualTo(e.before().initializers().stream().map(RawInitializer::name).toList());
    assertThat(e.after().graphInputs()).isEqualTo(e.before().graphInputs());
    assertThat(e.after().metadata()).isEqualTo(e.before().metadata());
    // The test's own decoder agrees, and the weights' bytes survived: same values as in the original.
    OnnxOracle.Graph original = OnnxOracle.read(file, n -> n.equals("encoder.layer.11.output.LayerNorm.bias"), Set.of());
    OnnxOracle.Graph copy = OnnxOracle.read(e.written(), n -> n.equals("encoder.layer.11.output.LayerNorm.bias"), Set.of());
    assertThat(copy.initializers().get("encoder.layer.11.output.LayerNorm.bias").floats())
        .containsExactly(original.initializers().get("encoder.layer.11.output.LayerNorm.bias").floats());
    assertThat(copy.initializerCount()).isEqualTo(original.initializerCount());
  }

  @Test
  void anEarlyOutputDropsTheBlocksAfterIt() throws Exception {
    Edited e = edit(List.of("/embeddings/LayerNorm/Add_1_output_0"));
    assertThat(e.after().graphOutputs()).containsExactly("/embeddings/LayerNorm/Add_1_output_0");
    Set<String> ops = e.after().nodes().stream().map(GraphNode::opType).collect(Collectors.toSet());
    assertThat(ops).doesNotContain("MatMul", "Softmax", "Erf").contains("Gather", "ReduceMean", "Sqrt");
    // The embedding nodes and the constant of position ids, not the attention mask's nodes (/Unsqueeze, ...).
    assertThat(e.after().nodes()).allSatisfy(n -> assertThat(n.name().startsWith("/embeddings/")
        || n.opType().equals("Constant")).as(n.describe()).isTrue()).isSubsetOf(e.before().nodes());
    assertThat(e.after().initializers().stream().map(RawInitializer::name))
        .containsExactlyInAnyOrder("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
            "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias");
    assertThat(Files.size(e.written())).isLessThan(Files.size(file) / 2); // the word embeddings are 47 of 133 MB

    Edited half = edit(List.of("/encoder/layer.5/output/LayerNorm/Add_1_output_0"));
    assertThat(half.after().nodes()).anySatisfy(n -> assertThat(n.name()).startsWith("/encoder/layer.5/"))
        .noneSatisfy(n -> assertThat(n.name()).startsWith("/encoder/layer.6/"));
  }

  @Test
  void refusesAnOutputThatNoNodeProduces() {
    assertThatThrownBy(() -> edit(List.of("no such value")))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining(file.toString())
        .hasMessageContaining("no node produces 'no such value'");
  }
}
