package io.crosscoder.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.ModelDiffer;
import io.crosscoder.tensor.DType;
import io.crosscoder.testing.InMemoryCheckpoint;
import io.crosscoder.testing.ReferenceBackend;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * A matrix's rows in the report (how many fall below {@link DiffReport#ROW_COSINE_THRESHOLD},
 * and the lowest ten, ties to the lower row) against a plain f64 computation of every row's cosine
 * written here, on matrices whose rows were changed by known amounts, with zero rows on one or
 * both sides and ties.
 */
class RowsBelowAndLowestTest {
  private static final int ROWS = 700;
  private static final int COLUMNS = 24;

  @Test
  void rowsBelowTheThresholdAndTheLowestRowsMatchAPlainComputation() {
    SplittableRandom random = new SplittableRandom(77);
    float[] base = new float[ROWS * COLUMNS];
    float[] target = new float[ROWS * COLUMNS];
    for (int r = 0; r < ROWS; r++) {
      // Most rows barely move, some move a lot, some are zero on one or both sides, and rows
      // 600-611 are identical copies of one changed row (tied cosines).
      double noise = r % 7 == 0 ? 1.5 : r % 11 == 0 ? 0.45 : 0.02;
      for (int c = 0; c < COLUMNS; c++) {
        int i = r * COLUMNS + c;
        base[i] = (float) random.nextGaussian();
        target[i] = (float) (base[i] + noise * random.nextGaussian());
      }
    }
    for (int r = 600; r < 612; r++) {
      System.arraycopy(base, 599 * COLUMNS, base, r * COLUMNS, COLUMNS);
      System.arraycopy(target, 599 * COLUMNS, target, r * COLUMNS, COLUMNS);
    }
    Arrays.fill(base, 13 * COLUMNS, 14 * COLUMNS, 0f); // base zero: cosine 0
    Arrays.fill(target, 20 * COLUMNS, 21 * COLUMNS, 0f); // target zero: cosine 0
    Arrays.fill(base, 30 * COLUMNS, 31 * COLUMNS, 0f);
    Arrays.fill(target, 30 * COLUMNS, 31 * COLUMNS, 0f); // both zero: cosine 1

    TensorDiff t = compare(base, target);

    double[] cosines = new double[ROWS];
    for (int r = 0; r < ROWS; r++) {
      double dot = 0;
      double aa = 0;
      double bb = 0;
      for (int c = 0; c < COLUMNS; c++) {
        double a = base[r * COLUMNS + c];
        double b = target[r * COLUMNS + c];
        dot += a * b;
        aa += a * a;
        bb += b * b;
      }
      cosines[r] = aa == 0 && bb == 0 ? 1 : aa == 0 || bb == 0 ? 0 : dot / Math.sqrt(aa) / Math.sqrt(bb);
    }
    long below = Arrays.stream(cosines).filter(c -> c < DiffReport.ROW_COSINE_THRESHOLD).count();
    assertThat(below).as("the matrix must have rows on both sides of the threshold").isBetween(50L, 650L);
    List<Integer> lowest = IntStream.range(0, ROWS).boxed()
        .sorted(Comparator.<Integer>comparingDouble(r -> cosines[r]).thenComparingInt(r -> r))
        .limit(10).toList();

    assertThat(t.rowsCompared()).isEqualTo(ROWS);
    assertThat(t.rowsBelowThreshold()).isEqualTo((int) below);
    List<Long> rows = new ArrayList<>();
    for (TensorDiff.RowChange c : t.lowestRows()) {
      rows.add(c.row());
      assertThat(c.cosine()).as("row %d", c.row()).isCloseTo(cosines[(int) c.row()], within(1e-12));
    }
    assertThat(rows).containsExactlyElementsOf(lowest.stream().map(Integer::longValue).toList());
  }

  private static TensorDiff compare(float[] base, float[] target) {
    try (var b = new InMemoryCheckpoint("base"); var t = new InMemoryCheckpoint("target")) {
      b.add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {ROWS, COLUMNS}, base);
      t.add("model.layers.0.mlp.up_proj.weight", DType.F32, new long[] {ROWS, COLUMNS}, target);
      DiffReport report = ModelDiffer.builder().backend(new ReferenceBackend()).threads(2).build().compare(b, t);
      return report.tensors().get(0);
    }
  }
}
