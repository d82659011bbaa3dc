package io.crosscoder.fuzz;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** A little-endian byte builder for hand-made seed files (GGUF, safetensors, .npy) and protobuf for ONNX. */
final class Bytes {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  Bytes u8(int v) {
    out.write(v);
    return this;
  }

  Bytes u16(int v) {
    return u8(v & 0xff).u8((v >>> 8) & 0xff);
  }

  Bytes u32(long v) {
    for (int i = 0; i < 4; i++) {
      out.write((int) (v >>> (8 * i)) & 0xff);
    }
    return this;
  }

  Bytes u64(long v) {
    for (int i = 0; i < 8; i++) {
      out.write((int) (v >>> (8 * i)) & 0xff);
    }
    return this;
  }

  Bytes f32(float... v) {
    for (float x : v) {
      u32(Float.floatToRawIntBits(x));
    }
    return this;
  }

  Bytes raw(byte[] b) {
    out.writeBytes(b);
    return this;
  }

  Bytes ascii(String s) {
    return raw(s.getBytes(StandardCharsets.UTF_8));
  }

  /** A GGUF string: u64 length, then UTF-8 bytes. */
  Bytes ggufString(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    return u64(b.length).raw(b);
  }

  /** Zero bytes up to a multiple of {@code alignment} of the total length. */
  Bytes pad(int alignment) {
    while (out.size() % alignment != 0) {
      out.write(0);
    }
    return this;
  }

  // ---- protobuf wire format ----

  Bytes varint(long v) {
    while ((v & ~0x7fL) != 0) {
      out.write((int) ((v & 0x7f) | 0x80));
      v >>>= 7;
    }
    out.write((int) v);
    return this;
  }

  /** Field {@code field} as a varint. */
  Bytes pbVarint(int field, long v) {
    return varint((long) field << 3).varint(v);
  }

  /** Field {@code field} as length-delimited bytes. */
  Bytes pbBytes(int field, byte[] b) {
    return varint(((long) field << 3) | 2).varint(b.length).raw(b);
  }

  Bytes pbString(int field, String s) {
    return pbBytes(field, s.getBytes(StandardCharsets.UTF_8));
  }

  int size() {
    return out.size();
  }

  byte[] toArray() {
    return out.toByteArray();
  }
}
