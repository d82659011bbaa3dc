package io.crosscoder.cpu.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.backend.DeviceBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code sum} and {@code sumOfSquares} give the same bits whatever the thread count, so a training
 * run resumed on a machine with other cores (or another CPU quota) continues bit for bit; and the
 * value is the f64 sum of the elements (a plain loop here) to the accuracy of f32 blocks of 4096 (1e-4 relative here).
 */
class ReductionThreadCountTest {
  @ParameterizedTest(name = "vector {0}")
  @ValueSource(booleans = {true, false})
  void fullSumsDoNotDependOnTheThreadCount(boolean vector) {
    // Sizes past several threads' grains, with a tail that is not a whole block.
    int n = (1 << 19) + 4097;
    float[] x = new float[n];
    SplittableRandom r = new SplittableRandom(11);
    double plain = 0;
    double plainSquares = 0;
    for (int i = 0; i < n; i++) {
      x[i] = (float) (r.nextGaussian() * Math.exp(r.nextDouble(-6, 6)));
      plain += x[i];
      plainSquares += (double) x[i] * x[i];
    }
    double sum1;
    double squares1;
    try (CpuKernels one = new CpuKernels(1, vector); DeviceBuffer b = one.upload(x)) {
      sum1 = one.sum(b);
      squares1 = one.sumOfSquares(b);
    }
    assertThat(squares1).isCloseTo(plainSquares, within(1e-4 * plainSquares));
    assertThat(sum1).isCloseTo(plain, within(1e-4 * plainSquares / Math.sqrt(n)));
    for (int threads = 2; threads <= 7; threads++) {
      try (CpuKernels k = new CpuKernels(threads, vector); DeviceBuffer b = k.upload(x)) {
        assertThat(Double.doubleToRawLongBits(k.sum(b))).as("sum, %d threads", threads)
            .isEqualTo(Double.doubleToRawLongBits(sum1));
        assertThat(Double.doubleToRawLongBits(k.sumOfSquares(b))).as("sum of squares, %d threads", threads)
            .isEqualTo(Double.doubleToRawLongBits(squares1));
      }
    }
  }
}
