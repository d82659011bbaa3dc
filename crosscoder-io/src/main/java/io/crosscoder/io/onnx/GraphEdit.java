package io.crosscoder.io.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import io.crosscoder.InvalidInputException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rewrites a serialized {@code ModelProto} so that its main graph computes exactly the given
 * outputs: the graph's {@code output} fields are replaced by the given names (each a {@code
 * ValueInfoProto} with only a name: ONNX Runtime infers an output's type and shape from the node
 * that produces it, as the tests check on real models), and the nodes that none of them depends
 * on are dropped, with the initializers that only those nodes read. ONNX Runtime does not drop
 * such nodes itself: a session whose only output is the embedding output still runs every block.
 * Every other byte is copied unchanged, in order: the fields before and after the graph, and the
 * graph's other fields.
 *
 * <p>Liveness: a node is kept if it produces a kept output or an input of a kept node. When the
 * graph has control-flow nodes ({@code If}, {@code Loop}, {@code Scan}), whose subgraphs can read
 * outer values without naming them as inputs, every node and initializer is kept.
 *
 * <p>Why a byte-level rewrite and not a protobuf round trip: the model is as large as its weights
 * (133 MB for bge-small), and only field headers need reading, so the rewrite is two scans over
 * field headers plus bulk copies of the kept ranges.
 */
final class GraphEdit {
  /** The tag of {@code ModelProto.graph}: field number, then wire type 2 (length-delimited) in the low 3 bits. */
  private static final int MODEL_GRAPH_TAG = OnnxSchema.MODEL_GRAPH << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED;
  private static final Set<String> CONTROL_FLOW = Set.of("If", "Loop", "Scan");

  private GraphEdit() {}

  /** A byte range {@code [start, end)} of the model. */
  private record Range(long start, long end) {
    long length() {
      return end - start;
    }
  }

  /**
   * The model in {@code model} (the bytes of {@code file}, read into {@code parsed}) computing only
   * {@code outputs}, in a segment of {@code arena}.
   *
   * @throws InvalidInputException naming {@code file} if the bytes are not a ModelProto with one
   *     graph, or an output is produced by no node
   */
  static MemorySegment computing(Path file, MemorySegment model, OnnxModelReader.ParsedModel parsed,
      List<String> outputs, Arena arena) {
    List<GraphNode> nodes = parsed.nodes();
    boolean[] liveNodes = new boolean[nodes.size()];
    Set<String> read = new HashSet<>();
    boolean controlFlow = nodes.stream().anyMatch(n -> CONTROL_FLOW.contains(n.opType()));
    if (controlFlow) {
      Arrays.fill(liveNodes, true);
    } else {
      Map<String, Integer> producer = new HashMap<>();
      for (int i = 0; i < nodes.size(); i++) {
        for (String out : nodes.get(i).outputs()) {
          producer.putIfAbsent(out, i);
        }
      }
      ArrayDeque<String> stack = new ArrayDeque<>();
      for (String out : outputs) {
        if (!producer.containsKey(out)) {
          throw new InvalidInputException(file, null, "no node produces '" + out + "'");
        }
        stack.push(out);
      }
      while (!stack.isEmpty()) {
        Integer p = producer.get(stack.pop());
        if (p == null || liveNodes[p]) {
          continue;
        }
        liveNodes[p] = true;
        for (String in : nodes.get(p).inputs()) {
          if (!in.isEmpty()) {
            stack.push(in);
          }
        }
      }
    }
    for (int i = 0; i < nodes.size(); i++) {
      if (liveNodes[i]) {
        read.addAll(nodes.get(i).inputs());
      }
    }
    List<RawInitializer> initializers = parsed.initializers();
    boolean[] liveInitializers = new boolean[initializers.size()];
    for (int i = 0; i < initializers.size(); i++) {
      liveInitializers[i] = controlFlow || read.contains(initializers.get(i).name());
    }
    try {
      GraphField field = graphField(file, model);
      Range graph = field.payload();
      List<Range> dropped = droppedFields(file, model.asSlice(graph.start(), graph.length()), graph.start(),
          liveNodes, liveInitializers);
      byte[] added = encode(outputs);
      long removed = 0;
      for (Range r : dropped) {
        removed += r.length();
      }
      long payload = graph.length() - removed + added.length;
      if (payload > Integer.MAX_VALUE) {
        throw new InvalidInputException(file, null, "the edited graph would exceed the 2 GiB protobuf limit");
      }
      long headerStart = field.header();
      byte[] header = header((int) payload);
      long size = headerStart + header.length + payload + (model.byteSize() - graph.end());
      MemorySegment out = arena.allocate(size, 8);
      long at = 0;
      at = copy(model, 0, headerStart, out, at);
      MemorySegment.copy(MemorySegment.ofArray(header), 0, out, at, header.length);
      at += header.length;
      long from = graph.start();
      for (Range r : dropped) {
        at = copy(model, from, r.start(), out, at);
        from = r.end();
      }
      at = copy(model, from, graph.end(), out, at);
      MemorySegment.copy(MemorySegment.ofArray(added), 0, out, at, added.length);
      at += added.length;
      at = copy(model, graph.end(), model.byteSize(), out, at);
      if (at != size) {
        throw new IllegalStateException("internal error: wrote " + at + " of " + size + " bytes editing " + file);
      }
      return out;
    } catch (IOException e) {
      throw new InvalidInputException(file, null, "not a valid ONNX protobuf: " + e.getMessage(), e);
    }
  }

  private static long copy(MemorySegment from, long start, long end, MemorySegment to, long at) {
    MemorySegment.copy(from, start, to, at, end - start);
    return at + end - start;
  }

  /**
   * The model's single {@code graph} field: {@code header} is the offset of its tag, {@code
   * payload} the range of its bytes.
   */
  private record GraphField(long header, Range payload) {}

  /** Where the model's single {@code graph} field lies. */
  private static GraphField graphField(Path file, MemorySegment model) throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(new SegmentInputStream(model), 1 << 16);
    in.setSizeLimit(Integer.MAX_VALUE);
    GraphField graph = null;
    while (true) {
      long tagStart = in.getTotalBytesRead();
      int tag = in.readTag();
      if (tag == 0) {
        break;
      }
      if (tag != MODEL_GRAPH_TAG) {
        in.skipField(tag);
        continue;
      }
      if (graph != null) {
        throw new InvalidInputException(file, null, "the ModelProto has more than one graph field;"
            + " protobuf would merge them, which this editor does not do");
      }
      int length = in.readRawVarint32();
      long start = in.getTotalBytesRead();
      if (length < 0 || start + length > model.byteSize()) {
        throw new InvalidInputException(file, null, "truncated: the graph declares " + (length & 0xffffffffL)
            + " bytes at byte " + start + " but the file has " + (model.byteSize() - start) + " left");
      }
      graph = new GraphField(tagStart, new Range(start, start + length));
      in.skipRawBytes(length);
    }
    if (graph == null) {
      throw new InvalidInputException(file, null, "not an ONNX model: the ModelProto has no graph");
    }
    return graph;
  }

  /**
   * The fields of a graph payload to drop (file offsets: {@code base} + offset in {@code graph}):
   * every {@code output}, and the {@code node} and {@code initializer} fields whose index (in file
   * order, as {@link OnnxModelReader} numbers them) is not live.
   */
  private static List<Range> droppedFields(Path file, MemorySegment graph, long base, boolean[] liveNodes,
      boolean[] liveInitializers) throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(new SegmentInputStream(graph), 1 << 16);
    in.setSizeLimit(Integer.MAX_VALUE);
    List<Range> out = new ArrayList<>();
    int node = 0;
    int initializer = 0;
    while (true) {
      long start = in.getTotalBytesRead();
      int tag = in.readTag();
      if (tag == 0) {
        break;
      }
      in.skipField(tag);
      boolean drop = switch (WireFormat.getTagFieldNumber(tag)) {
        case OnnxSchema.GRAPH_OUTPUT -> true;
        case OnnxSchema.GRAPH_NODE -> {
          int i = node++;
          yield i < liveNodes.length && !liveNodes[i];
        }
        case OnnxSchema.GRAPH_INITIALIZER -> {
          int i = initializer++;
          yield i < liveInitializers.length && !liveInitializers[i];
        }
        default -> false;
      };
      if (drop) {
        out.add(new Range(base + start, base + in.getTotalBytesRead()));
      }
    }
    if (node != liveNodes.length || initializer != liveInitializers.length) {
      throw new InvalidInputException(file, null, "the graph has " + node + " nodes and " + initializer
          + " initializers on a second reading, but " + liveNodes.length + " and " + liveInitializers.length
          + " on the first");
    }
    return out;
  }

  private static byte[] header(int payload) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    out.writeUInt32NoTag(MODEL_GRAPH_TAG);
    out.writeUInt32NoTag(payload);
    out.flush();
    return bytes.toByteArray();
  }

  private static byte[] encode(List<String> outputs) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    for (String name : outputs) {
      ByteArrayOutputStream info = new ByteArrayOutputStream();
      CodedOutputStream v = CodedOutputStream.newInstance(info);
      v.writeString(OnnxSchema.VALUE_INFO_NAME, name);
      v.flush();
      out.writeByteArray(OnnxSchema.GRAPH_OUTPUT, info.toByteArray());
    }
    out.flush();
    return bytes.toByteArray();
  }
}
