package io.crosscoder.crosscoder.analysis;

import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.Kernels;
import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.tensor.DType;

/**
 * Encoding and decoding of normalised batches for {@link CrosscoderEvaluator}: the plain f64
 * loops of {@link Crosscoder}, or matrix products on a backend's {@link Kernels}.
 */
sealed interface CodeBatches extends AutoCloseable permits CodeBatches.Plain, CodeBatches.OnKernels {
  /** {@code codes = f(xA, xB)} for {@code rows} rows. */
  void encode(int rows, float[] xA, float[] xB, float[] codes);

  /** {@code outA, outB = x^(codes)} for {@code rows} rows. */
  void decode(int rows, float[] codes, float[] outA, float[] outB);

  @Override
  void close();

  /** {@link Crosscoder#encodeBatch} and {@link Crosscoder#decodeBatch}. */
  record Plain(Crosscoder coder) implements CodeBatches {
    @Override
    public void encode(int rows, float[] xA, float[] xB, float[] codes) {
      coder.encodeBatch(rows, xA, xB, codes);
    }

    @Override
    public void decode(int rows, float[] codes, float[] outA, float[] outB) {
      coder.decodeBatch(rows, codes, outA, outB);
    }

    @Override
    public void close() {}
  }

  /**
   * The same on {@link Kernels}: {@code [xA | xB] . W_enc} ({@code rows x 2d} by {@code 2d x F}),
   * bias and ReLU, then the BatchTopK threshold on the host; {@code codes . W_dec} ({@code rows x
   * F} by {@code F x 2d}) plus the decoder bias. Buffers grow to the largest batch seen.
   */
  final class OnKernels implements CodeBatches {
    private final Kernels k;
    private final int d;
    private final int f;
    private final DeviceBuffer wEnc;
    private final DeviceBuffer bEnc;
    private final DeviceBuffer wDec;
    private final float[] bDec;
    private final double threshold;
    private final double[] scoreScale;
    private DeviceBuffer x;
    private DeviceBuffer c;
    private DeviceBuffer y;
    private int capacity;

    OnKernels(Crosscoder coder, Kernels kernels) {
      this.k = kernels;
      this.d = coder.d();
      this.f = coder.dictionarySize();
      this.wEnc = kernels.upload(coder.encoderWeights());
      this.bEnc = kernels.upload(coder.encoderBias());
      this.wDec = kernels.upload(coder.decoderWeights());
      this.bDec = coder.decoderBias();
      this.threshold = coder.config().sparsity() instanceof Sparsity.BatchTopK b ? b.threshold() : -1;
      double[] na = coder.decoderNorms(0);
      double[] nb = coder.decoderNorms(1);
      this.scoreScale = new double[f];
      for (int i = 0; i < f; i++) {
        scoreScale[i] = na[i] + nb[i];
      }
    }

    private void ensure(int rows) {
      if (rows <= capacity) {
        return;
      }
      closeBatchBuffers();
      x = k.allocate(DType.F32, (long) rows * 2 * d);
      c = k.allocate(DType.F32, (long) rows * f);
      y = k.allocate(DType.F32, (long) rows * 2 * d);
      capacity = rows;
    }

    @Override
    public void encode(int rows, float[] xA, float[] xB, float[] codes) {
      if (rows == 0) {
        return;
      }
      ensure(rows);
      float[] joined = new float[rows * 2 * d];
      for (int r = 0; r < rows; r++) {
        System.arraycopy(xA, r * d, joined, r * 2 * d, d);
        System.arraycopy(xB, r * d, joined, r * 2 * d + d, d);
      }
      k.upload(joined, 0, x, 0, joined.length);
      DeviceBuffer cs = c.slice(0, (long) rows * f);
      k.sgemm(false, false, rows, f, 2 * d, 1f, x, 2 * d, wEnc, f, 0f, cs, f);
      k.biasAdd(cs, bEnc, cs, rows, f, true);
      k.download(cs, 0, codes, 0, rows * f);
      if (threshold >= 0) {
        for (int r = 0; r < rows; r++) {
          for (int i = 0; i < f; i++) {
            int o = r * f + i;
            if (!(codes[o] * scoreScale[i] > threshold)) {
              codes[o] = 0;
            }
          }
        }
      }
    }

    @Override
    public void decode(int rows, float[] codes, float[] outA, float[] outB) {
      if (rows == 0) {
        return;
      }
      ensure(rows);
      DeviceBuffer cs = c.slice(0, (long) rows * f);
      k.upload(codes, 0, cs, 0, rows * f);
      k.sgemm(false, false, rows, 2 * d, f, 1f, cs, f, wDec, 2 * d, 0f, y, 2 * d);
      float[] joined = new float[rows * 2 * d];
      k.download(y, 0, joined, 0, joined.length);
      for (int r = 0; r < rows; r++) {
        for (int j = 0; j < d; j++) {
          outA[r * d + j] = joined[r * 2 * d + j] + bDec[j];
          outB[r * d + j] = joined[r * 2 * d + d + j] + bDec[d + j];
        }
      }
    }

    private void closeBatchBuffers() {
      for (DeviceBuffer b : new DeviceBuffer[] {x, c, y}) {
        if (b != null) {
          b.close();
        }
      }
    }

    @Override
    public void close() {
      closeBatchBuffers();
      capacity = 0;
      x = c = y = null;
      wEnc.close();
      bEnc.close();
      wDec.close();
    }
  }
}
