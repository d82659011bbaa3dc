package io.crosscoder.io.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorSpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where each tensor goes in a safetensors file, laid out as the reference implementation does:
 * tensors ordered by dtype (descending in the reference's dtype order, which puts wider types
 * first so that every tensor starts aligned to its element size), then by name (UTF-8 byte
 * order); data packed without padding; the header JSON compact, {@code __metadata__} first when
 * there is any (its entries in the map's order when it has one, else in key order, so that the
 * bytes never depend on a hash order), then the tensors in layout order; spaces appended so that its length is a
 * multiple of 8 and the data section starts 8-aligned.
 *
 * <p>Immutable.
 */
final class SafetensorsLayout {
  /**
   * The reference's dtype order (its {@code Dtype} enum, ascending); the layout sorts by it
   * descending. Within equal element sizes the reference's order decides, so that a file written
   * here has the same bytes as one the reference writes.
   */
  private static final Map<DType, Integer> REFERENCE_RANK = new EnumMap<>(DType.class);

  static {
    DType[] ascending = {DType.BOOL, DType.U8, DType.I8, DType.F8_E5M2, DType.F8_E4M3, DType.I16, DType.U16,
        DType.F16, DType.BF16, DType.I32, DType.U32, DType.F32, DType.F64, DType.I64, DType.U64};
    for (int i = 0; i < ascending.length; i++) {
      REFERENCE_RANK.put(ascending[i], i);
    }
    if (REFERENCE_RANK.size() != DType.values().length) {
      throw new ExceptionInInitializerError("a DType has no place in the safetensors layout order");
    }
  }

  private static final JsonFactory JSON = new JsonFactory();

  /**
   * A tensor's place in the data section.
   *
   * @param spec the tensor
   * @param begin first byte, relative to the data section
   * @param end one past the last byte
   */
  record Placed(TensorSpec spec, long begin, long end) {
    long byteSize() {
      return end - begin;
    }
  }

  private final List<Placed> placed;
  private final byte[] header;
  private final long dataBytes;

  private SafetensorsLayout(List<Placed> placed, byte[] header, long dataBytes) {
    this.placed = List.copyOf(placed);
    this.header = header;
    this.dataBytes = dataBytes;
  }

  /**
   * Lays out {@code specs} with {@code metadata} (null or empty: no {@code __metadata__}).
   *
   * @throws IllegalArgumentException if two specs share a name, a name is {@code __metadata__}, a
   *     metadata key or value is null, the sizes overflow 64 bits, or the header would exceed
   *     {@link SafetensorsHeader#MAX_HEADER_BYTES}
   */
  static SafetensorsLayout of(Map<String, String> metadata, List<TensorSpec> specs) {
    Set<String> names = new HashSet<>();
    for (TensorSpec s : specs) {
      if (s == null) {
        throw new IllegalArgumentException("null tensor spec");
      }
      if (s.name().equals(SafetensorsHeader.METADATA_KEY)) {
        throw new IllegalArgumentException("a tensor cannot be named " + SafetensorsHeader.METADATA_KEY);
      }
      if (!names.add(s.name())) {
        throw new IllegalArgumentException("two tensors are named " + s.name());
      }
    }
    if (metadata != null) {
      metadata.forEach((k, v) -> {
        if (k == null || v == null) {
          throw new IllegalArgumentException("metadata keys and values must not be null: " + k + " = " + v);
        }
      });
    }
    List<TensorSpec> ordered = new ArrayList<>(specs);
    ordered.sort(Comparator.<TensorSpec>comparingInt(s -> REFERENCE_RANK.get(s.dtype())).reversed()
        .thenComparing((a, b) -> Arrays.compareUnsigned(utf8(a.name()), utf8(b.name()))));
    List<Placed> placed = new ArrayList<>(ordered.size());
    long offset = 0;
    for (TensorSpec s : ordered) {
      long size;
      try {
        size = s.byteSize();
        long end = Math.addExact(offset, size);
        placed.add(new Placed(s, offset, end));
        offset = end;
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException(s.name() + ": the file would be larger than 2^63-1 bytes", e);
      }
    }
    byte[] header = headerJson(metadata, placed);
    if (header.length > SafetensorsHeader.MAX_HEADER_BYTES) {
      throw new IllegalArgumentException("the header would be " + header.length + " bytes, more than the "
          + SafetensorsHeader.MAX_HEADER_BYTES + " bytes readers accept");
    }
    return new SafetensorsLayout(placed, header, offset);
  }

  /** The tensors in file order. */
  List<Placed> placed() {
    return placed;
  }

  /** The padded header JSON (without the 8-byte length before it); a copy. */
  byte[] header() {
    return header.clone();
  }

  /** Bytes of the data section. */
  long dataBytes() {
    return dataBytes;
  }

  /** Offset of the data section in the file. */
  long dataStart() {
    return 8L + header.length;
  }

  /** Total file size: {@code 8 + header + data}. */
  long fileSize() {
    return Math.addExact(dataStart(), dataBytes);
  }

  private static byte[] headerJson(Map<String, String> metadata, List<Placed> placed) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      if (metadata != null && !metadata.isEmpty()) {
        g.writeObjectFieldStart(SafetensorsHeader.METADATA_KEY);
        // A map with an order (LinkedHashMap, TreeMap) is written in it; any other (Map.of, HashMap)
        // in key order. Map.of's iteration order changes from one JVM to the next, so without this
        // a file written again by another process (a resumed harvest) would differ byte for byte.
        Map<String, String> ordered = metadata instanceof java.util.SequencedMap<String, String>
            ? metadata : new java.util.TreeMap<>(metadata);
        for (Map.Entry<String, String> e : ordered.entrySet()) {
          g.writeStringField(e.getKey(), e.getValue());
        }
        g.writeEndObject();
      }
      for (Placed p : placed) {
        g.writeObjectFieldStart(p.spec().name());
        g.writeStringField("dtype", p.spec().dtype().name());
        g.writeArrayFieldStart("shape");
        for (long d : p.spec().shape()) {
          g.writeNumber(d);
        }
        g.writeEndArray();
        g.writeArrayFieldStart("data_offsets");
        g.writeNumber(p.begin());
        g.writeNumber(p.end());
        g.writeEndArray();
        g.writeEndObject();
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException("writing JSON to memory cannot fail", e);
    }
    int length = out.size();
    int padded = (length + 7) & ~7;
    for (int i = length; i < padded; i++) {
      out.write(' ');
    }
    return out.toByteArray();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
