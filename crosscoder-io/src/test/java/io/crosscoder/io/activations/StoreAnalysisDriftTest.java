package io.crosscoder.io.activations;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.crosscoder.ActivationBatch;
import java.util.SplittableRandom;
import org.apache.commons.math3.linear.ArrayRealVector;
import org.junit.jupiter.api.Test;

class StoreAnalysisDriftTest {
  @Test
  void meanRelativeDifferenceAndCosineMatchCommonsMathPerRow() {
    int d = 37;
    int rows = 50;
    SplittableRandom rnd = new SplittableRandom(11);
    float[] a = new float[rows * d];
    float[] b = new float[rows * d];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) rnd.nextGaussian();
      b[i] = a[i] * 0.9f + (float) (0.3 * rnd.nextGaussian());
    }
    // Row 7 is zero on the base side: skipped, as its relative difference is undefined.
    for (int j = 0; j < d; j++) {
      a[7 * d + j] = 0;
    }
    double rel = 0;
    double cos = 0;
    int counted = 0;
    for (int r = 0; r < rows; r++) {
      double[] x = new double[d];
      double[] y = new double[d];
      for (int j = 0; j < d; j++) {
        x[j] = a[r * d + j];
        y[j] = b[r * d + j];
      }
      ArrayRealVector vx = new ArrayRealVector(x);
      ArrayRealVector vy = new ArrayRealVector(y);
      if (vx.getNorm() == 0) {
        continue;
      }
      counted++;
      rel += vy.getDistance(vx) / vx.getNorm();
      cos += vx.cosine(vy);
    }
    StoreAnalysis.Drift drift = new StoreAnalysis.Drift();
    // In two parts, as the analysis feeds it chunk by chunk.
    drift.add(new ActivationBatch(20, d, java.util.Arrays.copyOf(a, 20 * d), java.util.Arrays.copyOf(b, 20 * d)));
    drift.add(new ActivationBatch(30, d, java.util.Arrays.copyOfRange(a, 20 * d, rows * d),
        java.util.Arrays.copyOfRange(b, 20 * d, rows * d)));
    assertThat(drift.tokens()).isEqualTo(counted).isEqualTo(rows - 1);
    assertThat(drift.meanRelativeDifference()).isCloseTo(rel / counted, within(1e-12));
    assertThat(drift.meanCosine()).isCloseTo(cos / counted, within(1e-12));
    assertThat(drift.sentence("resid_post 3")).contains("resid_post 3")
        .contains(String.format(java.util.Locale.ROOT, "%.3f", rel / counted));
  }

  @Test
  void identicalActivationsHaveNoDifferenceAndCosineOne() {
    float[] a = {1, 2, 3, -4, 0.5f, 6};
    StoreAnalysis.Drift drift = new StoreAnalysis.Drift();
    drift.add(new ActivationBatch(2, 3, a, a.clone()));
    assertThat(drift.meanRelativeDifference()).isZero();
    assertThat(drift.meanCosine()).isCloseTo(1.0, within(1e-15));
    assertThat(new StoreAnalysis.Drift().meanCosine()).isNaN();
  }
}
