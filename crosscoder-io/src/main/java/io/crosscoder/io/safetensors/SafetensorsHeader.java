package io.crosscoder.io.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.InvalidInputException;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorLimits;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The parsed and validated header of one safetensors file.
 *
 * <p>The file is {@code [n: u64 little-endian][n bytes of UTF-8 JSON][data section]}. The JSON is an
 * object mapping each tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}}, with
 * offsets relative to the start of the data section, plus an optional {@code "__metadata__"} object
 * of strings. Validation follows the Rust reference implementation (huggingface/safetensors,
 * {@code tensor.rs}): the header is at most {@value #MAX_HEADER_BYTES} bytes, starts with
 * {@code '{'}, names no tensor twice; every tensor's byte range is exactly
 * {@code product(shape) * dtype size} long (overflow is an error); sorted by offset, the ranges
 * tile the data section from 0 to its end with no gap, overlap or trailing byte. Beyond the
 * reference, names, ranks and dimensions are bounded by {@link TensorLimits}.
 *
 * <p>Immutable.
 */
final class SafetensorsHeader {
  /** Largest header the reference implementation accepts, in bytes. */
  static final long MAX_HEADER_BYTES = 100_000_000L;

  /** Key of the free-form string metadata in the header. */
  static final String METADATA_KEY = "__metadata__";

  private static final ValueLayout.OfLong U64_LE =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /*
   * The reader's constraints: strings and tensor names as long as a header may be (Jackson's
   * defaults would refuse some valid files), nesting bounded so that a hostile header cannot
   * exhaust the stack. Trailing content is checked by parse() itself. Only Jackson's streaming
   * parser: the trees are built by readTree, as an ObjectMapper's construction and first tree
   * would cost a fresh JVM about 0.1 s, a good part of a whole `crosscoder diff` before its scan.
   */
  static final JsonFactory JSON = JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder()
          .maxStringLength((int) MAX_HEADER_BYTES)
          .maxNameLength((int) MAX_HEADER_BYTES)
          .maxNestingDepth(64)
          .build())
      .build();

  /**
   * One tensor's entry: its place in the data section is {@code [begin, end)} bytes.
   *
   * @param name the tensor's name
   * @param dtype the element type
   * @param shape the shape (not copied; this class never exposes it to callers outside the package)
   * @param begin offset of the first byte in the data section
   * @param end offset one past the last byte in the data section
   */
  record Entry(String name, DType dtype, long[] shape, long begin, long end) {
    long byteSize() {
      return end - begin;
    }
  }

  private final Path file;
  private final long headerLength;
  private final List<Entry> entries;
  private final Map<String, String> metadata;

  private SafetensorsHeader(Path file, long headerLength, List<Entry> entries, Map<String, String> metadata) {
    this.file = file;
    this.headerLength = headerLength;
    this.entries = List.copyOf(entries);
    this.metadata = Collections.unmodifiableMap(metadata);
  }

  /** The file this header was read from. */
  Path file() {
    return file;
  }

  /** The JSON length {@code n} read from the first 8 bytes. */
  long headerLength() {
    return headerLength;
  }

  /** Offset of the data section in the file: {@code 8 + n}. */
  long dataStart() {
    return 8 + headerLength;
  }

  /** The tensors in data-offset order (the order of their bytes in the file). */
  List<Entry> entries() {
    return entries;
  }

  /** The {@code __metadata__} strings in header order; empty when absent. */
  Map<String, String> metadata() {
    return metadata;
  }

  /**
   * Parses and validates the header of {@code file}, whose whole contents are {@code contents}.
   * Copies only the JSON text onto the heap, and only after checking its length against the
   * limit and the file size.
   *
   * @throws InvalidInputException on any deviation from the format, naming the file and tensor
   */
  static SafetensorsHeader parse(Path file, MemorySegment contents) {
    long size = contents.byteSize();
    if (size == 0) {
      throw new InvalidInputException(file, null,
          "the file is empty; a safetensors file starts with an 8-byte header length");
    }
    if (size < 8) {
      throw new InvalidInputException(file, null,
          "the file is " + size + " bytes, shorter than the 8-byte header length");
    }
    long n = contents.get(U64_LE, 0);
    if (n < 0 || n > MAX_HEADER_BYTES) {
      throw new InvalidInputException(file, null, "header length " + Long.toUnsignedString(n)
          + " bytes exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
    }
    if (n > size - 8) {
      throw new InvalidInputException(file, null, "header length " + n + " bytes runs past the end of the file ("
          + size + " bytes, so at most " + (size - 8) + " bytes of header)");
    }
    byte[] bytes = contents.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
    String text = decodeUtf8(file, bytes);
    if (text.isEmpty() || text.charAt(0) != '{') {
      throw new InvalidInputException(file, null, "the header must be a JSON object starting with '{', found "
          + (text.isEmpty() ? "an empty header" : "'" + abbreviate(text, 20) + "'"));
    }
    long dataBytes = size - 8 - n;
    Map<String, String> metadata = new LinkedHashMap<>();
    List<Entry> entries = new ArrayList<>();
    try (JsonParser p = JSON.createParser(text)) {
      expect(file, p.nextToken() == JsonToken.START_OBJECT, "the header must be a JSON object");
      Set<String> seen = new HashSet<>();
      boolean metadataSeen = false;
      for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
        String name = p.currentName();
        p.nextToken();
        JsonNode value = readTree(p);
        if (METADATA_KEY.equals(name)) {
          if (metadataSeen) {
            throw new InvalidInputException(file, null, METADATA_KEY + " appears twice in the header");
          }
          metadataSeen = true;
          readMetadata(file, value, metadata);
        } else {
          if (!seen.add(name)) {
            throw new InvalidInputException(file, TensorLimits.shortName(name), "the header names this tensor twice");
          }
          entries.add(readEntry(file, name, value, dataBytes, size));
        }
      }
      expect(file, p.nextToken() == null, "the header has content after its closing '}'");
    } catch (JsonProcessingException e) {
      throw new InvalidInputException(file, null, "the header is not valid JSON: " + describe(e), e);
    } catch (IOException e) {
      // Parsing a String does no I/O; anything else from Jackson is still a malformed header.
      throw new InvalidInputException(file, null, "the header cannot be parsed: " + e.getMessage(), e);
    }
    entries.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
    checkTiling(file, entries, dataBytes);
    return new SafetensorsHeader(file, n, entries, metadata);
  }

  /**
   * The value at the parser's current token as a tree, as Jackson's tree reader builds it (ints,
   * longs and big integers as such, other numbers as doubles), refusing a key that appears twice
   * in one object, at any depth (the top level is read by {@link #parse}, which names the tensor).
   * Recursion is bounded by the parser's nesting limit.
   */
  static JsonNode readTree(JsonParser p) throws IOException {
    JsonNodeFactory f = JsonNodeFactory.instance;
    JsonToken token = p.currentToken();
    if (token == null) {
      throw new JsonParseException(p, "Unexpected end of input");
    }
    switch (token) {
      case START_OBJECT -> {
        ObjectNode object = f.objectNode();
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
          String key = p.currentName();
          p.nextToken();
          if (object.replace(key, readTree(p)) != null) {
            throw new JsonParseException(p, "Duplicate field '" + key + "'");
          }
        }
        return object;
      }
      case START_ARRAY -> {
        ArrayNode array = f.arrayNode();
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
          array.add(readTree(p));
        }
        return array;
      }
      case VALUE_STRING -> {
        return f.textNode(p.getText());
      }
      case VALUE_NUMBER_INT -> {
        return switch (p.getNumberType()) {
          case INT -> f.numberNode(p.getIntValue());
          case LONG -> f.numberNode(p.getLongValue());
          default -> f.numberNode(p.getBigIntegerValue());
        };
      }
      case VALUE_NUMBER_FLOAT -> {
        return f.numberNode(p.getDoubleValue());
      }
      case VALUE_TRUE, VALUE_FALSE -> {
        return f.booleanNode(token == JsonToken.VALUE_TRUE);
      }
      case VALUE_NULL -> {
        return f.nullNode();
      }
      default -> throw new JsonParseException(p, "Unexpected token " + token);
    }
  }

  private static String decodeUtf8(Path file, byte[] bytes) {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    try {
      CharBuffer chars = decoder.decode(in);
      return chars.toString();
    } catch (CharacterCodingException e) {
      throw new InvalidInputException(file, null,
          "the header is not valid UTF-8 (bad byte sequence near header byte " + in.position() + ")", e);
    }
  }

  private static void readMetadata(Path file, JsonNode value, Map<String, String> into) {
    if (value.isNull()) {
      return; // the reference reads a null __metadata__ as absent
    }
    if (!value.isObject()) {
      throw new InvalidInputException(file, null,
          METADATA_KEY + " must be an object of strings, found " + describe(value));
    }
    for (Map.Entry<String, JsonNode> e : value.properties()) {
      if (!e.getValue().isTextual()) {
        throw new InvalidInputException(file, null, METADATA_KEY + " value of key \"" + e.getKey()
            + "\" must be a string, found " + describe(e.getValue()));
      }
      into.put(e.getKey(), e.getValue().textValue());
    }
  }

  private static Entry readEntry(Path file, String name, JsonNode value, long dataBytes, long fileSize) {
    TensorLimits.checkName(file, name);
    if (!value.isObject()) {
      throw new InvalidInputException(file, name,
          "header entry must be an object with dtype, shape and data_offsets, found " + describe(value));
    }
    JsonNode dtypeNode = required(file, name, value, "dtype");
    if (!dtypeNode.isTextual()) {
      throw new InvalidInputException(file, name, "dtype must be a string, found " + describe(dtypeNode));
    }
    String dtypeName = dtypeNode.textValue();
    // DType.fromName ignores case; the format does not ("bf16" is not a dtype).
    DType dtype = DType.fromName(dtypeName).filter(d -> d.name().equals(dtypeName)).orElseThrow(
        () -> new InvalidInputException(file, name, "unsupported dtype \"" + dtypeName + "\" (supported: "
            + Arrays.stream(DType.values()).map(Enum::name).collect(Collectors.joining(", ")) + ")"));

    JsonNode shapeNode = required(file, name, value, "shape");
    if (!shapeNode.isArray()) {
      throw new InvalidInputException(file, name, "shape must be an array of integers, found " + describe(shapeNode));
    }
    TensorLimits.checkRank(file, name, shapeNode.size());
    long[] shape = new long[shapeNode.size()];
    for (int i = 0; i < shape.length; i++) {
      int dimension = i;
      // The label is made only for an error: JsonNode.toString() runs Jackson's serializer.
      shape[i] = nonNegativeLong(file, name, shapeNode.get(i),
          () -> "shape " + abbreviate(shapeNode.toString(), 60) + " dimension " + dimension);
    }

    JsonNode offsetsNode = required(file, name, value, "data_offsets");
    if (!offsetsNode.isArray() || offsetsNode.size() != 2) {
      throw new InvalidInputException(file, name,
          "data_offsets must be an array [begin, end] of two integers, found " + abbreviate(offsetsNode.toString(), 60));
    }
    long begin = nonNegativeLong(file, name, offsetsNode.get(0), () -> "data_offsets begin");
    long end = nonNegativeLong(file, name, offsetsNode.get(1), () -> "data_offsets end");
    String range = "data_offsets [" + begin + ", " + end + ")";
    if (end < begin) {
      throw new InvalidInputException(file, name, range + " end before they begin");
    }

    long needed;
    try {
      long count = 1;
      for (long d : shape) {
        count = Math.multiplyExact(count, d);
      }
      needed = Math.multiplyExact(count, (long) dtype.byteSize());
    } catch (ArithmeticException e) {
      throw new InvalidInputException(file, name, "shape " + TensorView.formatShape(shape) + " of " + dtype
          + " overflows: its byte size does not fit in 64 bits");
    }
    if (end - begin != needed) {
      throw new InvalidInputException(file, name, range + " but shape "
          + TensorView.formatShape(shape) + " of " + dtype + " needs " + needed + " bytes");
    }
    if (end > dataBytes) {
      throw new InvalidInputException(file, name, range + " run past the end of the data section, which holds "
          + dataBytes + " bytes (is the file truncated?)");
    }
    // Last, as the checks above give the more precise message for a tensor with elements.
    TensorLimits.check(file, name, shape, fileSize);
    return new Entry(name, dtype, shape, begin, end);
  }

  /** Sorted by offset, the entries must cover {@code [0, dataBytes)} exactly once. */
  private static void checkTiling(Path file, List<Entry> sorted, long dataBytes) {
    long covered = 0;
    Entry previous = null;
    for (Entry e : sorted) {
      String range = "data_offsets [" + e.begin() + ", " + e.end() + ")";
      if (e.begin() > covered) {
        throw new InvalidInputException(file, e.name(), range + " leave a gap of " + (e.begin() - covered)
            + " bytes after " + (previous == null ? "the start of the data section"
                : previous.name() + " [" + previous.begin() + ", " + previous.end() + ")"));
      }
      if (e.begin() < covered) {
        throw new InvalidInputException(file, e.name(), range + " overlap " + previous.name()
            + " [" + previous.begin() + ", " + previous.end() + ")");
      }
      covered = e.end();
      previous = e;
    }
    if (covered != dataBytes) {
      throw new InvalidInputException(file, null, "the data section holds " + dataBytes
          + " bytes but the tensors cover only " + covered + ": " + (dataBytes - covered)
          + " trailing bytes belong to no tensor (MetadataIncompleteBuffer)");
    }
  }

  private static JsonNode required(Path file, String name, JsonNode entry, String field) {
    JsonNode n = entry.get(field);
    if (n == null) {
      throw new InvalidInputException(file, name, "header entry lacks \"" + field + "\"");
    }
    return n;
  }

  private static long nonNegativeLong(Path file, String name, JsonNode n, java.util.function.Supplier<String> label) {
    if (!n.isIntegralNumber()) {
      throw new InvalidInputException(file, name, label.get() + " must be a non-negative integer, found " + describe(n));
    }
    if (!n.canConvertToLong()) {
      throw new InvalidInputException(file, name, label.get() + " " + n.bigIntegerValue()
          + (n.bigIntegerValue().signum() < 0 ? " is negative" : " is larger than 2^63-1"));
    }
    long v = n.longValue();
    if (v < 0) {
      throw new InvalidInputException(file, name, label.get() + " is negative: " + v);
    }
    return v;
  }

  /** Jackson's message without the source excerpt, with the position where Jackson knows it. */
  static String describe(JsonProcessingException e) {
    JsonLocation at = e.getLocation();
    return e.getOriginalMessage() + (at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr());
  }

  private static void expect(Path file, boolean ok, String problem) {
    if (!ok) {
      throw new InvalidInputException(file, null, problem);
    }
  }

  private static String describe(JsonNode n) {
    return n.getNodeType().name().toLowerCase(java.util.Locale.ROOT) + " " + abbreviate(n.toString(), 40);
  }

  private static String abbreviate(String s, int max) {
    return s.length() <= max ? s : s.substring(0, max) + "...";
  }
}
