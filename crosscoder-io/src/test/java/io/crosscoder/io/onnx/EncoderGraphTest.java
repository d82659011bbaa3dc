package io.crosscoder.io.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.InvalidInputException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link EncoderGraph}'s rule on graphs written as node lists (no file, no ONNX Runtime): a
 * well-formed two-block post-LN encoder, and the malformed shapes a hostile or unusual file can
 * have, each refused with what was wrong.
 */
class EncoderGraphTest {
  private static final Path FILE = Path.of("graph.onnx");

  private static GraphNode node(String op, List<String> inputs, String output) {
    return new GraphNode(output + "_node", op, "", inputs, List.of(output), Map.of());
  }

  private static RawInitializer init(String name, long... dims) {
    return new RawInitializer(name, 1, dims, -1, 0, List.of(), 0, Map.of(), false);
  }

  /** The nodes of a post-LN encoder with {@code blocks} blocks over residual values h0, h1, ... */
  private static List<GraphNode> encoder(int blocks) {
    List<GraphNode> nodes = new ArrayList<>(List.of(
        node("Gather", List.of("words", "input_ids"), "w"),
        node("Gather", List.of("positions", "position_ids"), "p"),
        node("Add", List.of("w", "p"), "e"),
        node("LayerNormalization", List.of("e", "g", "b"), "h0")));
    for (int l = 0; l < blocks; l++) {
      String h = "h" + l;
      nodes.add(node("Softmax", List.of(h), "s" + l));
      nodes.add(node("Add", List.of("s" + l, h), "r" + l));
      nodes.add(node("LayerNormalization", List.of("r" + l, "g", "b"), "a" + l));
      nodes.add(node("Relu", List.of("a" + l), "f" + l));
      nodes.add(node("Add", List.of("a" + l, "f" + l), "q" + l));
      nodes.add(node("LayerNormalization", List.of("q" + l, "g", "b"), "h" + (l + 1)));
    }
    return nodes;
  }

  private static OnnxModelReader.ParsedModel model(List<GraphNode> nodes, List<String> inputs) {
    return new OnnxModelReader.ParsedModel(new LinkedHashMap<>(),
        List.of(init("words", 50, 8), init("positions", 16, 8), init("position_ids", 1, 16), init("g", 8), init("b", 8)),
        nodes, 0, inputs, List.of("out"));
  }

  @Test
  void findsTheResidualChainOfAPostLayerNormEncoder() {
    EncoderGraph g = EncoderGraph.find(FILE, model(encoder(3), List.of("input_ids", "attention_mask")));
    assertThat(g.residual()).containsExactly("h0", "h1", "h2", "h3");
    assertThat(g.layers()).isEqualTo(3);
    assertThat(g.vocabulary()).isEqualTo(50);
    assertThat(g.width()).isEqualTo(8);
    assertThat(g.maxPositions()).isEqualTo(16);
    assertThat(g.tokenTypeIds()).isNull();
    assertThat(g.weights()).isEqualTo("FLOAT");
  }

  @Test
  void refusesMalformedGraphs() {
    assertThatThrownBy(() -> EncoderGraph.find(FILE, model(encoder(2), List.of("input_ids"))))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("graph.onnx")
        .hasMessageContaining("needs inputs 'input_ids' and 'attention_mask'");

    List<GraphNode> cyclic = encoder(2);
    // The second block's feed-forward sum is written as 'e', the value the embedding LayerNorm reads:
    // its residual step leads back to h0.
    cyclic.removeLast();
    cyclic.set(cyclic.size() - 1, node("Add", List.of("a1", "f1"), "e"));
    assertThatThrownBy(() -> EncoderGraph.find(FILE, model(cyclic, List.of("input_ids", "attention_mask"))))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("cycle");

    List<GraphNode> attentionOnly = encoder(1);
    attentionOnly.subList(attentionOnly.size() - 3, attentionOnly.size()).clear();
    assertThatThrownBy(() -> EncoderGraph.find(FILE, model(attentionOnly, List.of("input_ids", "attention_mask"))))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("attention but no feed-forward");

    List<GraphNode> noAttention = encoder(1);
    noAttention.set(4, node("Relu", List.of("h0"), "s0"));
    assertThatThrownBy(() -> EncoderGraph.find(FILE, model(noAttention, List.of("input_ids", "attention_mask"))))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("block 0")
        .hasMessageContaining("should contain a Softmax");

    List<GraphNode> twoPositionTables = encoder(1);
    twoPositionTables.add(node("Gather", List.of("positions", "position_ids"), "p2"));
    twoPositionTables.set(2, node("Add", List.of("w", "p", "p2"), "e"));
    assertThatThrownBy(() -> EncoderGraph.find(FILE, model(twoPositionTables, List.of("input_ids", "attention_mask"))))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("expected one position embedding table");
  }
}
