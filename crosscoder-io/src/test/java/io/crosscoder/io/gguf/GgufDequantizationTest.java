package io.crosscoder.io.gguf;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every ggml type the reader supports, from blocks the test packs by hand ({@link GgmlEncode})
 * with codes drawn over their whole range, scales chosen so that every product is exact in f32:
 * the values read must equal the layout's formula bit for bit, for whole tensors and for ranges
 * that start and end inside blocks.
 */
class GgufDequantizationTest {
  @TempDir Path dir;

  private static final Random RND = new Random(20240917);

  private static int[] codes(int n, int lo, int hi) {
    int[] q = new int[n];
    for (int i = 0; i < n; i++) {
      q[i] = lo + RND.nextInt(hi - lo + 1);
    }
    // The extremes of the range always appear.
    q[0] = lo;
    q[n - 1] = hi;
    return q;
  }

  /** A power of two between 2^-8 and 2^-2, times the sign: f16-exact, products exact in f32. */
  private static float scale() {
    return (RND.nextBoolean() ? 1 : -1) * (float) Math.scalb(1.0, -2 - RND.nextInt(7));
  }

  /** {@code count} blocks made by {@code one}, concatenated. */
  private static GgmlEncode.Encoded blocks(int count, Supplier<GgmlEncode.Encoded> one) {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    float[] values = null;
    for (int i = 0; i < count; i++) {
      GgmlEncode.Encoded e = one.get();
      bytes.writeBytes(e.bytes());
      if (values == null) {
        values = new float[count * e.values().length];
      }
      System.arraycopy(e.values(), 0, values, i * e.values().length, e.values().length);
    }
    return new GgmlEncode.Encoded(bytes.toByteArray(), values);
  }

  private void check(GgmlType type, GgmlEncode.Encoded e, int rows, int columns) {
    Path file = new GgufFiles().string("general.architecture", "test")
        .tensor("blk.0.ffn_up.weight", new long[] {columns, rows}, type.id(), e.bytes())
        .write(dir.resolve(type + ".gguf"));
    try (GgufCheckpoint c = GgufCheckpoint.open(file)) {
      TensorView t = c.tensor("model.layers.0.mlp.up_proj.weight");
      assertThat(t.shape()).containsExactly(rows, columns);
      assertThat(t.storageType()).isEqualTo(type.name());
      assertThat(t.isQuantized()).isEqualTo(type.blockQuantized());
      float[] all = new float[rows * columns];
      t.readFloats(0, all, 0, all.length);
      assertThat(all).as(type.name()).containsExactly(e.values());
      // Ranges starting and ending inside blocks, and a row read through readRow.
      for (int from : new int[] {1, 5, columns - 3, columns + 7}) {
        if (from >= all.length - 1) {
          continue;
        }
        int len = Math.min(all.length - from, columns + 11);
        float[] part = new float[len + 2];
        t.readFloats(from, part, 1, len);
        assertThat(Arrays.copyOfRange(part, 1, len + 1)).as(type + " from " + from)
            .containsExactly(Arrays.copyOfRange(e.values(), from, from + len));
      }
      float[] row = new float[columns - 2];
      t.readRow(rows - 1, 2, row, 0, row.length);
      assertThat(row).containsExactly(Arrays.copyOfRange(e.values(), (rows - 1) * columns + 2, rows * columns));
    }
  }

  @Test
  void q4_0() {
    check(GgmlType.Q4_0, blocks(12, () -> GgmlEncode.q40(scale(), codes(32, 0, 15))), 3, 128);
  }

  @Test
  void q4_1() {
    check(GgmlType.Q4_1, blocks(12, () -> GgmlEncode.q41(scale(), scale(), codes(32, 0, 15))), 3, 128);
  }

  @Test
  void q5_0() {
    check(GgmlType.Q5_0, blocks(12, () -> GgmlEncode.q50(scale(), codes(32, 0, 31))), 3, 128);
  }

  @Test
  void q5_1() {
    check(GgmlType.Q5_1, blocks(12, () -> GgmlEncode.q51(scale(), scale(), codes(32, 0, 31))), 3, 128);
  }

  @Test
  void q8_0() {
    check(GgmlType.Q8_0, blocks(12, () -> GgmlEncode.q80(scale(), codes(32, -128, 127))), 3, 128);
  }

  @Test
  void q4_K() {
    check(GgmlType.Q4_K, blocks(6, () -> GgmlEncode.q4k(scale(), scale(), codes(8, 0, 63), codes(8, 0, 63),
        codes(256, 0, 15))), 3, 512);
  }

  @Test
  void q5_K() {
    check(GgmlType.Q5_K, blocks(6, () -> GgmlEncode.q5k(scale(), scale(), codes(8, 0, 63), codes(8, 0, 63),
        codes(256, 0, 31))), 3, 512);
  }

  @Test
  void q6_K() {
    check(GgmlType.Q6_K, blocks(6, () -> GgmlEncode.q6k(scale(), codes(16, -128, 127), codes(256, 0, 63))), 3, 512);
  }

  @Test
  void aKnownBlockByHand() {
    // One Q4_K block written out: d = 0.5, dmin = 0.25, sub-block 5 has scale 37 (0b100101) and
    // min 50 (0b110010), whose top two bits live in bytes 1 and 5; its 4-bit codes are all 9.
    int[] sc = {1, 2, 3, 4, 5, 37, 7, 8};
    int[] m = {0, 0, 0, 0, 0, 50, 0, 0};
    int[] q = new int[256];
    Arrays.fill(q, 160, 192, 9);
    GgmlEncode.Encoded e = GgmlEncode.q4k(0.5f, 0.25f, sc, m, q);
    assertThat(e.bytes()[4 + 1] & 0xff).isEqualTo(2 | (37 >> 4) << 6);
    assertThat(e.bytes()[4 + 5] & 0xff).isEqualTo(0 | (50 >> 4) << 6);
    assertThat(e.bytes()[4 + 9] & 0xff).isEqualTo((37 & 15) | (50 & 15) << 4);
    // Sub-block 5 is the high nibbles of qs[64 .. 95].
    assertThat(e.bytes()[16 + 64] & 0xff).isEqualTo(9 << 4);
    float[] expected = new float[256];
    for (int i = 0; i < 256; i++) {
      int s = i / 32;
      expected[i] = (float) (0.5 * sc[s] * q[i] - 0.25 * m[s]);
    }
    assertThat(expected[170]).isEqualTo(0.5f * 37 * 9 - 0.25f * 50);
    check(GgmlType.Q4_K, new GgmlEncode.Encoded(e.bytes(), expected), 1, 256);
  }

  @Test
  void plainTypes() {
    float[] v = new float[2 * 64];
    for (int i = 0; i < v.length; i++) {
      v[i] = (i - 40) * 0.125f;
    }
    check(GgmlType.F32, new GgmlEncode.Encoded(GgufFiles.f32(v), v), 2, 64);
    check(GgmlType.F16, new GgmlEncode.Encoded(GgufFiles.f16(v), v), 2, 64);
    check(GgmlType.BF16, new GgmlEncode.Encoded(GgufFiles.bf16(v), v), 2, 64);
    Path file = new GgufFiles().tensor("token_embd.weight", new long[] {64, 2}, GgmlType.F16.id(), GgufFiles.f16(v))
        .write(dir.resolve("plain.gguf"));
    try (GgufCheckpoint c = GgufCheckpoint.open(file)) {
      TensorView t = c.tensor("model.embed_tokens.weight");
      assertThat(t.isPlainFloat()).isTrue();
      assertThat(t.dtype()).isEqualTo(DType.F16);
      assertThat(t.data().byteSize()).isEqualTo(2L * v.length);
    }
  }
}
