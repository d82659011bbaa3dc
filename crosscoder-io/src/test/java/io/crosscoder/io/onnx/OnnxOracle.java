package io.crosscoder.io.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Label;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto.Type;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.ExtensionRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The test's own ONNX reader, independent of the code under test: its own minimal descriptors,
 * protobuf's {@link DynamicMessage} over the whole file (which copies tensor bytes onto the heap,
 * fine for a test), and plain decoding of little-endian values. Keeps only the initializers a test
 * asks for.
 */
final class OnnxOracle {
  /** One initializer as stored: dims, data_type, raw_data (or typed values). */
  record Stored(String name, long[] dims, int dataType, byte[] raw, List<Float> floatData, List<Integer> int32Data) {
    /** raw_data as little-endian f32. */
    float[] floats() {
      ByteBuffer bb = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
      float[] out = new float[raw.length / 4];
      bb.asFloatBuffer().get(out);
      return out;
    }
  }

  /**
   * Node name to node inputs, the initializers kept, and the value of every {@code Constant} node
   * (its {@code value} tensor attribute) by the name of the value it produces.
   */
  record Graph(
      Map<String, List<String>> nodeInputs, Map<String, String> nodeOps, Map<String, Stored> initializers,
      int initializerCount, long rawBytes, Map<String, Stored> constants) {}

  private static final Descriptor MODEL;

  static {
    String pkg = "oracle";
    FileDescriptorProto file = FileDescriptorProto.newBuilder().setName("oracle.proto").setPackage(pkg)
        .addMessageType(DescriptorProto.newBuilder().setName("Tensor")
            .addField(field("dims", 1, Type.TYPE_INT64, Label.LABEL_REPEATED, null))
            .addField(field("data_type", 2, Type.TYPE_INT32, Label.LABEL_OPTIONAL, null))
            .addField(field("float_data", 4, Type.TYPE_FLOAT, Label.LABEL_REPEATED, null))
            .addField(field("int32_data", 5, Type.TYPE_INT32, Label.LABEL_REPEATED, null))
            .addField(field("name", 8, Type.TYPE_STRING, Label.LABEL_OPTIONAL, null))
            .addField(field("raw_data", 9, Type.TYPE_BYTES, Label.LABEL_OPTIONAL, null)))
        .addMessageType(DescriptorProto.newBuilder().setName("Attribute")
            .addField(field("name", 1, Type.TYPE_STRING, Label.LABEL_OPTIONAL, null))
            .addField(field("t", 5, Type.TYPE_MESSAGE, Label.LABEL_OPTIONAL, "." + pkg + ".Tensor")))
        .addMessageType(DescriptorProto.newBuilder().setName("Node")
            .addField(field("input", 1, Type.TYPE_STRING, Label.LABEL_REPEATED, null))
            .addField(field("output", 2, Type.TYPE_STRING, Label.LABEL_REPEATED, null))
            .addField(field("name", 3, Type.TYPE_STRING, Label.LABEL_OPTIONAL, null))
            .addField(field("op_type", 4, Type.TYPE_STRING, Label.LABEL_OPTIONAL, null))
            .addField(field("attribute", 5, Type.TYPE_MESSAGE, Label.LABEL_REPEATED, "." + pkg + ".Attribute")))
        .addMessageType(DescriptorProto.newBuilder().setName("Graph")
            .addField(field("node", 1, Type.TYPE_MESSAGE, Label.LABEL_REPEATED, "." + pkg + ".Node"))
            .addField(field("initializer", 5, Type.TYPE_MESSAGE, Label.LABEL_REPEATED, "." + pkg + ".Tensor")))
        .addMessageType(DescriptorProto.newBuilder().setName("Model")
            .addField(field("graph", 7, Type.TYPE_MESSAGE, Label.LABEL_OPTIONAL, "." + pkg + ".Graph")))
        .build();
    try {
      MODEL = FileDescriptor.buildFrom(file, new FileDescriptor[0]).findMessageTypeByName("Model");
    } catch (Exception e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private OnnxOracle() {}

  private static FieldDescriptorProto field(String name, int number, Type type, Label label, String typeName) {
    FieldDescriptorProto.Builder b = FieldDescriptorProto.newBuilder().setName(name).setNumber(number)
        .setType(type).setLabel(label);
    return typeName == null ? b.build() : b.setTypeName(typeName).build();
  }

  /**
   * Parses {@code file} and keeps the initializers whose names {@code keep} accepts, plus those
   * named as inputs of the nodes in {@code keepInputsOfNodes}.
   */
  @SuppressWarnings("unchecked")
  static Graph read(Path file, Predicate<String> keep, Set<String> keepInputsOfNodes) throws IOException {
    DynamicMessage model;
    try (InputStream in = Files.newInputStream(file)) {
      CodedInputStream cis = CodedInputStream.newInstance(in);
      cis.setSizeLimit(Integer.MAX_VALUE);
      model = DynamicMessage.parseFrom(MODEL, cis, ExtensionRegistry.getEmptyRegistry());
    }
    DynamicMessage graph = (DynamicMessage) model.getField(MODEL.findFieldByName("graph"));
    Descriptor g = graph.getDescriptorForType();
    Map<String, List<String>> nodeInputs = new HashMap<>();
    Map<String, String> nodeOps = new HashMap<>();
    Map<String, Stored> constants = new HashMap<>();
    for (DynamicMessage n : (List<DynamicMessage>) graph.getField(g.findFieldByName("node"))) {
      Descriptor d = n.getDescriptorForType();
      String name = (String) n.getField(d.findFieldByName("name"));
      nodeInputs.put(name, List.copyOf((List<String>) n.getField(d.findFieldByName("input"))));
      String op = (String) n.getField(d.findFieldByName("op_type"));
      nodeOps.put(name, op);
      if (op.equals("Constant")) {
        for (DynamicMessage a : (List<DynamicMessage>) n.getField(d.findFieldByName("attribute"))) {
          Descriptor ad = a.getDescriptorForType();
          if (a.getField(ad.findFieldByName("name")).equals("value")) {
            String output = ((List<String>) n.getField(d.findFieldByName("output"))).getFirst();
            constants.put(output, stored((DynamicMessage) a.getField(ad.findFieldByName("t"))));
          }
        }
      }
    }
    Set<String> wanted = new java.util.HashSet<>();
    for (String node : keepInputsOfNodes) {
      wanted.addAll(nodeInputs.getOrDefault(node, List.of()));
    }
    Map<String, Stored> kept = new HashMap<>();
    List<DynamicMessage> initializers = (List<DynamicMessage>) graph.getField(g.findFieldByName("initializer"));
    long rawBytes = 0;
    for (DynamicMessage t : initializers) {
      Descriptor d = t.getDescriptorForType();
      String name = (String) t.getField(d.findFieldByName("name"));
      rawBytes += ((ByteString) t.getField(d.findFieldByName("raw_data"))).size();
      if (!keep.test(name) && !wanted.contains(name)) {
        continue;
      }
      kept.put(name, stored(t));
    }
    return new Graph(nodeInputs, nodeOps, kept, initializers.size(), rawBytes, constants);
  }

  @SuppressWarnings("unchecked")
  private static Stored stored(DynamicMessage t) {
    Descriptor d = t.getDescriptorForType();
    List<Long> dims = (List<Long>) t.getField(d.findFieldByName("dims"));
    return new Stored((String) t.getField(d.findFieldByName("name")),
        dims.stream().mapToLong(Long::longValue).toArray(),
        (Integer) t.getField(d.findFieldByName("data_type")),
        ((ByteString) t.getField(d.findFieldByName("raw_data"))).toByteArray(),
        List.copyOf((List<Float>) t.getField(d.findFieldByName("float_data"))),
        List.copyOf((List<Integer>) t.getField(d.findFieldByName("int32_data"))));
  }
}
