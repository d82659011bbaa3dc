package io.crosscoder.io.gguf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.ModelDiffer;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.io.synthetic.SyntheticPair;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.GroupDiff;
import io.crosscoder.report.LineageVerdict;
import io.crosscoder.report.TensorDiff;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import io.crosscoder.testing.ReferenceBackend;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * "What did quantization do to this model": a Qwen2-shaped model (12 layers, hidden 256) in
 * safetensors against a GGUF of it quantized the way a Q4_K_M file is mixed: Q4_K matrices, a Q6_K
 * embedding, Q8_0 where rows are not whole K-blocks ({@code down_proj}, 704 columns), F32 norms and
 * biases, under Qwen2's names ({@code blk.N.attn_q.bias}, no q/k permutation). Every tensor's
 * relative change must be the test's own: the error of the codes its quantizers chose.
 */
class GgufQuantizedModelTest {
  @TempDir Path dir;

  @Test
  void diffAgainstAQ4KMixMeasuresEachTensorsQuantizationError() {
    SyntheticPair.Pair pair = SyntheticPair.write(dir.resolve("model"), SyntheticPair.TINY, DType.F32, 5);
    Map<String, float[]> original = new HashMap<>();
    Map<String, float[]> held = new HashMap<>();
    Map<String, GgmlType> types = new HashMap<>();
    GgufFiles g = new GgufFiles().string("general.architecture", "qwen2").u32("qwen2.attention.head_count", 4)
        .u32("qwen2.attention.head_count_kv", 2).u32("general.file_type", 15);
    try (Checkpoint c = CheckpointFormats.open(pair.base())) {
      for (TensorView t : c.tensors().values()) {
        float[] v = new float[(int) t.elementCount()];
        t.readFloats(0, v, 0, v.length);
        original.put(t.name(), v);
        long[] s = t.shape();
        String name = GgufRoundTripTest.ggufName(t.name().replace(".bias", ".weight"));
        if (t.name().endsWith(".bias")) {
          name = name.replace(".weight", ".bias");
        }
        if (s.length == 1) {
          g.tensor(name, new long[] {s[0]}, GgmlType.F32.id(), GgufFiles.f32(v));
          held.put(t.name(), v);
          types.put(t.name(), GgmlType.F32);
          continue;
        }
        GgmlType type = t.name().contains("embed_tokens") ? GgmlType.Q6_K : s[1] % 256 == 0 ? GgmlType.Q4_K
            : GgmlType.Q8_0;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        float[] h = new float[v.length];
        int cols = (int) s[1];
        for (int r = 0; r < s[0]; r++) {
          float[] row = Arrays.copyOfRange(v, r * cols, (r + 1) * cols);
          GgmlEncode.Encoded e = switch (type) {
            case Q6_K -> GgmlEncode.quantizeQ6K(row);
            case Q4_K -> GgmlEncode.quantizeQ4K(row);
            default -> GgmlEncode.quantizeQ8_0(row);
          };
          bytes.writeBytes(e.bytes());
          System.arraycopy(e.values(), 0, h, r * cols, cols);
        }
        g.tensor(name, new long[] {s[1], s[0]}, type.id(), bytes.toByteArray());
        held.put(t.name(), h);
        types.put(t.name(), type);
      }
    }
    Path gguf = g.write(dir.resolve("model-Q4_K_M.gguf"));

    DiffReport r = ModelDiffer.builder().backend(new ReferenceBackend()).threads(2).build().compare(pair.base(), gguf);
    assertThat(r.tensors()).hasSize(original.size());
    assertThat(r.onlyInBase()).isEmpty();
    assertThat(r.onlyInTarget()).isEmpty();
    assertThat(r.lineage().kind()).isEqualTo(LineageVerdict.Kind.DERIVED);
    double q4 = 0;
    double q4Base = 0;
    double q8 = 0;
    double q8Base = 0;
    for (TensorDiff t : r.tensors()) {
      float[] a = original.get(t.name());
      float[] b = held.get(t.name());
      double dd = 0;
      double aa = 0;
      for (int i = 0; i < a.length; i++) {
        double d = (double) (b[i] - a[i]);
        dd += d * d;
        aa += (double) a[i] * a[i];
      }
      assertThat(t.metric("relative_change")).as(t.name()).isCloseTo(Math.sqrt(dd / aa), within(1e-9));
      assertThat(t.targetDtype()).isEqualTo(types.get(t.name()).name());
      if (types.get(t.name()) == GgmlType.Q4_K) {
        q4 += dd;
        q4Base += aa;
      } else if (types.get(t.name()) == GgmlType.Q8_0) {
        q8 += dd;
        q8Base += aa;
      } else if (types.get(t.name()) == GgmlType.F32) {
        assertThat(t.metric("changed_fraction")).as(t.name()).isZero();
      }
    }
    // Four bits lose more than eight: sqrt of the pooled squared errors, about 1/sqrt(12) of a
    // quantization step over the weights' standard deviation.
    assertThat(Math.sqrt(q4 / q4Base)).isGreaterThan(4 * Math.sqrt(q8 / q8Base));
    GroupDiff up = r.byKind().stream().filter(k -> k.kind().equals(java.util.Optional.of("mlp.up_proj.weight"))).findFirst().orElseThrow();
    assertThat(up.metric("relative_change")).isCloseTo(pooled(r, original, held, "mlp.up_proj.weight"), within(1e-9));
    String q4Line = String.format(java.util.Locale.ROOT, "Q4_K 72 tensors %.4g", Math.sqrt(q4 / q4Base));
    String q8Line = String.format(java.util.Locale.ROOT, "Q8_0 12 tensors %.4g", Math.sqrt(q8 / q8Base));
    assertThat(r.findings()).anySatisfy(f -> assertThat(f.text()).contains("stored quantized on one side",
        "By storage type, pooled: F32 ", q4Line, q8Line, "Q6_K 1 tensor "));
    assertThat(r.target().format()).isEqualTo("gguf");
  }

  private static double pooled(DiffReport r, Map<String, float[]> a, Map<String, float[]> b, String kind) {
    double dd = 0;
    double aa = 0;
    for (TensorDiff t : r.tensors()) {
      if (!t.kind().equals(kind)) {
        continue;
      }
      float[] x = a.get(t.name());
      float[] y = b.get(t.name());
      for (int i = 0; i < x.length; i++) {
        double d = (double) (y[i] - x[i]);
        dd += d * d;
        aa += (double) x[i] * x[i];
      }
    }
    return Math.sqrt(dd / aa);
  }
}
