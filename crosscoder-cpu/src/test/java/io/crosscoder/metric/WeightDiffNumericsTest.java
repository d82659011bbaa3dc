package io.crosscoder.metric;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.ModelDiffer;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.report.TensorDiff;
import io.crosscoder.tensor.DType;
import io.crosscoder.testing.InMemoryCheckpoint;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.apache.commons.math3.linear.ArrayRealVector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The weight diff's numbers where f32 arithmetic would go silently wrong, against oracles written
 * here (plain f64 loops) and Commons Math's {@code cosine}: values near {@code 1e-23} and
 * subnormals (products that vanish in f32), a tensor against itself (exactly 1), and the NaN/Inf
 * policy (a tensor with non-finite values has no cosine, counts its non-finite pairs, and never
 * counts towards the lineage verdict or its groups' sums).
 */
class WeightDiffNumericsTest {
  private static final int ROWS = 64;
  private static final int COLS = 96;
  private static ComputeBackend cpu;

  @BeforeAll
  static void backend() {
    cpu = ComputeBackends.select("cpu").create();
  }

  @AfterAll
  static void close() {
    cpu.close();
  }

  private static float[] gaussian(long seed, double scale) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[ROWS * COLS];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (r.nextGaussian() * scale);
    }
    return x;
  }

  private static double plainCosine(float[] a, float[] b) {
    double dot = 0;
    double aa = 0;
    double bb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      aa += (double) a[i] * a[i];
      bb += (double) b[i] * b[i];
    }
    return dot / Math.sqrt(aa * bb);
  }

  private static double[] widen(float[] x) {
    double[] d = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      d[i] = x[i];
    }
    return d;
  }

  private static DiffReport diff(float[][] base, float[][] target) {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      for (int i = 0; i < base.length; i++) {
        String name = "model.layers." + i + ".mlp.up_proj.weight";
        b.add(name, DType.F32, new long[] {ROWS, COLS}, base[i]);
        t.add(name, DType.F32, new long[] {ROWS, COLS}, target[i]);
      }
      return ModelDiffer.builder().backend(cpu).build().compare(b, t);
    }
  }

  @Test
  void tinyAndSubnormalTensorsGetTheirF64Cosine() {
    // 1e-23: normal f32 numbers whose products (1e-46) are below even the smallest f32 subnormal.
    // 1e-41: subnormal f32 numbers. 1e-19: products near the f32 subnormal range. 1: the control.
    double[] scales = {1e-23, 1e-41, 1e-19, 1};
    for (double scale : scales) {
      float[] a = gaussian(1, scale);
      float[] b = gaussian(2, scale);
      float[] c = a.clone();
      for (int i = 0; i < c.length; i++) {
        c[i] = a[i] + 0.5f * b[i];
      }
      DiffReport r = diff(new float[][] {a, a}, new float[][] {b, c});
      double independent = plainCosine(a, b);
      double related = plainCosine(a, c);
      assertThat(related).as("oracle, scale %s", scale).isGreaterThan(0.8);
      assertThat(new ArrayRealVector(widen(a)).cosine(new ArrayRealVector(widen(b))))
          .isCloseTo(independent, within(1e-12));
      assertThat(r.tensors().get(0).metric("cosine")).as("independent, scale %s", scale)
          .isCloseTo(independent, within(1e-6));
      assertThat(r.tensors().get(1).metric("cosine")).as("related, scale %s", scale)
          .isCloseTo(related, within(1e-6));
      assertThat(r.tensors().get(0).nonFinite()).isZero();
    }
  }

  @Test
  void aTensorComparedWithItselfHasCosineExactlyOne() {
    for (double scale : new double[] {1e-30, 1e-3, 1, 3e17}) {
      for (long seed = 1; seed <= 6; seed++) {
        float[] a = gaussian(seed, scale);
        DiffReport r = diff(new float[][] {a}, new float[][] {a.clone()});
        TensorDiff t = r.tensors().get(0);
        assertThat(t.metric("cosine")).as("scale %s seed %d", scale, seed).isEqualTo(1.0);
        assertThat(t.metric("relative_change")).isEqualTo(0.0);
        assertThat(t.metric("row_cosine_min")).as("scale %s seed %d", scale, seed).isEqualTo(1.0);
      }
    }
    assertThat(PairStatistics.cosine(0.1 + 0.2, 0.1 + 0.2, 0.1 + 0.2)).isEqualTo(1.0);
  }

  @Test
  void nonFiniteTensorsHaveNoCosineAndDoNotCountTowardsLineage() {
    float[] a = gaussian(3, 0.02);
    float[] nan = new float[a.length];
    Arrays.fill(nan, Float.NaN);
    float[] inf = new float[a.length];
    Arrays.fill(inf, Float.POSITIVE_INFINITY);
    float[] someNan = a.clone();
    someNan[17] = Float.NaN;
    float[] x = gaussian(4, 0.02);
    float[] y = gaussian(5, 0.02);
    // Layers 0-2 on the target side are broken, layer 3 is an unrelated matrix: before the rule an
    // all-NaN or all-Inf side came out "cosine 1" and made the pair look like a fine-tune.
    DiffReport r = diff(new float[][] {a, a, a, x}, new float[][] {nan, inf, someNan, y});
    for (int i = 0; i < 3; i++) {
      TensorDiff t = r.tensors().get(i);
      assertThat(t.metric("cosine")).as(t.name()).isNaN();
      assertThat(t.metric("relative_change")).as(t.name()).isNaN();
    }
    assertThat(r.tensors().get(0).nonFinite()).isEqualTo((long) ROWS * COLS);
    assertThat(r.tensors().get(1).nonFinite()).isEqualTo((long) ROWS * COLS);
    assertThat(r.tensors().get(2).nonFinite()).isEqualTo(1);
    assertThat(r.tensors().get(3).metric("cosine")).isCloseTo(plainCosine(x, y), within(1e-6));
    // The verdict rests on the one finite matrix, whose cosine is near 0.
    assertThat(r.lineage().matrices()).isEqualTo(1);
    assertThat(r.lineage().similarShare()).isZero();
    // Groups hold only the finite tensor's sums: the overall cosine is its cosine.
    double overall = r.overall().metric("cosine");
    assertThat(overall).isCloseTo(plainCosine(x, y), within(1e-6));
    String md = r.render(ReportFormat.MARKDOWN);
    assertThat(md).contains("3 tensors hold NaN or infinite values");
  }
}
