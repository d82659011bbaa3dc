package io.crosscoder.io.onnx;

import io.crosscoder.InvalidInputException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The residual stream of a BERT-style (post-LayerNorm) transformer encoder, found from the
 * structure of its ONNX graph, never from value names.
 *
 * <p>The rule:
 * <ol>
 *   <li><b>Inputs.</b> The graph's inputs (those that are not initializers) are {@code input_ids}
 *       and {@code attention_mask}, and optionally {@code token_type_ids}; any other input is an
 *       error, since the runner would not know what to feed it.
 *   <li><b>LayerNorms.</b> A value {@code y} is a LayerNorm of {@code x} when it is output 0 of a
 *       {@code LayerNormalization} node with input 0 {@code x}, or when it is the decomposition
 *       that PyTorch's exporter writes: {@code y = Add(Mul(Div(Sub(x, ReduceMean(x)), Sqrt(..)),
 *       gamma), beta)} (operands of {@code Add} and {@code Mul} in either order).
 *   <li><b>Embeddings.</b> The word embedding is the {@code Gather} of {@code input_ids} from a
 *       rank-2 initializer {@code [vocabulary, width]} (quantized models gather integers and
 *       dequantize after). Following its output forward through {@code Add}, {@code
 *       DequantizeLinear}, {@code Cast} and {@code Identity} nodes, the first value that is a
 *       LayerNorm's input is the embedding sum; that LayerNorm's output is {@code resid_pre 0}.
 *       The sum's {@code Gather} leaves are the word, token-type ({@code Gather} of {@code
 *       token_type_ids}) and position embeddings: exactly one leaf must be a {@code [positions,
 *       width]} table gathered by anything else, and its row count is the longest sequence.
 *   <li><b>Blocks.</b> From a residual value {@code h}, the next is the LayerNorm of the one
 *       {@code Add} that takes {@code h} itself as an operand and whose output is a LayerNorm's
 *       input (the residual connection of a post-LN block). The branch added to {@code h} must
 *       contain a {@code Softmax} on even steps (attention) and none on odd steps (feed-forward),
 *       searched back from the {@code Add} without crossing the residual values found so far. A
 *       block is two steps; the output of its second LayerNorm is {@code resid_post L}. The chain
 *       ends where no such {@code Add} exists.
 * </ol>
 * A graph that does not fit (a pre-LN block, rotary positions, another input, a LayerNorm written
 * differently) is rejected with an {@link InvalidInputException} naming the file and what was
 * missing; nothing is guessed.
 *
 * @param inputIds the graph input of token ids
 * @param attentionMask the graph input of the attention mask
 * @param tokenTypeIds the graph input of token type ids, or null when the model has none
 * @param residual the values {@code resid_pre 0}, {@code resid_post 0}, ..., {@code resid_post L-1}
 * @param vocabulary rows of the word embedding table
 * @param width the residual stream's width
 * @param maxPositions rows of the position embedding table
 * @param weights the weights' number format, for descriptions ({@code "FLOAT"}, {@code "int8-quantized"})
 */
record EncoderGraph(
    String inputIds, String attentionMask, String tokenTypeIds, List<String> residual, int vocabulary,
    int width, int maxPositions, String weights) {
  static final String INPUT_IDS = "input_ids";
  static final String ATTENTION_MASK = "attention_mask";
  static final String TOKEN_TYPE_IDS = "token_type_ids";

  private static final Set<String> PASS_THROUGH = Set.of("Add", "DequantizeLinear", "Cast", "Identity");
  private static final Set<String> QUANTIZED_OPS =
      Set.of("MatMulInteger", "DynamicQuantizeLinear", "QLinearMatMul", "DequantizeLinear", "MatMulIntegerToFloat",
          "DynamicQuantizeMatMul", "QuantizeLinear");
  /** Bounds the backward search for a Softmax in one residual branch (a BERT branch has about 60 nodes). */
  private static final int MAX_BRANCH_NODES = 100_000;

  EncoderGraph {
    residual = List.copyOf(residual);
  }

  /** The number of blocks. */
  int layers() {
    return residual.size() - 1;
  }

  /** Finds the residual stream of the model read from {@code file}; see the class comment for the rule. */
  static EncoderGraph find(Path file, OnnxModelReader.ParsedModel model) {
    return new Finder(file, model).find();
  }

  private static final class Finder {
    private final Path file;
    private final OnnxModelReader.ParsedModel model;
    private final GraphIndex graph;
    private final Map<String, RawInitializer> initializers = new HashMap<>();
    /** LayerNorm input to output. */
    private final Map<String, String> layerNormOf = new HashMap<>();

    Finder(Path file, OnnxModelReader.ParsedModel model) {
      this.file = file;
      this.model = model;
      for (RawInitializer t : model.initializers()) {
        initializers.putIfAbsent(t.name(), t);
      }
      this.graph = new GraphIndex(model.nodes(), initializers);
      for (GraphNode n : model.nodes()) {
        if (n.outputs().isEmpty()) {
          continue;
        }
        String y = n.outputs().getFirst();
        layerNormInput(y).ifPresent(x -> {
          String other = layerNormOf.putIfAbsent(x, y);
          if (other != null && !other.equals(y)) {
            throw fail("value '" + x + "' is normalised by two LayerNorms ('" + other + "' and '" + y + "')");
          }
        });
      }
    }

    private InvalidInputException fail(String problem) {
      return new InvalidInputException(file, null, "not a BERT-style encoder this runner can read: " + problem);
    }

    EncoderGraph find() {
      Set<String> inputs = new LinkedHashSet<>(model.graphInputs());
      inputs.removeAll(initializers.keySet());
      for (String in : inputs) {
        if (!in.equals(INPUT_IDS) && !in.equals(ATTENTION_MASK) && !in.equals(TOKEN_TYPE_IDS)) {
          throw fail("graph input '" + in + "' is not one the runner feeds (" + INPUT_IDS + ", " + ATTENTION_MASK
              + ", " + TOKEN_TYPE_IDS + "); inputs: " + inputs);
        }
      }
      if (!inputs.contains(INPUT_IDS) || !inputs.contains(ATTENTION_MASK)) {
        throw fail("the graph needs inputs '" + INPUT_IDS + "' and '" + ATTENTION_MASK + "', it has " + inputs);
      }
      String tokenTypes = inputs.contains(TOKEN_TYPE_IDS) ? TOKEN_TYPE_IDS : null;

      WordEmbeddings words = wordEmbeddings();
      long[] wordDims = words.table().dims();
      String h0 = firstLayerNormAfter(words);
      List<Leaf> leaves = embeddingLeaves(inverse(h0));
      RawInitializer positions = positionEmbeddings(leaves, wordDims[1]);

      List<String> residual = residualChain(h0);
      String weights = quantized() ? "int8-quantized"
          : OnnxDataType.of(words.table().dataType()).map(Enum::name).orElse("type " + words.table().dataType());
      return new EncoderGraph(INPUT_IDS, ATTENTION_MASK, tokenTypes, residual, (int) wordDims[0], (int) wordDims[1],
          (int) positions.dims()[0], weights);
    }

    /** The input of the LayerNorm whose output is {@code y}. */
    private String inverse(String y) {
      for (Map.Entry<String, String> e : layerNormOf.entrySet()) {
        if (e.getValue().equals(y)) {
          return e.getKey();
        }
      }
      throw new IllegalStateException("internal error: " + y + " is not a LayerNorm output");
    }

    /** The word embedding table and the value its Gather of {@code input_ids} produces. */
    private record WordEmbeddings(RawInitializer table, String gathered) {}

    private WordEmbeddings wordEmbeddings() {
      RawInitializer found = null;
      String gathered = null;
      for (GraphIndex.Use use : graph.consumers(INPUT_IDS)) {
        GraphNode n = use.node();
        if (!n.opType().equals("Gather") || use.input() != 1 || n.outputs().isEmpty()) {
          continue;
        }
        Optional<RawInitializer> table = n.input(0).flatMap(graph::initializer).filter(t -> t.dims().length == 2);
        if (table.isPresent()) {
          if (found != null) {
            throw fail("input_ids is gathered from two tables, '" + found.name() + "' and '" + table.get().name() + "'");
          }
          found = table.get();
          gathered = n.outputs().getFirst();
        }
      }
      if (found == null) {
        throw fail("no Gather of input_ids from a [vocabulary, width] initializer (the word embeddings)");
      }
      long[] dims = found.dims();
      if (dims[0] < 1 || dims[0] > Integer.MAX_VALUE || dims[1] < 1 || dims[1] > Integer.MAX_VALUE) {
        throw new InvalidInputException(file, found.name(), "word embedding table has dims " + java.util.Arrays.toString(dims));
      }
      return new WordEmbeddings(found, gathered);
    }

    private String firstLayerNormAfter(WordEmbeddings words) {
      ArrayDeque<String> queue = new ArrayDeque<>(List.of(words.gathered()));
      Set<String> seen = new HashSet<>(queue);
      while (!queue.isEmpty()) {
        String v = queue.poll();
        String y = layerNormOf.get(v);
        if (y != null) {
          return y;
        }
        for (GraphIndex.Use use : graph.consumers(v)) {
          if (PASS_THROUGH.contains(use.node().opType()) && !use.node().outputs().isEmpty()) {
            String out = use.node().outputs().getFirst();
            if (seen.add(out)) {
              queue.add(out);
            }
          }
        }
      }
      throw fail("no LayerNorm after the word embeddings '" + words.table().name() + "'");
    }

    /** A table gathered into the embedding sum, and what it is gathered by. */
    private record Leaf(RawInitializer table, String indices) {}

    /** The Gathers of initializer tables that the embedding sum {@code sum} adds up. */
    private List<Leaf> embeddingLeaves(String sum) {
      List<Leaf> leaves = new ArrayList<>();
      ArrayDeque<String> stack = new ArrayDeque<>(List.of(sum));
      Set<String> seen = new HashSet<>();
      while (!stack.isEmpty()) {
        String value = stack.pop();
        Optional<GraphNode> p = graph.producer(value);
        if (!seen.add(value) || p.isEmpty()) {
          continue;
        }
        GraphNode n = p.get();
        switch (n.opType()) {
          case "Add" -> n.inputs().forEach(stack::push);
          case "DequantizeLinear", "Cast", "Identity" -> n.input(0).ifPresent(stack::push);
          case "Gather" -> {
            Optional<RawInitializer> table = n.input(0).flatMap(graph::initializer).filter(t -> t.dims().length == 2);
            if (table.isPresent() && n.input(1).isPresent()) {
              leaves.add(new Leaf(table.get(), n.input(1).get()));
            }
          }
          default -> { }
        }
      }
      return leaves;
    }

    private RawInitializer positionEmbeddings(List<Leaf> leaves, long width) {
      List<RawInitializer> positions = new ArrayList<>();
      for (Leaf l : leaves) {
        if (!l.indices().equals(INPUT_IDS) && !l.indices().equals(TOKEN_TYPE_IDS) && l.table().dims()[1] == width) {
          positions.add(l.table());
        }
      }
      if (positions.size() != 1) {
        throw fail("expected one position embedding table (a [positions, " + width + "] initializer gathered into"
            + " the embedding sum by position), found " + positions.stream().map(RawInitializer::name).toList()
            + "; models with relative or rotary positions are not BERT-like");
      }
      RawInitializer t = positions.getFirst();
      long rows = t.dims()[0];
      if (rows < 1 || rows > Integer.MAX_VALUE) {
        throw new InvalidInputException(file, t.name(), "position embedding table has " + rows + " rows");
      }
      return t;
    }

    private List<String> residualChain(String h0) {
      List<String> chain = new ArrayList<>();
      Set<String> stops = new HashSet<>();
      chain.add(h0);
      stops.add(h0);
      String h = h0;
      int step = 0;
      while (true) {
        GraphNode add = null;
        for (GraphIndex.Use use : graph.consumers(h)) {
          GraphNode n = use.node();
          if (n.opType().equals("Add") && !n.outputs().isEmpty() && layerNormOf.containsKey(n.outputs().getFirst())) {
            if (add != null && add != n) {
              throw fail("two residual Adds read '" + h + "': " + add.describe() + " and " + n.describe());
            }
            add = n;
          }
        }
        if (add == null) {
          break;
        }
        String branch = null;
        for (String in : add.inputs()) {
          if (!in.equals(h)) {
            branch = in;
          }
        }
        if (branch == null) {
          throw fail(add.describe() + " adds '" + h + "' to itself");
        }
        boolean attention = step % 2 == 0;
        if (hasSoftmax(branch, stops) != attention) {
          throw fail("block " + step / 2 + ": the branch added by " + add.describe() + " should "
              + (attention ? "" : "not ") + "contain a Softmax (a post-LN block is attention, Add, LayerNorm,"
              + " feed-forward, Add, LayerNorm)");
        }
        h = layerNormOf.get(add.outputs().getFirst());
        if (!stops.add(h)) {
          throw fail("the residual chain returns to '" + h + "' (the graph has a cycle)");
        }
        if (!attention) {
          chain.add(h);
        }
        step++;
      }
      if (step == 0 || step % 2 != 0) {
        throw fail(step == 0 ? "no residual Add into a LayerNorm after the embeddings (not a post-LN encoder)"
            : "the last block has attention but no feed-forward step (" + step + " residual steps)");
      }
      return chain;
    }

    private boolean hasSoftmax(String value, Set<String> stops) {
      ArrayDeque<String> stack = new ArrayDeque<>();
      Set<String> seen = new HashSet<>();
      stack.push(value);
      while (!stack.isEmpty()) {
        String v = stack.pop();
        if (stops.contains(v) || !seen.add(v)) {
          continue;
        }
        if (seen.size() > MAX_BRANCH_NODES) {
          throw fail("a residual branch has more than " + MAX_BRANCH_NODES + " values");
        }
        Optional<GraphNode> p = graph.producer(v);
        if (p.isEmpty()) {
          continue;
        }
        if (p.get().opType().equals("Softmax")) {
          return true;
        }
        for (String in : p.get().inputs()) {
          if (!in.isEmpty()) {
            stack.push(in);
          }
        }
      }
      return false;
    }

    private boolean quantized() {
      for (GraphNode n : model.nodes()) {
        if (QUANTIZED_OPS.contains(n.opType())) {
          return true;
        }
      }
      return false;
    }

    /** {@code x} if {@code y} is a LayerNorm of {@code x} (see the class comment). */
    private Optional<String> layerNormInput(String y) {
      Optional<GraphNode> p = graph.producer(y);
      if (p.isEmpty() || !p.get().outputs().getFirst().equals(y)) {
        return Optional.empty();
      }
      GraphNode n = p.get();
      if (n.opType().equals("LayerNormalization")) {
        return n.input(0);
      }
      if (!n.opType().equals("Add")) {
        return Optional.empty();
      }
      for (String scaled : n.inputs()) {
        Optional<GraphNode> mul = producer(scaled, "Mul");
        if (mul.isEmpty()) {
          continue;
        }
        for (String normalised : mul.get().inputs()) {
          Optional<GraphNode> div = producer(normalised, "Div");
          if (div.isEmpty() || div.get().inputs().size() != 2 || producer(div.get().inputs().get(1), "Sqrt").isEmpty()) {
            continue;
          }
          Optional<GraphNode> sub = producer(div.get().inputs().get(0), "Sub");
          if (sub.isEmpty() || sub.get().inputs().size() != 2) {
            continue;
          }
          String x = sub.get().inputs().get(0);
          Optional<GraphNode> mean = producer(sub.get().inputs().get(1), "ReduceMean");
          if (mean.isPresent() && mean.get().input(0).filter(x::equals).isPresent()) {
            return Optional.of(x);
          }
        }
      }
      return Optional.empty();
    }

    private Optional<GraphNode> producer(String value, String opType) {
      return graph.producer(value).filter(n -> n.opType().equals(opType));
    }
  }
}
