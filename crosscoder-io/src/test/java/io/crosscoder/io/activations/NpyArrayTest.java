package io.crosscoder.io.activations;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.InvalidInputException;
import io.crosscoder.tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyArrayTest {
  @TempDir
  Path dir;

  static final String GOOD = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

  Path file(String header, int dataBytes) throws IOException {
    Path p = dir.resolve("a.npy");
    NpyFiles.write(p, header, new byte[dataBytes]);
    return p;
  }

  void rejects(Path p, String... fragments) {
    var a = assertThatThrownBy(() -> NpyArray.open(p).close()).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining(p.getFileName().toString());
    for (String f : fragments) {
      a.hasMessageContaining(f);
    }
  }

  @Test
  void readsValuesOfAValidFile() throws IOException {
    Path p = dir.resolve("v.npy");
    NpyFiles.writeF32(p, 2, 3, new float[] {1, 2, 3, 4, 5, 6.5f});
    try (NpyArray a = NpyArray.open(p)) {
      assertThat(a.view().shape()).containsExactly(2, 3);
      assertThat(a.view().dtype()).isEqualTo(DType.F32);
      float[] out = new float[6];
      a.view().readFloats(0, out, 0, 6);
      assertThat(out).containsExactly(1, 2, 3, 4, 5, 6.5f);
    }
    // key order and quoting as other writers produce them, version 2.0
    Path q = dir.resolve("v2.npy");
    String h = "{\"shape\": (1,2), \"fortran_order\": False, \"descr\": \"<f2\"}\n";
    ByteBuffer bb = ByteBuffer.allocate(12 + h.length() + 4).order(ByteOrder.LITTLE_ENDIAN);
    bb.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 2).put((byte) 0);
    bb.putInt(h.length()).put(h.getBytes(StandardCharsets.US_ASCII));
    bb.putShort(Float.floatToFloat16(1.5f)).putShort(Float.floatToFloat16(-2f));
    Files.write(q, bb.array());
    try (NpyArray a = NpyArray.open(q)) {
      float[] out = new float[2];
      a.view().readFloats(0, out, 0, 2);
      assertThat(out).containsExactly(1.5f, -2f);
    }
  }

  @Test
  void hostileHeadersAreRejected() throws IOException {
    rejects(file(GOOD.replace("<f4", "<f8"), 48), "'<f8'", "'<f4' or '<f2'");
    rejects(file(GOOD.replace("<f4", ">f4"), 24), "'>f4'");
    rejects(file(GOOD.replace("False", "True"), 24), "fortran_order");
    rejects(file(GOOD.replace("(2, 3)", "(2, 3, 1)"), 24), "two dimensions");
    rejects(file(GOOD.replace("(2, 3)", "(6,)"), 24), "two dimensions");
    rejects(file(GOOD, 23), "truncated");
    rejects(file(GOOD, 25), "trailing");
    rejects(file(GOOD.replace("}", "'extra': 1}"), 24), "malformed");
    rejects(file(GOOD.replace("'descr': '<f4', ", "'descr': '<f4', 'descr': '<f4', "), 24), "duplicate");
    rejects(file(GOOD.replace("(2, 3)", "(99999999999, 99999999999)"), 24), "overflows");
    rejects(file(GOOD.replace("(2, 3)", "(123456789012345678901234, 3)"), 24), "19 digits");
    rejects(file(GOOD.replace("'shape': (2, 3), ", ""), 24), "exactly the keys");
    rejects(file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3) } junk", 24), "after the dict");
    rejects(file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3", 24), "malformed");
  }

  @Test
  void hostilePreamblesAreRejected() throws IOException {
    Path p = dir.resolve("b.npy");
    // header length 65535 in a tiny file
    ByteBuffer bb = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
    bb.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
    bb.putShort((short) 0xffff);
    Files.write(p, bb.array());
    rejects(p, "runs past the end");
    // version 2 with a 4 GB header length
    bb = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
    bb.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 2).put((byte) 0);
    bb.putInt(-1);
    Files.write(p, bb.array());
    rejects(p, "exceeds the limit");
    bb.put(6, (byte) 9);
    Files.write(p, bb.array());
    rejects(p, "version 9.0");
    Files.write(p, "PK\003\004 not numpy at all".getBytes(StandardCharsets.US_ASCII));
    rejects(p, "magic");
    Files.write(p, new byte[3]);
    rejects(p, "shorter than");
  }
}
