package io.crosscoder.io.onnx;

import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldOptions;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.WireFormat;

/**
 * The part of the ONNX protobuf schema ({@code onnx/onnx.proto}, IR version 10) that this reader
 * needs, built at class-initialisation time as protobuf descriptors. Only the messages and
 * fields the reader looks at are declared; everything else is skipped as an unknown field, as
 * any protobuf parser would.
 *
 * <p>The field numbers are written once, here, as constants; the descriptors are built from them,
 * and the streaming reader checks each field's wire type against its descriptor. Field numbers
 * were checked against the ONNX specification's {@code onnx.proto}.
 */
final class OnnxSchema {
  // ModelProto
  static final int MODEL_IR_VERSION = 1;
  static final int MODEL_PRODUCER_NAME = 2;
  static final int MODEL_PRODUCER_VERSION = 3;
  static final int MODEL_DOMAIN = 4;
  static final int MODEL_MODEL_VERSION = 5;
  static final int MODEL_DOC_STRING = 6;
  static final int MODEL_GRAPH = 7;
  static final int MODEL_OPSET_IMPORT = 8;
  static final int MODEL_METADATA_PROPS = 14;
  // GraphProto
  static final int GRAPH_NODE = 1;
  static final int GRAPH_NAME = 2;
  static final int GRAPH_INITIALIZER = 5;
  static final int GRAPH_INPUT = 11;
  static final int GRAPH_OUTPUT = 12;
  static final int GRAPH_SPARSE_INITIALIZER = 15;
  // NodeProto
  static final int NODE_INPUT = 1;
  static final int NODE_OUTPUT = 2;
  static final int NODE_NAME = 3;
  static final int NODE_OP_TYPE = 4;
  static final int NODE_ATTRIBUTE = 5;
  static final int NODE_DOMAIN = 7;
  // AttributeProto
  static final int ATTRIBUTE_NAME = 1;
  static final int ATTRIBUTE_F = 2;
  static final int ATTRIBUTE_I = 3;
  static final int ATTRIBUTE_T = 5;
  static final int ATTRIBUTE_INTS = 8;
  static final int ATTRIBUTE_TYPE = 20;
  // TensorProto
  static final int TENSOR_DIMS = 1;
  static final int TENSOR_DATA_TYPE = 2;
  static final int TENSOR_SEGMENT = 3;
  static final int TENSOR_FLOAT_DATA = 4;
  static final int TENSOR_INT32_DATA = 5;
  static final int TENSOR_INT64_DATA = 7;
  static final int TENSOR_NAME = 8;
  static final int TENSOR_RAW_DATA = 9;
  static final int TENSOR_DOUBLE_DATA = 10;
  static final int TENSOR_UINT64_DATA = 11;
  static final int TENSOR_EXTERNAL_DATA = 13;
  static final int TENSOR_DATA_LOCATION = 14;
  /** {@code TensorProto.DataLocation.EXTERNAL}. */
  static final int DATA_LOCATION_EXTERNAL = 1;
  // ValueInfoProto
  static final int VALUE_INFO_NAME = 1;
  // StringStringEntryProto
  static final int ENTRY_KEY = 1;
  static final int ENTRY_VALUE = 2;
  // OperatorSetIdProto
  static final int OPSET_DOMAIN = 1;
  static final int OPSET_VERSION = 2;

  static final Descriptor MODEL;
  static final Descriptor GRAPH;
  static final Descriptor NODE;
  static final Descriptor ATTRIBUTE;
  static final Descriptor TENSOR;
  static final Descriptor STRING_STRING_ENTRY;
  static final Descriptor OPERATOR_SET_ID;
  static final Descriptor VALUE_INFO;

  private static final String PACKAGE = "io.crosscoder.io.onnx.schema";

  static {
    FileDescriptorProto file = FileDescriptorProto.newBuilder()
        .setName("io/crosscoder/io/onnx/onnx-subset.proto")
        .setPackage(PACKAGE)
        .setSyntax("proto2")
        .addMessageType(message("StringStringEntryProto",
            optional("key", ENTRY_KEY, FieldDescriptorProto.Type.TYPE_STRING),
            optional("value", ENTRY_VALUE, FieldDescriptorProto.Type.TYPE_STRING)))
        .addMessageType(message("OperatorSetIdProto",
            optional("domain", OPSET_DOMAIN, FieldDescriptorProto.Type.TYPE_STRING),
            optional("version", OPSET_VERSION, FieldDescriptorProto.Type.TYPE_INT64)))
        .addMessageType(message("TensorProto",
            packed(repeated("dims", TENSOR_DIMS, FieldDescriptorProto.Type.TYPE_INT64)),
            optional("data_type", TENSOR_DATA_TYPE, FieldDescriptorProto.Type.TYPE_INT32),
            // Declared as opaque bytes: the reader only needs to know that it is there.
            optional("segment", TENSOR_SEGMENT, FieldDescriptorProto.Type.TYPE_BYTES),
            packed(repeated("float_data", TENSOR_FLOAT_DATA, FieldDescriptorProto.Type.TYPE_FLOAT)),
            packed(repeated("int32_data", TENSOR_INT32_DATA, FieldDescriptorProto.Type.TYPE_INT32)),
            packed(repeated("int64_data", TENSOR_INT64_DATA, FieldDescriptorProto.Type.TYPE_INT64)),
            optional("name", TENSOR_NAME, FieldDescriptorProto.Type.TYPE_STRING),
            optional("raw_data", TENSOR_RAW_DATA, FieldDescriptorProto.Type.TYPE_BYTES),
            packed(repeated("double_data", TENSOR_DOUBLE_DATA, FieldDescriptorProto.Type.TYPE_DOUBLE)),
            packed(repeated("uint64_data", TENSOR_UINT64_DATA, FieldDescriptorProto.Type.TYPE_UINT64)),
            repeatedMessage("external_data", TENSOR_EXTERNAL_DATA, "StringStringEntryProto"),
            // An enum in onnx.proto; int32 has the same wire format and accepts unknown values.
            optional("data_location", TENSOR_DATA_LOCATION, FieldDescriptorProto.Type.TYPE_INT32)))
        .addMessageType(message("AttributeProto",
            optional("name", ATTRIBUTE_NAME, FieldDescriptorProto.Type.TYPE_STRING),
            optional("f", ATTRIBUTE_F, FieldDescriptorProto.Type.TYPE_FLOAT),
            optional("i", ATTRIBUTE_I, FieldDescriptorProto.Type.TYPE_INT64),
            optionalMessage("t", ATTRIBUTE_T, "TensorProto"),
            repeated("ints", ATTRIBUTE_INTS, FieldDescriptorProto.Type.TYPE_INT64),
            optional("type", ATTRIBUTE_TYPE, FieldDescriptorProto.Type.TYPE_INT32)))
        .addMessageType(message("NodeProto",
            repeated("input", NODE_INPUT, FieldDescriptorProto.Type.TYPE_STRING),
            repeated("output", NODE_OUTPUT, FieldDescriptorProto.Type.TYPE_STRING),
            optional("name", NODE_NAME, FieldDescriptorProto.Type.TYPE_STRING),
            optional("op_type", NODE_OP_TYPE, FieldDescriptorProto.Type.TYPE_STRING),
            repeatedMessage("attribute", NODE_ATTRIBUTE, "AttributeProto"),
            optional("domain", NODE_DOMAIN, FieldDescriptorProto.Type.TYPE_STRING)))
        // The value's type (field 2) is not read: ONNX Runtime reports it once a session exists.
        .addMessageType(message("ValueInfoProto",
            optional("name", VALUE_INFO_NAME, FieldDescriptorProto.Type.TYPE_STRING)))
        .addMessageType(message("GraphProto",
            repeatedMessage("node", GRAPH_NODE, "NodeProto"),
            optional("name", GRAPH_NAME, FieldDescriptorProto.Type.TYPE_STRING),
            repeatedMessage("initializer", GRAPH_INITIALIZER, "TensorProto"),
            repeatedMessage("input", GRAPH_INPUT, "ValueInfoProto"),
            repeatedMessage("output", GRAPH_OUTPUT, "ValueInfoProto"),
            // SparseTensorProto is not read, only counted: opaque bytes.
            repeated("sparse_initializer", GRAPH_SPARSE_INITIALIZER, FieldDescriptorProto.Type.TYPE_BYTES)))
        .addMessageType(message("ModelProto",
            optional("ir_version", MODEL_IR_VERSION, FieldDescriptorProto.Type.TYPE_INT64),
            optional("producer_name", MODEL_PRODUCER_NAME, FieldDescriptorProto.Type.TYPE_STRING),
            optional("producer_version", MODEL_PRODUCER_VERSION, FieldDescriptorProto.Type.TYPE_STRING),
            optional("domain", MODEL_DOMAIN, FieldDescriptorProto.Type.TYPE_STRING),
            optional("model_version", MODEL_MODEL_VERSION, FieldDescriptorProto.Type.TYPE_INT64),
            optional("doc_string", MODEL_DOC_STRING, FieldDescriptorProto.Type.TYPE_STRING),
            optionalMessage("graph", MODEL_GRAPH, "GraphProto"),
            repeatedMessage("opset_import", MODEL_OPSET_IMPORT, "OperatorSetIdProto"),
            repeatedMessage("metadata_props", MODEL_METADATA_PROPS, "StringStringEntryProto")))
        .build();
    FileDescriptor built;
    try {
      built = FileDescriptor.buildFrom(file, new FileDescriptor[0]);
    } catch (DescriptorValidationException e) {
      throw new ExceptionInInitializerError(e);
    }
    STRING_STRING_ENTRY = built.findMessageTypeByName("StringStringEntryProto");
    OPERATOR_SET_ID = built.findMessageTypeByName("OperatorSetIdProto");
    VALUE_INFO = built.findMessageTypeByName("ValueInfoProto");
    TENSOR = built.findMessageTypeByName("TensorProto");
    ATTRIBUTE = built.findMessageTypeByName("AttributeProto");
    NODE = built.findMessageTypeByName("NodeProto");
    GRAPH = built.findMessageTypeByName("GraphProto");
    MODEL = built.findMessageTypeByName("ModelProto");
  }

  private OnnxSchema() {}

  /** The declared field with this number in {@code message}, or null when the reader ignores it. */
  static FieldDescriptor field(Descriptor message, int number) {
    return message.findFieldByNumber(number);
  }

  /**
   * Whether {@code wireType} is a valid encoding of {@code field}: its own wire type, or
   * length-delimited for a packable repeated scalar (parsers must accept packed and unpacked).
   */
  static boolean acceptsWireType(FieldDescriptor field, int wireType) {
    if (field.getLiteType().getWireType() == wireType) {
      return true;
    }
    return field.isPackable() && wireType == WireFormat.WIRETYPE_LENGTH_DELIMITED;
  }

  private static DescriptorProto message(String name, FieldDescriptorProto... fields) {
    DescriptorProto.Builder b = DescriptorProto.newBuilder().setName(name);
    for (FieldDescriptorProto f : fields) {
      b.addField(f);
    }
    return b.build();
  }

  private static FieldDescriptorProto optional(String name, int number, FieldDescriptorProto.Type type) {
    return FieldDescriptorProto.newBuilder().setName(name).setNumber(number).setType(type)
        .setLabel(FieldDescriptorProto.Label.LABEL_OPTIONAL).build();
  }

  private static FieldDescriptorProto repeated(String name, int number, FieldDescriptorProto.Type type) {
    return FieldDescriptorProto.newBuilder().setName(name).setNumber(number).setType(type)
        .setLabel(FieldDescriptorProto.Label.LABEL_REPEATED).build();
  }

  private static FieldDescriptorProto packed(FieldDescriptorProto field) {
    return field.toBuilder().setOptions(FieldOptions.newBuilder().setPacked(true)).build();
  }

  private static FieldDescriptorProto optionalMessage(String name, int number, String type) {
    return FieldDescriptorProto.newBuilder().setName(name).setNumber(number)
        .setType(FieldDescriptorProto.Type.TYPE_MESSAGE).setTypeName("." + PACKAGE + "." + type)
        .setLabel(FieldDescriptorProto.Label.LABEL_OPTIONAL).build();
  }

  private static FieldDescriptorProto repeatedMessage(String name, int number, String type) {
    return optionalMessage(name, number, type).toBuilder()
        .setLabel(FieldDescriptorProto.Label.LABEL_REPEATED).build();
  }
}
