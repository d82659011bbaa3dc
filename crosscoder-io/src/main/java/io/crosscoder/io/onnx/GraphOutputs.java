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
import java.util.ArrayList;
import java.util.List;

/**
 * Rewrites a serialized {@code ModelProto} so that its main graph declares exactly the given
 * outputs, copying every other byte unchanged: the fields before and after the graph, and every
 * graph field except {@code output} (initializers and nodes included) keep their bytes and order;
 * the new outputs follow at the end of the graph, each a {@code ValueInfoProto} with only a name.
 * ONNX Runtime infers an output's type and shape from the node that produces it, so no type is
 * needed (checked by the tests against real models).
 *
 * <p>Why a byte-level rewrite and not a protobuf round trip: the model is as large as its weights
 * (133 MB for bge-small), and only the graph's {@code output} fields change, so the rewrite is two
 * scans over field headers plus three bulk copies.
 */
final class GraphOutputs {
  /** The tag of {@code ModelProto.graph}: field number, then wire type 2 (length-delimited) in the low 3 bits. */
  private static final int MODEL_GRAPH_TAG = OnnxSchema.MODEL_GRAPH << 3 | WireFormat.WIRETYPE_LENGTH_DELIMITED;

  private GraphOutputs() {}

  /** A byte range {@code [start, end)} of the model. */
  private record Range(long start, long end) {
    long length() {
      return end - start;
    }
  }

  /**
   * The model in {@code model} (the bytes of {@code file}) with its graph's outputs replaced by
   * {@code outputs}, in a segment of {@code arena}.
   *
   * @throws InvalidInputException naming {@code file} if the bytes are not a ModelProto with one graph
   */
  static MemorySegment withOutputs(Path file, MemorySegment model, List<String> outputs, Arena arena) {
    try {
      GraphField field = graphField(file, model);
      Range graph = field.payload();
      List<Range> oldOutputs = outputFields(model.asSlice(graph.start(), graph.length()), graph.start());
      byte[] added = encode(outputs);
      long removed = 0;
      for (Range r : oldOutputs) {
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
      for (Range r : oldOutputs) {
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

  /** The {@code output} fields of a graph payload (file offsets: {@code base} + offset in {@code graph}). */
  private static List<Range> outputFields(MemorySegment graph, long base) throws IOException {
    CodedInputStream in = CodedInputStream.newInstance(new SegmentInputStream(graph), 1 << 16);
    in.setSizeLimit(Integer.MAX_VALUE);
    List<Range> out = new ArrayList<>();
    while (true) {
      long start = in.getTotalBytesRead();
      int tag = in.readTag();
      if (tag == 0) {
        break;
      }
      in.skipField(tag);
      if (WireFormat.getTagFieldNumber(tag) == OnnxSchema.GRAPH_OUTPUT) {
        out.add(new Range(base + start, base + in.getTotalBytesRead()));
      }
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
