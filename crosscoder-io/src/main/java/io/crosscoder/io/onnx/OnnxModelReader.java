package io.crosscoder.io.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.ExtensionRegistryLite;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import io.crosscoder.InvalidInputException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * Reads the structure of an ONNX {@code ModelProto} from a mapped file: model metadata, the main
 * graph's nodes and where each initializer's bytes lie.
 *
 * <p>Why not {@code DynamicMessage.parseFrom} on the whole model: that copies every
 * {@code raw_data} onto the heap ({@code CodedInputStream.newInstance(ByteBuffer)} does not alias
 * even with {@code enableAliasing(true)}; only {@code UnsafeByteOperations.unsafeWrap(...)
 * .newCodedInput()} does, and only while {@code sun.misc.Unsafe} is usable). Instead protobuf's
 * {@link CodedInputStream} streams over the file, this class walks {@code ModelProto},
 * {@code GraphProto} and {@code TensorProto} field by field as declared in {@link OnnxSchema},
 * records the file offset of {@code raw_data} and skips it, and parses the small messages (nodes,
 * metadata, external-data entries) with {@link DynamicMessage}. The heap holds the graph
 * structure only.
 */
final class OnnxModelReader {
  /** More dimensions than any real tensor has; bounds what a hostile file can make us hold. */
  static final int MAX_RANK = 64;
  /** Unpacked typed-data runs per tensor beyond which the file is treated as hostile. */
  static final int MAX_TYPED_RUNS = 4096;

  private final Path file;
  private final long fileSize;
  private final CodedInputStream in;
  private String tensorLabel;

  /**
   * The model's structure.
   *
   * @param metadata {@code onnx.*} model fields, then {@code metadata_props}
   * @param initializers the main graph's initializers in file order
   * @param nodes the main graph's nodes in file order
   * @param sparseInitializers how many sparse initializers the graph has (not read)
   * @param graphInputs the names of the main graph's inputs in file order (before IR version 4 they
   *     include the initializers)
   * @param graphOutputs the names of the main graph's outputs in file order
   */
  record ParsedModel(
      SequencedMap<String, String> metadata, List<RawInitializer> initializers, List<GraphNode> nodes,
      int sparseInitializers, List<String> graphInputs, List<String> graphOutputs) {}

  private OnnxModelReader(Path file, MemorySegment mapped) {
    this.file = file;
    this.fileSize = mapped.byteSize();
    this.in = CodedInputStream.newInstance(new SegmentInputStream(mapped), 1 << 16);
    this.in.setSizeLimit(Integer.MAX_VALUE);
  }

  /** Reads the model in {@code mapped} (the whole of {@code file}, below 2 GiB). */
  static ParsedModel read(Path file, MemorySegment mapped) {
    OnnxModelReader reader = new OnnxModelReader(file, mapped);
    try {
      return reader.model();
    } catch (InvalidProtocolBufferException e) {
      throw new InvalidInputException(file, reader.tensorLabel,
          "not a valid ONNX protobuf (truncated or corrupt at byte " + reader.position() + " of "
              + reader.fileSize + "): " + e.getMessage(), e);
    } catch (IOException e) {
      throw new InvalidInputException(file, reader.tensorLabel, "cannot read: " + e.getMessage(), e);
    }
  }

  private long position() {
    return in.getTotalBytesRead();
  }

  private ParsedModel model() throws IOException {
    SequencedMap<String, String> modelFields = new LinkedHashMap<>();
    Map<String, String> props = new LinkedHashMap<>();
    List<String> opsets = new ArrayList<>();
    List<RawInitializer> initializers = new ArrayList<>();
    List<GraphNode> nodes = new ArrayList<>();
    List<String> inputs = new ArrayList<>();
    List<String> outputs = new ArrayList<>();
    int[] sparse = {0};
    boolean sawGraph = false;
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      FieldDescriptor f = declared(OnnxSchema.MODEL, tag);
      if (f == null) {
        in.skipField(tag);
        continue;
      }
      switch (f.getNumber()) {
        case OnnxSchema.MODEL_IR_VERSION -> modelFields.put("onnx.ir_version", Long.toString(in.readInt64()));
        case OnnxSchema.MODEL_PRODUCER_NAME -> modelFields.put("onnx.producer_name", in.readString());
        case OnnxSchema.MODEL_PRODUCER_VERSION -> modelFields.put("onnx.producer_version", in.readString());
        case OnnxSchema.MODEL_DOMAIN -> modelFields.put("onnx.domain", in.readString());
        case OnnxSchema.MODEL_MODEL_VERSION -> modelFields.put("onnx.model_version", Long.toString(in.readInt64()));
        case OnnxSchema.MODEL_GRAPH -> {
          int old = pushMessage("graph");
          graph(initializers, nodes, sparse, modelFields, inputs, outputs);
          in.popLimit(old);
          sawGraph = true;
        }
        case OnnxSchema.MODEL_OPSET_IMPORT -> {
          DynamicMessage m = message(OnnxSchema.OPERATOR_SET_ID);
          String domain = (String) get(m, OnnxSchema.OPSET_DOMAIN);
          opsets.add((domain.isEmpty() ? "ai.onnx" : domain) + ":" + get(m, OnnxSchema.OPSET_VERSION));
        }
        case OnnxSchema.MODEL_METADATA_PROPS -> {
          DynamicMessage m = message(OnnxSchema.STRING_STRING_ENTRY);
          props.put((String) get(m, OnnxSchema.ENTRY_KEY), (String) get(m, OnnxSchema.ENTRY_VALUE));
        }
        default -> in.skipField(tag);
      }
    }
    if (!sawGraph) {
      throw new InvalidInputException(file, null,
          "not an ONNX model: the ModelProto has no graph (field " + OnnxSchema.MODEL_GRAPH + ")");
    }
    if (!opsets.isEmpty()) {
      modelFields.put("onnx.opset_import", String.join(",", opsets));
    }
    SequencedMap<String, String> metadata = new LinkedHashMap<>(modelFields);
    props.forEach(metadata::putIfAbsent);
    return new ParsedModel(metadata, initializers, nodes, sparse[0], List.copyOf(inputs), List.copyOf(outputs));
  }

  private void graph(List<RawInitializer> initializers, List<GraphNode> nodes, int[] sparse,
      Map<String, String> modelFields, List<String> inputs, List<String> outputs) throws IOException {
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      FieldDescriptor f = declared(OnnxSchema.GRAPH, tag);
      if (f == null) {
        in.skipField(tag);
        continue;
      }
      switch (f.getNumber()) {
        case OnnxSchema.GRAPH_NODE -> nodes.add(node(message(OnnxSchema.NODE)));
        case OnnxSchema.GRAPH_NAME -> modelFields.put("onnx.graph_name", in.readString());
        case OnnxSchema.GRAPH_INITIALIZER -> {
          tensorLabel = "initializer #" + initializers.size();
          int old = pushMessage("initializer");
          initializers.add(tensor());
          in.popLimit(old);
          tensorLabel = null;
        }
        case OnnxSchema.GRAPH_INPUT -> inputs.add((String) get(message(OnnxSchema.VALUE_INFO), OnnxSchema.VALUE_INFO_NAME));
        case OnnxSchema.GRAPH_OUTPUT -> outputs.add((String) get(message(OnnxSchema.VALUE_INFO), OnnxSchema.VALUE_INFO_NAME));
        case OnnxSchema.GRAPH_SPARSE_INITIALIZER -> {
          sparse[0]++;
          in.skipField(tag);
        }
        default -> in.skipField(tag);
      }
    }
  }

  private RawInitializer tensor() throws IOException {
    String name = null;
    int dataType = 0;
    long[] dims = new long[4];
    int rank = 0;
    long rawOffset = -1;
    long rawLength = 0;
    List<RawInitializer.DataRun> runs = new ArrayList<>();
    int dataLocation = 0;
    Map<String, String> external = new LinkedHashMap<>();
    boolean segmented = false;
    while (true) {
      long tagStart = position();
      int tag = in.readTag();
      if (tag == 0) {
        break;
      }
      FieldDescriptor f = declared(OnnxSchema.TENSOR, tag);
      if (f == null) {
        in.skipField(tag);
        continue;
      }
      int wireType = WireFormat.getTagWireType(tag);
      switch (f.getNumber()) {
        case OnnxSchema.TENSOR_DIMS -> {
          if (wireType == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
            int old = pushMessage("dims");
            while (!in.isAtEnd()) {
              dims = addDim(dims, rank++, in.readInt64());
            }
            in.popLimit(old);
          } else {
            dims = addDim(dims, rank++, in.readInt64());
          }
        }
        case OnnxSchema.TENSOR_DATA_TYPE -> dataType = in.readInt32();
        case OnnxSchema.TENSOR_SEGMENT -> {
          segmented = true;
          in.skipField(tag);
        }
        case OnnxSchema.TENSOR_NAME -> {
          name = in.readString();
          io.crosscoder.tensor.TensorLimits.checkName(file, name);
          tensorLabel = name;
        }
        case OnnxSchema.TENSOR_RAW_DATA -> {
          int length = lengthThatFits("raw_data");
          rawOffset = position();
          rawLength = length;
          in.skipRawBytes(length);
        }
        case OnnxSchema.TENSOR_EXTERNAL_DATA -> {
          DynamicMessage m = message(OnnxSchema.STRING_STRING_ENTRY);
          external.put((String) get(m, OnnxSchema.ENTRY_KEY), (String) get(m, OnnxSchema.ENTRY_VALUE));
        }
        case OnnxSchema.TENSOR_DATA_LOCATION -> dataLocation = in.readInt32();
        case OnnxSchema.TENSOR_FLOAT_DATA, OnnxSchema.TENSOR_INT32_DATA, OnnxSchema.TENSOR_INT64_DATA,
             OnnxSchema.TENSOR_DOUBLE_DATA, OnnxSchema.TENSOR_UINT64_DATA ->
            typedRun(f, wireType, tagStart, runs);
        default -> in.skipField(tag);
      }
    }
    if (name == null || name.isEmpty()) {
      throw new InvalidInputException(file, tensorLabel, "the initializer has no name");
    }
    return new RawInitializer(name, dataType, Arrays.copyOf(dims, rank), rawOffset, rawLength, runs,
        dataLocation, external, segmented);
  }

  private long[] addDim(long[] dims, int at, long value) {
    if (at >= MAX_RANK) {
      throw new InvalidInputException(file, tensorLabel, "more than " + MAX_RANK + " dims");
    }
    long[] out = at < dims.length ? dims : Arrays.copyOf(dims, Math.min(MAX_RANK, dims.length * 2));
    out[at] = value;
    return out;
  }

  private void typedRun(FieldDescriptor f, int wireType, long tagStart, List<RawInitializer.DataRun> runs)
      throws IOException {
    int elementWireType = f.getLiteType().getWireType();
    if (wireType == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
      int length = lengthThatFits(f.getName());
      long offset = position();
      in.skipRawBytes(length);
      addRun(runs, new RawInitializer.DataRun(f.getNumber(), elementWireType, offset, length, true));
      return;
    }
    long valueStart = position();
    switch (elementWireType) {
      case WireFormat.WIRETYPE_FIXED32 -> in.readRawLittleEndian32();
      case WireFormat.WIRETYPE_FIXED64 -> in.readRawLittleEndian64();
      default -> in.readRawVarint64();
    }
    long end = position();
    RawInitializer.DataRun last = runs.isEmpty() ? null : runs.getLast();
    if (last != null && !last.packed() && last.field() == f.getNumber() && last.offset() + last.length() == tagStart) {
      // Unpacked elements written back to back form one run: value, (tag, value), ...
      runs.set(runs.size() - 1, new RawInitializer.DataRun(
          last.field(), last.wireType(), last.offset(), end - last.offset(), false));
    } else {
      addRun(runs, new RawInitializer.DataRun(f.getNumber(), elementWireType, valueStart, end - valueStart, false));
    }
  }

  private void addRun(List<RawInitializer.DataRun> runs, RawInitializer.DataRun run) {
    if (runs.size() >= MAX_TYPED_RUNS) {
      throw new InvalidInputException(file, tensorLabel,
          "typed data split into more than " + MAX_TYPED_RUNS + " separate runs");
    }
    runs.add(run);
  }

  /** The field's descriptor if the schema declares it, after checking its wire type. */
  private FieldDescriptor declared(Descriptor message, int tag) {
    FieldDescriptor f = OnnxSchema.field(message, WireFormat.getTagFieldNumber(tag));
    if (f != null && !OnnxSchema.acceptsWireType(f, WireFormat.getTagWireType(tag))) {
      throw new InvalidInputException(file, tensorLabel,
          "not an ONNX model: " + message.getName() + "." + f.getName() + " (field " + f.getNumber()
              + ") has wire type " + WireFormat.getTagWireType(tag) + " at byte " + position()
              + ", expected " + f.getLiteType().getWireType());
    }
    return f;
  }

  /** Reads a length prefix and checks that so many bytes remain in the file. */
  private int lengthThatFits(String what) throws IOException {
    int length = in.readRawVarint32();
    long at = position();
    if (length < 0 || at + length > fileSize) {
      throw new InvalidInputException(file, tensorLabel,
          "truncated: " + what + " at byte " + at + " declares " + (length & 0xffffffffL)
              + " bytes but the file has " + (fileSize - at) + " left");
    }
    return length;
  }

  private int pushMessage(String what) throws IOException {
    return in.pushLimit(lengthThatFits(what));
  }

  private DynamicMessage message(Descriptor type) throws IOException {
    DynamicMessage.Builder b = DynamicMessage.newBuilder(type);
    in.readMessage(b, ExtensionRegistryLite.getEmptyRegistry());
    return b.build();
  }

  private static Object get(DynamicMessage m, int number) {
    return m.getField(m.getDescriptorForType().findFieldByNumber(number));
  }

  @SuppressWarnings("unchecked")
  private static GraphNode node(DynamicMessage m) {
    Map<String, Long> ints = new LinkedHashMap<>();
    FieldDescriptor attrName = OnnxSchema.field(OnnxSchema.ATTRIBUTE, OnnxSchema.ATTRIBUTE_NAME);
    FieldDescriptor attrI = OnnxSchema.field(OnnxSchema.ATTRIBUTE, OnnxSchema.ATTRIBUTE_I);
    for (DynamicMessage a : (List<DynamicMessage>) get(m, OnnxSchema.NODE_ATTRIBUTE)) {
      if (a.hasField(attrI)) {
        ints.put((String) a.getField(attrName), (Long) a.getField(attrI));
      }
    }
    return new GraphNode(
        (String) get(m, OnnxSchema.NODE_NAME), (String) get(m, OnnxSchema.NODE_OP_TYPE),
        (String) get(m, OnnxSchema.NODE_DOMAIN), (List<String>) get(m, OnnxSchema.NODE_INPUT),
        (List<String>) get(m, OnnxSchema.NODE_OUTPUT), ints);
  }
}
