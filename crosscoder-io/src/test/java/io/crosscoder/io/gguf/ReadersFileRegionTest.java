package io.crosscoder.io.gguf;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.io.safetensors.SafetensorsWriter;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.FileRegion;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TensorView#fileRegion()} of the readers that have one, against the file itself: the bytes
 * at the region's offset, read with a plain positional read, are the view's mapped data, for every
 * plain tensor of a safetensors and a GGUF file; a block-quantized GGUF tensor, which is not read as
 * plain floats, has no region.
 */
class ReadersFileRegionTest {
  @TempDir Path dir;

  @Test
  void safetensorsRegionsHoldTheMappedBytes() throws IOException {
    Path file = dir.resolve("pair.safetensors");
    float[] a = values(3 * 7, 0.5f);
    float[] b = values(11, -2f);
    SafetensorsWriter.write(file, null, List.of(
        TensorView.of("a", DType.F32, new long[] {3, 7}, MemorySegment.ofArray(a), null),
        TensorView.of("b", DType.F32, new long[] {11}, MemorySegment.ofArray(b), null)));
    try (Checkpoint c = CheckpointFormats.open(file)) {
      for (TensorView t : c.tensors().values()) {
        assertRegionHoldsData(t);
      }
    }
  }

  @Test
  void ggufPlainTensorsHaveRegionsAndQuantizedOnesNone() throws IOException {
    float[] gate = values(64 * 172, 0.25f);
    byte[] q8 = new byte[(64 * 32 / 32) * GgmlType.Q8_0.blockBytes()];
    Path file = new GgufFiles().string("general.architecture", "qwen2")
        .tensor("blk.0.ffn_gate.weight", new long[] {64, 172}, GgmlType.F32.id(), GgufFiles.f32(gate))
        .tensor("blk.0.ffn_up.weight", new long[] {64, 172}, GgmlType.F16.id(), GgufFiles.f16(gate))
        .tensor("blk.1.ffn_up.weight", new long[] {64, 172}, GgmlType.BF16.id(), GgufFiles.bf16(gate))
        .tensor("blk.0.ffn_down.weight", new long[] {64, 32}, GgmlType.Q8_0.id(), q8)
        .write(dir.resolve("m.gguf"));
    try (Checkpoint c = CheckpointFormats.open(file)) {
      int plain = 0;
      for (TensorView t : c.tensors().values()) {
        if (t.isPlainFloat()) {
          assertRegionHoldsData(t);
          plain++;
        } else {
          assertThat(t.fileRegion()).as(t.name()).isEmpty();
        }
      }
      assertThat(plain).isEqualTo(3);
    }
  }

  private static void assertRegionHoldsData(TensorView t) throws IOException {
    FileRegion region = t.fileRegion().orElseThrow();
    assertThat(region.sameFile()).isTrue();
    assertThat(region.file()).isEqualTo(t.source());
    int n = (int) t.data().byteSize();
    ByteBuffer read = ByteBuffer.allocate(n);
    try (FileChannel ch = FileChannel.open(region.file(), StandardOpenOption.READ)) {
      while (read.hasRemaining() && ch.read(read, region.offset() + read.position()) > 0) {
        // positional reads until the region is in
      }
    }
    assertThat(read.position()).as(t.name()).isEqualTo(n);
    assertThat(read.array()).as(t.name()).isEqualTo(t.data().toArray(ValueLayout.JAVA_BYTE));
  }

  private static float[] values(int n, float shift) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) Math.sin(i * 0.7) + shift;
    }
    return v;
  }
}
