package io.crosscoder.io.gguf;

import io.crosscoder.InvalidInputException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The parsed and validated head of a GGUF file (versions 2 and 3, little-endian): magic {@code
 * "GGUF"}, version (u32), tensor count (u64), metadata count (u64), the metadata key-value pairs,
 * the tensor infos (name, dimension count u32, dimensions u64 fastest first, ggml type u32, offset
 * u64 into the data section), then padding to the alignment ({@code general.alignment}, default
 * 32) and the data section.
 *
 * <p>Validation is strict, and every count or length read from the file is checked against the
 * bytes left before anything is allocated from it: unknown metadata or tensor types, nested
 * arrays, malformed UTF-8, duplicate keys or tensor names, more than four dimensions, products of
 * dimensions that overflow, a first dimension that is not a multiple of the type's block size, an
 * alignment that is not a power of two, tensor offsets that are not aligned, that run past the end
 * of the file, or that overlap, and types this library does not read are all refused with an
 * {@link InvalidInputException} naming the file, the tensor or key, and what was expected.
 *
 * @param version 2 or 3
 * @param metadata the key-value pairs in file order
 * @param tensors the tensor infos in file order
 * @param alignment the data alignment in bytes
 * @param dataStart the file offset of the data section
 */
record GgufHeader(int version, Map<String, GgufValue> metadata, List<TensorInfo> tensors, long alignment,
    long dataStart) {
  /** The magic, {@code "GGUF"} read as a little-endian u32. */
  static final int MAGIC = 0x46554747;
  /** Alignment when {@code general.alignment} is absent. */
  static final long DEFAULT_ALIGNMENT = 32;
  /** Longest string accepted (a tokenizer's chat template is a few kB; a name tens of bytes). */
  static final long MAX_STRING = 64L << 20;
  /** ggml tensors have at most four dimensions. */
  static final int MAX_DIMS = 4;

  private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /**
   * One tensor as the file describes it.
   *
   * @param name the GGUF name ({@code blk.0.attn_q.weight})
   * @param dims dimensions, fastest-varying first ({@code ne[0]} is the row length)
   * @param type element type
   * @param offset offset of its data from the start of the data section
   * @param bytes bytes of data
   */
  record TensorInfo(String name, long[] dims, GgmlType type, long offset, long bytes) {
    TensorInfo {
      dims = dims.clone();
    }

    @Override
    public long[] dims() {
      return dims.clone();
    }

    /** Number of elements. */
    long elements() {
      long n = 1;
      for (long d : dims) {
        n *= d;
      }
      return n;
    }
  }

  /** Parses and validates the header of {@code contents} (the whole file). */
  static GgufHeader parse(Path file, MemorySegment contents) {
    Cursor c = new Cursor(file, contents);
    if (contents.byteSize() < 4) {
      throw new InvalidInputException(file, null, "truncated: " + contents.byteSize()
          + " bytes, too short for a GGUF file (the magic alone is 4 bytes)");
    }
    int magic = contents.get(U32, 0);
    if (magic != MAGIC) {
      throw new InvalidInputException(file, null, "not a GGUF file: it starts with bytes " + hex(contents, 4)
          + ", not the magic 47 47 55 46 (\"GGUF\")");
    }
    c.pos = 4;
    int version = c.u32("the version");
    if (version == 1) {
      throw new InvalidInputException(file, null, "GGUF version 1 (32-bit counts, 2023) is not supported; versions 2"
          + " and 3 are (convert it again with a current llama.cpp)");
    }
    if (version != 2 && version != 3) {
      if (Integer.reverseBytes(version) == 2 || Integer.reverseBytes(version) == 3) {
        throw new InvalidInputException(file, null, "a big-endian GGUF file (version " + Integer.reverseBytes(version)
            + "); only little-endian files are supported");
      }
      throw new InvalidInputException(file, null, "GGUF version " + Integer.toUnsignedString(version)
          + " is not supported (versions 2 and 3 are)");
    }
    long tensorCount = c.u64("the tensor count");
    long kvCount = c.u64("the metadata count");
    // Every metadata pair needs at least 8 (key length) + 4 (type) + 1 bytes; every tensor info
    // 8 (name length) + 4 (dimension count) + 4 (type) + 8 (offset).
    c.bounded(kvCount, 13, "metadata pairs");
    c.bounded(tensorCount, 24, "tensor infos");

    Map<String, GgufValue> metadata = new LinkedHashMap<>();
    for (long i = 0; i < kvCount; i++) {
      long at = c.pos;
      String key = c.string("the key of metadata pair " + i);
      long typeId = c.u32("the type of metadata key '" + key + "'") & 0xffffffffL;
      GgufValue.Type type = GgufValue.Type.ofId(typeId);
      if (type == null) {
        throw new InvalidInputException(file, null, "metadata key '" + key + "' at byte " + at
            + " has unknown value type " + typeId + " (GGUF types are 0-12)");
      }
      GgufValue v = c.value(type, key);
      if (metadata.putIfAbsent(key, v) != null) {
        throw new InvalidInputException(file, null, "metadata key '" + key + "' appears twice");
      }
    }

    long alignment = DEFAULT_ALIGNMENT;
    GgufValue a = metadata.get("general.alignment");
    if (a != null) {
      if (!a.type().integer()) {
        throw new InvalidInputException(file, null, "general.alignment is a " + a.type() + ", not an integer");
      }
      alignment = (Long) a.value();
      if (alignment <= 0 || Long.bitCount(alignment) != 1 || alignment > (1L << 30)) {
        throw new InvalidInputException(file, null, "general.alignment is " + a.display()
            + "; it must be a power of two (32 by default)");
      }
    }

    List<TensorInfo> infos = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (long i = 0; i < tensorCount; i++) {
      String name = c.string("the name of tensor " + i);
      io.crosscoder.tensor.TensorLimits.checkName(file, name);
      if (!names.add(name)) {
        throw new InvalidInputException(file, name, "this tensor name appears twice");
      }
      int nDims = c.u32("the dimension count of " + name);
      if (nDims < 1 || nDims > MAX_DIMS) {
        throw new InvalidInputException(file, name, "has " + Integer.toUnsignedString(nDims)
            + " dimensions; ggml tensors have 1 to " + MAX_DIMS);
      }
      long[] dims = new long[nDims];
      long elements = 1;
      for (int d = 0; d < nDims; d++) {
        dims[d] = c.u64("dimension " + d + " of " + name);
        if (dims[d] < 0) {
          throw new InvalidInputException(file, name, "dimension " + d + " is "
              + Long.toUnsignedString(dims[d]) + ", beyond 2^63 - 1");
        }
        try {
          elements = Math.multiplyExact(elements, dims[d]);
        } catch (ArithmeticException e) {
          throw new InvalidInputException(file, name, "dimensions " + dimsText(dims, d + 1)
              + " hold more than 2^63 - 1 elements");
        }
      }
      long typeId = c.u32("the type of " + name) & 0xffffffffL;
      GgmlType type = GgmlType.ofId(typeId).orElseThrow(() -> new InvalidInputException(file, name,
          "unknown ggml type " + typeId + " (not a quantization type ggml defines; supported: "
              + GgmlType.supportedNames() + ")"));
      if (!type.supported()) {
        throw new InvalidInputException(file, name, "is stored as " + type + " (ggml type " + typeId
            + "), which this library does not dequantize; supported: " + GgmlType.supportedNames());
      }
      long offset = c.u64("the data offset of " + name);
      if (dims[0] % type.blockSize() != 0) {
        throw new InvalidInputException(file, name, "rows of " + dims[0] + " elements are not whole " + type
            + " blocks of " + type.blockSize());
      }
      long bytes;
      try {
        bytes = Math.multiplyExact(elements / type.blockSize(), (long) type.blockBytes());
      } catch (ArithmeticException e) {
        throw new InvalidInputException(file, name, "dimensions " + dimsText(dims, nDims) + " of " + type
            + " need more than 2^63 - 1 bytes");
      }
      if (offset < 0 || offset % alignment != 0) {
        throw new InvalidInputException(file, name, "data offset " + Long.toUnsignedString(offset)
            + " is not a multiple of the alignment " + alignment);
      }
      // Last, as the checks above say more for a tensor with elements; this one bounds the dimensions
      // of an empty tensor, whose product in another order could overflow.
      io.crosscoder.tensor.TensorLimits.check(file, name, dims, contents.byteSize());
      infos.add(new TensorInfo(name, dims, type, offset, bytes));
    }

    long end = c.pos;
    long dataStart = end % alignment == 0 ? end : end + (alignment - end % alignment);
    long size = contents.byteSize();
    long dataSize = Math.max(0, size - dataStart);
    if (!infos.isEmpty() && dataStart > size) {
      // Even an empty tensor's view starts at the data section, which must therefore be in the file.
      throw new InvalidInputException(file, infos.getFirst().name(), "truncated: the data section starts at file byte "
          + dataStart + " (after padding to the alignment of " + alignment + ") but the file has " + size + " bytes");
    }
    List<TensorInfo> byOffset = new ArrayList<>(infos);
    byOffset.sort(Comparator.comparingLong(TensorInfo::offset));
    TensorInfo previous = null;
    for (TensorInfo t : byOffset) {
      if (t.offset() > dataSize || t.bytes() > dataSize - t.offset()) {
        throw new InvalidInputException(file, t.name(), "truncated: its " + t.bytes() + " bytes of " + t.type()
            + " at data offset " + t.offset() + " end at file byte " + addOrMax(dataStart, t.offset(), t.bytes())
            + ", but the file has " + size + " bytes");
      }
      if (previous != null && t.offset() < previous.offset() + previous.bytes()) {
        throw new InvalidInputException(file, t.name(), "its data [" + t.offset() + ", " + (t.offset() + t.bytes())
            + ") overlaps that of " + previous.name() + " [" + previous.offset() + ", "
            + (previous.offset() + previous.bytes()) + ")");
      }
      previous = t;
    }
    return new GgufHeader(version, Collections.unmodifiableMap(metadata), List.copyOf(infos), alignment, dataStart);
  }

  private static long addOrMax(long a, long b, long c) {
    try {
      return Math.addExact(Math.addExact(a, b), c);
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  private static String dimsText(long[] dims, int n) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < n; i++) {
      sb.append(i == 0 ? "" : ", ").append(Long.toUnsignedString(dims[i]));
    }
    return sb.append(']').toString();
  }

  private static String hex(MemorySegment s, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < Math.min(n, s.byteSize()); i++) {
      sb.append(i == 0 ? "" : " ").append(String.format("%02x", s.get(ValueLayout.JAVA_BYTE, i) & 0xff));
    }
    return sb.toString();
  }

  /** A bounds-checked little-endian reader over the file. */
  private static final class Cursor {
    private final Path file;
    private final MemorySegment s;
    long pos;

    Cursor(Path file, MemorySegment s) {
      this.file = file;
      this.s = s;
    }

    private void need(long n, String what) {
      if (n > s.byteSize() - pos) {
        throw new InvalidInputException(file, null, "truncated: the file ends at byte " + s.byteSize()
            + " while reading " + what + " (" + n + " bytes at byte " + pos + ")");
      }
    }

    /** Checks that {@code count} items of at least {@code minBytes} each can fit in what is left. */
    void bounded(long count, long minBytes, String what) {
      long left = s.byteSize() - pos;
      if (count < 0 || count > left / minBytes) {
        throw new InvalidInputException(file, null, "truncated or corrupt: the header announces "
            + Long.toUnsignedString(count) + " " + what + ", which cannot fit in the " + left
            + " bytes left (at least " + minBytes + " bytes each)");
      }
    }

    int u32(String what) {
      need(4, what);
      int v = s.get(U32, pos);
      pos += 4;
      return v;
    }

    long u64(String what) {
      need(8, what);
      long v = s.get(U64, pos);
      pos += 8;
      return v;
    }

    String string(String what) {
      long len = u64(what + " (its length)");
      if (len < 0 || len > MAX_STRING) {
        throw new InvalidInputException(file, null, what + " at byte " + (pos - 8) + " claims "
            + Long.toUnsignedString(len) + " bytes, more than the " + MAX_STRING + " accepted");
      }
      need(len, what);
      byte[] bytes = s.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
      pos += len;
      try {
        return StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(ByteBuffer.wrap(bytes)).toString();
      } catch (CharacterCodingException e) {
        throw new InvalidInputException(file, null, what + " at byte " + (pos - len) + " is not valid UTF-8");
      }
    }

    GgufValue value(GgufValue.Type type, String key) {
      if (type == GgufValue.Type.ARRAY) {
        long elementId = u32("the element type of array '" + key + "'") & 0xffffffffL;
        GgufValue.Type element = GgufValue.Type.ofId(elementId);
        if (element == null) {
          throw new InvalidInputException(file, null, "metadata array '" + key + "' has unknown element type "
              + elementId);
        }
        if (element == GgufValue.Type.ARRAY) {
          throw new InvalidInputException(file, null, "metadata array '" + key + "' holds arrays; nested arrays"
              + " are not supported");
        }
        long n = u64("the length of array '" + key + "'");
        bounded(n, element.minBytes(), "elements of array '" + key + "'");
        List<Object> out = new ArrayList<>((int) Math.min(n, 1 << 16));
        for (long i = 0; i < n; i++) {
          out.add(scalar(element, key + "[" + i + "]"));
        }
        return new GgufValue(type, element, out);
      }
      return new GgufValue(type, null, scalar(type, key));
    }

    private Object scalar(GgufValue.Type type, String key) {
      String what = "the value of '" + key + "'";
      switch (type) {
        case UINT8 -> {
          need(1, what);
          return (long) (s.get(ValueLayout.JAVA_BYTE, pos++) & 0xff);
        }
        case INT8 -> {
          need(1, what);
          return (long) s.get(ValueLayout.JAVA_BYTE, pos++);
        }
        case BOOL -> {
          need(1, what);
          byte b = s.get(ValueLayout.JAVA_BYTE, pos++);
          if (b != 0 && b != 1) {
            throw new InvalidInputException(file, null, what + " is a BOOL of byte " + (b & 0xff) + ", not 0 or 1");
          }
          return b == 1;
        }
        case UINT16, INT16 -> {
          need(2, what);
          short v = s.get(U16, pos);
          pos += 2;
          return type == GgufValue.Type.UINT16 ? (long) (v & 0xffff) : (long) v;
        }
        case UINT32 -> {
          return u32(what) & 0xffffffffL;
        }
        case INT32 -> {
          return (long) u32(what);
        }
        case FLOAT32 -> {
          return (double) Float.intBitsToFloat(u32(what));
        }
        case UINT64, INT64 -> {
          return u64(what);
        }
        case FLOAT64 -> {
          return Double.longBitsToDouble(u64(what));
        }
        case STRING -> {
          return string(what);
        }
        default -> throw new IllegalStateException(type.toString());
      }
    }
  }
}
