package io.crosscoder.cuda.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The host half of the GPU's BatchTopK (the radix-select loop of {@link
 * CudaKernels#thresholdKey}) driven by a host model of the histogram kernel, written from the
 * contract: the keys at or above the threshold must be exactly the {@code keep} largest scores in
 * {@link Float#compare} order with ties to the lower position, and the threshold's score the
 * smallest kept one. Runs without a GPU.
 */
class BatchTopKSelectTest {
  /** The contract's key: the score's order in the high half, the complement of the position in the low half. */
  private static long key(float score, long position) {
    int u = Float.floatToIntBits(score);
    int ord = u < 0 ? ~u : u | 0x80000000;
    return (Integer.toUnsignedLong(ord) << 32) | (0xffffffffL - position);
  }

  /** {@code cc_radix_histogram} on the host. */
  private static int[] histogram(float[] scores, long prefix, int shift) {
    int[] hist = new int[256];
    for (int i = 0; i < scores.length; i++) {
      long k = key(scores[i], i);
      if (shift == 56 || (k >>> (shift + 8)) == (prefix >>> (shift + 8))) {
        hist[(int) ((k >>> shift) & 255)]++;
      }
    }
    return hist;
  }

  @ParameterizedTest(name = "n={0}")
  @ValueSource(ints = {1, 2, 7, 129, 5000})
  void keepsExactlyTheLargestWithTiesToTheLowerPosition(int n) {
    Random r = new Random(n);
    float[][] cases = new float[3][n];
    for (int i = 0; i < n; i++) {
      cases[0][i] = r.nextInt(4) * 0.5f; // few values: ties everywhere
      cases[1][i] = r.nextFloat() * 2 - 1; // distinct
      float[] special = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1f, -1f};
      cases[2][i] = special[r.nextInt(special.length)];
    }
    for (float[] scores : cases) {
      Integer[] order = IntStream.range(0, n).boxed().toArray(Integer[]::new);
      Arrays.sort(order, Comparator.<Integer, Float>comparing(i -> scores[i], Comparator.reverseOrder())
          .thenComparingInt(i -> i));
      for (long keep : new long[] {1, n / 3 + 1, n - 1, n}) {
        if (keep < 1) {
          continue;
        }
        long threshold = CudaKernels.thresholdKey(keep, (p, shift) -> histogram(scores, p, shift));
        boolean[] want = new boolean[n];
        for (int t = 0; t < keep; t++) {
          want[order[t]] = true;
        }
        for (int i = 0; i < n; i++) {
          boolean kept = Long.compareUnsigned(key(scores[i], i), threshold) >= 0;
          assertThat(kept).as("element %d (score %s), keep %d of %d", i, scores[i], keep, n).isEqualTo(want[i]);
        }
        float smallest = scores[order[(int) keep - 1]];
        assertThat(Float.floatToIntBits(CudaKernels.decodeOrderedFloat((int) (threshold >>> 32))))
            .as("smallest kept score, keep %d", keep).isEqualTo(Float.floatToIntBits(smallest));
      }
    }
  }
}
