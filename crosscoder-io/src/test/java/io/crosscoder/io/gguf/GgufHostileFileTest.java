package io.crosscoder.io.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.CheckpointFormats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed and hostile GGUF files: each is refused with an {@link InvalidInputException} naming
 * the file and, where there is one, the tensor or key, before any allocation sized by the file.
 */
class GgufHostileFileTest {
  @TempDir Path dir;

  private static GgufFiles valid() {
    float[] v = new float[64 * 4];
    return new GgufFiles().string("general.architecture", "qwen2")
        .tensor("blk.0.ffn_up.weight", new long[] {64, 4}, GgmlType.F32.id(), GgufFiles.f32(v))
        .tensor("blk.0.ffn_down.weight", new long[] {32, 2}, GgmlType.Q8_0.id(), new byte[2 * 34]);
  }

  private AbstractThrowableAssert<?, ? extends Throwable> refused(String name, byte[] bytes) throws Exception {
    Path file = dir.resolve(name + ".gguf");
    Files.write(file, bytes);
    return assertThatThrownBy(() -> CheckpointFormats.open(file).close())
        .isInstanceOf(InvalidInputException.class)
        .hasMessageContaining(name + ".gguf");
  }

  @Test
  void aValidFileOpens() throws Exception {
    Path file = valid().write(dir.resolve("ok.gguf"));
    try (var c = CheckpointFormats.open(file)) {
      assertThat(c.tensors()).containsKeys("model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight");
    }
  }

  @Test
  void truncatedAnywhere() throws Exception {
    byte[] all = valid().bytes();
    // Every cut inside the header, and cuts inside the data, are refused (none crashes or hangs).
    for (int cut = 0; cut < all.length; cut += (cut < 200 ? 1 : 37)) {
      refused("cut" + cut, Arrays.copyOf(all, cut)).hasMessageContaining("truncated");
    }
    refused("lastbyte", Arrays.copyOf(all, all.length - 1))
        .hasMessageContaining("blk.0.ffn_down.weight").hasMessageContaining("truncated");
  }

  @Test
  void notGgufWrongVersionAndBigEndian() throws Exception {
    byte[] all = valid().bytes();
    byte[] magic = all.clone();
    magic[0] = 'X';
    refused("magic", magic).hasMessageContaining("not a GGUF file");
    GgufFiles v1 = valid();
    v1.version = 1;
    refused("v1", v1.bytes()).hasMessageContaining("version 1");
    GgufFiles v9 = valid();
    v9.version = 9;
    refused("v9", v9.bytes()).hasMessageContaining("version 9 is not supported");
    GgufFiles big = valid();
    big.version = Integer.reverseBytes(3);
    refused("bigendian", big.bytes()).hasMessageContaining("big-endian");
  }

  @Test
  void unknownAndUnsupportedQuantizationTypes() throws Exception {
    GgufFiles unknown = new GgufFiles().tensor("blk.0.attn_v.weight", new long[] {32, 1}, 99, new byte[64]);
    refused("unknowntype", unknown.bytes()).hasMessageContaining("blk.0.attn_v.weight")
        .hasMessageContaining("unknown ggml type 99").hasMessageContaining("Q4_K");
    GgufFiles q3k = new GgufFiles().tensor("blk.0.attn_v.weight", new long[] {256, 1}, GgmlType.Q3_K.id(),
        new byte[110]);
    refused("q3k", q3k.bytes()).hasMessageContaining("blk.0.attn_v.weight").hasMessageContaining("Q3_K")
        .hasMessageContaining("does not dequantize");
  }

  @Test
  void hugeCountsAndLengthsAreRefusedBeforeAllocating() throws Exception {
    GgufFiles tensors = valid();
    tensors.tensorCountOverride = 1L << 40;
    refused("tensorcount", tensors.bytes()).hasMessageContaining("tensor infos");
    GgufFiles kv = valid();
    kv.kvCountOverride = -1L;
    refused("kvcount", kv.bytes()).hasMessageContaining("metadata pairs");
    byte[] longString = new GgufFiles.Bytes().u64(1L << 50).raw("x".getBytes()).toArray();
    GgufFiles key = new GgufFiles().rawKv(longString);
    refused("keylength", key.bytes()).hasMessageContaining("claims");
    byte[] array = new GgufFiles.Bytes().str("tokenizer.ggml.tokens").u32(GgufFiles.ARRAY).u32(GgufFiles.STRING)
        .u64(1L << 40).toArray();
    refused("arraylength", new GgufFiles().rawKv(array).bytes()).hasMessageContaining("tokenizer.ggml.tokens");
  }

  @Test
  void malformedMetadata() throws Exception {
    byte[] nested = new GgufFiles.Bytes().str("a").u32(GgufFiles.ARRAY).u32(GgufFiles.ARRAY).u64(1).toArray();
    refused("nested", new GgufFiles().rawKv(nested).bytes()).hasMessageContaining("nested arrays");
    byte[] badType = new GgufFiles.Bytes().str("general.thing").u32(77).toArray();
    refused("kvtype", new GgufFiles().rawKv(badType).bytes()).hasMessageContaining("general.thing")
        .hasMessageContaining("unknown value type 77");
    byte[] utf8 = new GgufFiles.Bytes().u64(2).raw(new byte[] {(byte) 0xc3, (byte) 0x28}).u32(GgufFiles.UINT32)
        .u32(1).toArray();
    refused("utf8", new GgufFiles().rawKv(utf8).bytes()).hasMessageContaining("not valid UTF-8");
    refused("dupkey", new GgufFiles().u32("a.b", 1).u32("a.b", 2).bytes()).hasMessageContaining("'a.b' appears twice");
    refused("alignment", new GgufFiles().alignment(48).bytes()).hasMessageContaining("power of two");
  }

  @Test
  void malformedTensorInfos() throws Exception {
    refused("dims", new GgufFiles().tensor("t", new long[] {1, 1, 1, 1, 1}, 0, new byte[4]).bytes())
        .hasMessageContaining("t in").hasMessageContaining("5 dimensions");
    refused("overflow", new GgufFiles().tensor("t", new long[] {1L << 40, 1L << 40}, 0, new byte[4]).bytes())
        .hasMessageContaining("more than 2^63 - 1");
    refused("block", new GgufFiles().tensor("t", new long[] {40, 1}, GgmlType.Q8_0.id(), new byte[68]).bytes())
        .hasMessageContaining("not whole Q8_0 blocks of 32");
    refused("dupname", new GgufFiles().tensor("t", new long[] {1}, 0, new byte[4])
        .tensor("t", new long[] {1}, 0, new byte[4]).bytes()).hasMessageContaining("appears twice");
    refused("misaligned", new GgufFiles().tensorAt("t", new long[] {1}, 0, new byte[4], 4).bytes())
        .hasMessageContaining("not a multiple of the alignment 32");
    GgufFiles overlap = new GgufFiles().tensor("a", new long[] {16}, 0, new byte[64]);
    overlap.tensorAt("b", new long[] {16}, 0, new byte[64], 32);
    overlap.trailing = new byte[64];
    refused("overlap", overlap.bytes()).hasMessageContaining("overlaps");
    refused("twonames", new GgufFiles().tensor("blk.0.ffn_up.weight", new long[] {1}, 0, new byte[4])
        .tensor("model.layers.0.mlp.up_proj.weight", new long[] {1}, 0, new byte[4]).bytes())
        .hasMessageContaining("maps to the Hugging Face name model.layers.0.mlp.up_proj.weight");
  }

  @Test
  void permutedArchitectureNeedsConsistentHeads() throws Exception {
    byte[] q = GgufFiles.f32(new float[6 * 4]);
    refused("noheads", new GgufFiles().string("general.architecture", "llama")
        .tensor("blk.0.attn_q.weight", new long[] {4, 6}, 0, q).bytes())
        .hasMessageContaining("blk.0.attn_q.weight").hasMessageContaining("llama.attention.head_count");
    refused("oddheads", new GgufFiles().string("general.architecture", "llama").u32("llama.attention.head_count", 2)
        .tensor("blk.0.attn_q.weight", new long[] {4, 6}, 0, q).bytes())
        .hasMessageContaining("6 rows, which cannot be 2 heads");
  }

  @Test
  void folderWithSeveralGgufFiles() throws Exception {
    Path folder = Files.createDirectories(dir.resolve("models"));
    valid().write(folder.resolve("a.gguf"));
    valid().write(folder.resolve("b.gguf"));
    assertThatThrownBy(() -> new GgufFormat().open(folder)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("2 GGUF files");
    assertThat(new GgufFormat().recognizes(folder)).isFalse();
    Files.delete(folder.resolve("b.gguf"));
    assertThat(new GgufFormat().recognizes(folder)).isTrue();
    try (var c = CheckpointFormats.open(folder)) {
      assertThat(c.format()).isEqualTo("gguf");
    }
  }

  @Test
  void boolMustBeZeroOrOne() throws Exception {
    byte[] pair = new GgufFiles.Bytes().str("general.flag").u32(7).raw(new byte[] {5}).toArray();
    refused("bool", new GgufFiles().rawKv(pair).bytes()).hasMessageContaining("general.flag");
  }
}
