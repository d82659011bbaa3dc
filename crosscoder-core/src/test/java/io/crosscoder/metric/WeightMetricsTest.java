package io.crosscoder.metric;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.Random;
import org.apache.commons.math3.stat.descriptive.rank.Percentile;
import org.apache.commons.math3.stat.descriptive.rank.Percentile.EstimationType;
import org.junit.jupiter.api.Test;

class WeightMetricsTest {
  @Test
  void percentileMatchesCommonsMathR7() {
    Random rnd = new Random(7);
    for (int n : new int[] {1, 2, 3, 10, 101, 1000}) {
      double[] v = new double[n];
      for (int i = 0; i < n; i++) {
        v[i] = rnd.nextGaussian();
      }
      double[] sorted = v.clone();
      Arrays.sort(sorted);
      double expected = new Percentile().withEstimationType(EstimationType.R_7).evaluate(v, 5);
      assertThat(WeightMetrics.percentile(sorted, 0.05)).isCloseTo(expected, within(1e-12));
    }
  }

  @Test
  void cosineAndRelativeChangeFromSumsWithZeroNormRules() {
    // A = (3, 4), B = (4, 3): dot 24, |A|^2 = |B|^2 = 25, |B-A|^2 = 2.
    PairStatistics s = new PairStatistics(2, 24, 25, 25, 2, 1, 2, 0, null);
    assertThat(WeightMetrics.COSINE.compute(s)).isCloseTo(24.0 / 25.0, within(1e-15));
    assertThat(WeightMetrics.RELATIVE_CHANGE.compute(s)).isCloseTo(Math.sqrt(2) / 5, within(1e-15));
    assertThat(WeightMetrics.CHANGED_FRACTION.compute(s)).isEqualTo(1.0);
    PairStatistics zeros = new PairStatistics(4, 0, 0, 0, 0, 0, 0, 0, null);
    assertThat(zeros.cosine()).isEqualTo(1.0);
    assertThat(zeros.relativeChange()).isEqualTo(0.0);
    PairStatistics grownFromZero = new PairStatistics(4, 0, 0, 9, 9, 3, 1, 0, null);
    assertThat(grownFromZero.cosine()).isEqualTo(0.0);
    assertThat(grownFromZero.relativeChange()).isEqualTo(Double.POSITIVE_INFINITY);
  }

  @Test
  void rowMetricsComeFromRowStatistics() {
    RowStatistics rows = new RowStatistics(3);
    rows.set(0, 1, 1, 1); // cosine 1
    rows.set(1, 0, 1, 1); // cosine 0
    rows.set(2, -1, 1, 1); // cosine -1
    PairStatistics s = PairStatistics.EMPTY.withRows(rows);
    assertThat(WeightMetrics.ROW_COSINE_MIN.compute(s)).isEqualTo(-1.0);
    assertThat(WeightMetrics.ROW_COSINE_MEAN.compute(s)).isEqualTo(0.0);
    assertThat(WeightMetrics.ROW_COSINE_P5.compute(s)).isCloseTo(-1 + 0.05 * 2 * 1, within(1e-12));
    assertThat(WeightMetrics.ROW_COSINE_MIN.compute(PairStatistics.EMPTY)).isNaN();
  }

  @Test
  void metricNamesAreChecked() {
    assertThatThrownBy(() -> WeightMetric.of("Bad Name", "x", s -> 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lower snake case");
  }

  @Test
  void lowestRowsAgreeWithAFullSort() {
    Random rnd = new Random(5);
    RowStatistics rows = new RowStatistics(500);
    Integer[] order = new Integer[500];
    for (int r = 0; r < 500; r++) {
      // a few exact ties: cosine 0 for every row divisible by 50
      // and NaN for every row divisible by 70 (ranked last)
      rows.set(r, r % 70 == 0 ? Double.NaN : r % 50 == 0 ? 0 : rnd.nextGaussian(), 1, 1);
      order[r] = r;
    }
    Arrays.sort(order, (a, b) -> {
      int c = Double.compare(rows.cosine(a), rows.cosine(b));
      return c != 0 ? c : Integer.compare(a, b);
    });
    int[] lowest = rows.lowestRows(12);
    for (int i = 0; i < 12; i++) {
      assertThat(lowest[i]).isEqualTo(order[i]);
    }
    int[] all = rows.lowestRows(1000);
    assertThat(all).hasSize(500);
    for (int i = 0; i < 500; i++) {
      assertThat(all[i]).as("rank %d", i).isEqualTo(order[i]);
    }
    assertThat(Double.isNaN(rows.cosine(all[499]))).isTrue();
    assertThat(rows.lowestRows(0)).isEmpty();
  }
}
