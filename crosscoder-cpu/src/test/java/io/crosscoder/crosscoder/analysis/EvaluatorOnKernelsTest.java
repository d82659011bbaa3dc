package io.crosscoder.crosscoder.analysis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.crosscoder.cpu.kernels.CpuKernels;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.CrosscoderConfig;
import io.crosscoder.crosscoder.Sparsity;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The evaluator on CPU kernels (f32 products) agrees with its plain f64 loops. */
class EvaluatorOnKernelsTest {
  @Test
  void kernelProductsGiveTheSameEvaluationAndCodesAsThePlainLoops() {
    int d = 24;
    int f = 96;
    SplittableRandom rnd = new SplittableRandom(3);
    float[] wEnc = new float[2 * d * f];
    float[] wDec = new float[2 * d * f];
    float[] bEnc = new float[f];
    float[] bDec = new float[2 * d];
    for (int i = 0; i < wEnc.length; i++) {
      wEnc[i] = (float) (rnd.nextDouble() - 0.5) * 0.3f;
      wDec[i] = (float) (rnd.nextDouble() - 0.5) * 0.3f;
    }
    for (int i = 0; i < f; i++) {
      bEnc[i] = (float) (rnd.nextDouble() - 0.7) * 0.2f;
    }
    for (int i = 0; i < 2 * d; i++) {
      bDec[i] = (float) rnd.nextDouble();
    }
    int rows = 300;
    float[] a = new float[rows * d];
    float[] b = new float[rows * d];
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) rnd.nextDouble() * 2 - 1;
      b[i] = (float) rnd.nextDouble() * 2 - 1;
    }
    for (Sparsity s : new Sparsity[] {Sparsity.l1(1), Sparsity.batchTopK(4, 0.05)}) {
      Crosscoder c = Crosscoder.of(CrosscoderConfig.l1(d, f, 1).withSparsity(s), wEnc, wDec, bEnc, bDec);
      int[] scaled = {0, 5, 17};
      CrosscoderEvaluator plain = new CrosscoderEvaluator(c, scaled);
      long[] plainNonZero = {0};
      float[][] plainCodes = new float[1][];
      plain.add(new ActivationBatch(rows, d, a, b), (n, codes) -> plainCodes[0] = codes.clone());
      try (CpuKernels k = new CpuKernels(2, true); CrosscoderEvaluator fast = new CrosscoderEvaluator(c, scaled, k)) {
        float[][] fastCodes = new float[1][];
        // Two batches, so that buffers are reused and grown.
        fast.add(new ActivationBatch(100, d, a, b), (n, codes) -> fastCodes[0] = codes.clone());
        float[] tailA = java.util.Arrays.copyOfRange(a, 100 * d, rows * d);
        float[] tailB = java.util.Arrays.copyOfRange(b, 100 * d, rows * d);
        float[][] tail = new float[1][];
        fast.add(new ActivationBatch(200, d, tailA, tailB), (n, codes) -> tail[0] = codes.clone());
        int differ = 0;
        for (int i = 0; i < 100 * f; i++) {
          assertThat(fastCodes[0][i]).isCloseTo(plainCodes[0][i], within(1e-4f));
          plainNonZero[0] += plainCodes[0][i] != 0 ? 1 : 0;
        }
        for (int i = 0; i < 200 * f; i++) {
          float p = plainCodes[0][100 * f + i];
          float q = tail[0][i];
          // A code at the threshold may flip; count, do not fail, on such rare ties.
          if ((p == 0) != (q == 0)) {
            differ++;
          } else {
            assertThat(q).isCloseTo(p, within(1e-4f));
          }
        }
        assertThat(differ).isLessThanOrEqualTo(2);
        CrosscoderEvaluation e = fast.result();
        CrosscoderEvaluation g = plain.result();
        assertThat(e.tokens()).isEqualTo(rows);
        assertThat(e.explainedVarianceA()).isCloseTo(g.explainedVarianceA(), within(1e-5));
        assertThat(e.explainedVarianceB()).isCloseTo(g.explainedVarianceB(), within(1e-5));
        assertThat(e.meanL0()).isCloseTo(g.meanL0(), within(0.02));
        for (int k2 = 0; k2 < scaled.length; k2++) {
          assertThat(e.scales().get(k2).nuRec()).isCloseTo(g.scales().get(k2).nuRec(), within(1e-3));
        }
      }
      assertThat(plainNonZero[0]).isGreaterThan(100);
    }
  }
}
