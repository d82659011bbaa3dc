package io.crosscoder.io.gguf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes GGUF files for tests, byte by byte from the format's description (little-endian: magic,
 * version, counts, key-value pairs, tensor infos, padding to the alignment, data), independently
 * of the reader. Raw fields can be overridden to make hostile files.
 */
final class GgufFiles {
  static final int STRING = 8;
  static final int ARRAY = 9;
  static final int UINT32 = 4;
  static final int FLOAT32 = 6;
  static final int UINT8 = 0;

  int version = 3;
  long alignment = 32;
  boolean writeAlignment;
  final List<byte[]> kv = new ArrayList<>();
  final List<Tensor> tensors = new ArrayList<>();
  /** When set, the tensor count written instead of the real one. */
  Long tensorCountOverride;
  /** When set, the metadata count written instead of the real one. */
  Long kvCountOverride;
  /** Bytes appended after the data. */
  byte[] trailing = new byte[0];

  record Tensor(String name, long[] dims, int type, byte[] data, Long offsetOverride) {}

  GgufFiles string(String key, String value) {
    Bytes b = new Bytes().str(key).u32(STRING).str(value);
    kv.add(b.toArray());
    return this;
  }

  GgufFiles u32(String key, long value) {
    kv.add(new Bytes().str(key).u32(UINT32).u32(value).toArray());
    return this;
  }

  GgufFiles f32(String key, float value) {
    kv.add(new Bytes().str(key).u32(FLOAT32).u32(Float.floatToRawIntBits(value)).toArray());
    return this;
  }

  GgufFiles stringArray(String key, List<String> values) {
    Bytes b = new Bytes().str(key).u32(ARRAY).u32(STRING).u64(values.size());
    values.forEach(b::str);
    kv.add(b.toArray());
    return this;
  }

  GgufFiles alignment(long a) {
    alignment = a;
    writeAlignment = true;
    kv.add(new Bytes().str("general.alignment").u32(UINT32).u32(a).toArray());
    return this;
  }

  /** A raw key-value pair, already encoded. */
  GgufFiles rawKv(byte[] pair) {
    kv.add(pair);
    return this;
  }

  GgufFiles tensor(String name, long[] dims, int type, byte[] data) {
    tensors.add(new Tensor(name, dims, type, data, null));
    return this;
  }

  GgufFiles tensorAt(String name, long[] dims, int type, byte[] data, long offset) {
    tensors.add(new Tensor(name, dims, type, data, offset));
    return this;
  }

  /** The file's bytes. */
  byte[] bytes() {
    Bytes b = new Bytes();
    b.raw(new byte[] {'G', 'G', 'U', 'F'}).u32(version);
    b.u64(tensorCountOverride != null ? tensorCountOverride : tensors.size());
    b.u64(kvCountOverride != null ? kvCountOverride : kv.size());
    kv.forEach(b::raw);
    long offset = 0;
    List<Long> offsets = new ArrayList<>();
    for (Tensor t : tensors) {
      long at = t.offsetOverride != null ? t.offsetOverride : offset;
      offsets.add(at);
      b.str(t.name).u32(t.dims.length);
      for (long d : t.dims) {
        b.u64(d);
      }
      b.u32(t.type).u64(at);
      offset = pad(at + t.data.length);
    }
    b.padTo(alignment);
    long dataStart = b.size();
    for (int i = 0; i < tensors.size(); i++) {
      long at = dataStart + offsets.get(i);
      if (b.size() < at) {
        b.raw(new byte[(int) (at - b.size())]);
      }
      if (b.size() == at) {
        b.raw(tensors.get(i).data);
      }
    }
    b.raw(trailing);
    return b.toArray();
  }

  Path write(Path file) {
    try {
      Files.write(file, bytes());
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private long pad(long n) {
    return (n + alignment - 1) / alignment * alignment;
  }

  /** A little-endian byte builder. */
  static final class Bytes {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Bytes u32(long v) {
      return raw(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
    }

    Bytes u64(long v) {
      return raw(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
    }

    Bytes str(String s) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      return u64(b.length).raw(b);
    }

    Bytes raw(byte[] b) {
      out.writeBytes(b);
      return this;
    }

    Bytes padTo(long alignment) {
      while (out.size() % alignment != 0) {
        out.write(0);
      }
      return this;
    }

    int size() {
      return out.size();
    }

    byte[] toArray() {
      return out.toByteArray();
    }
  }

  /** f32 values as little-endian bytes. */
  static byte[] f32(float[] v) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      b.putFloat(x);
    }
    return b.array();
  }

  /** f32 values rounded to f16, as little-endian bytes. */
  static byte[] f16(float[] v) {
    ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      b.putShort(Float.floatToFloat16(x));
    }
    return b.array();
  }

  /** f32 values truncated to their upper 16 bits (bf16; the test picks values that are exact). */
  static byte[] bf16(float[] v) {
    ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      b.putShort((short) (Float.floatToRawIntBits(x) >>> 16));
    }
    return b.array();
  }
}
