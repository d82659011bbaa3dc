package io.crosscoder.cuda.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The host's decoding of the kernels' order key (the threshold BatchTopK returns), against the
 * encoding the kernels use, written out here from the contract, and against {@link Float#compare}.
 */
class OrderedFloatTest {
  /** The contract's encoding: NaN canonicalised, then sign-magnitude to an unsigned order. */
  private static int ord(float f) {
    int u = Float.floatToIntBits(f);
    return u < 0 ? ~u : u | 0x80000000;
  }

  @Test
  void decodesEveryKindOfFloat() {
    float[] values = {0f, -0f, 1f, -1f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE,
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0x1p-130f, 3.1415927f};
    for (float v : values) {
      assertThat(Float.floatToRawIntBits(CudaKernels.decodeOrderedFloat(ord(v)))).as("%s", v)
          .isEqualTo(Float.floatToRawIntBits(v));
    }
    assertThat(CudaKernels.decodeOrderedFloat(ord(Float.intBitsToFloat(0x7fc01234)))).isNaN();
  }

  @Test
  void unsignedOrderOfKeysIsFloatCompareOrder() {
    Random r = new Random(5);
    for (int i = 0; i < 100_000; i++) {
      float a = Float.intBitsToFloat(r.nextInt());
      float b = i % 3 == 0 ? -a : Float.intBitsToFloat(r.nextInt());
      int byKey = Integer.compareUnsigned(ord(a), ord(b));
      assertThat(Integer.signum(byKey)).as("%s vs %s", a, b).isEqualTo(Integer.signum(Float.compare(a, b)));
    }
  }
}
