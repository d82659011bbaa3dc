package io.crosscoder.io.synthetic;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.io.safetensors.SafetensorsFormat;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticPairTest {
  @TempDir Path dir;

  /**
   * An untied output head lies outside the layers, where no change is planted: the target's head
   * is the base's, element for element (it was once written as NaN).
   */
  @Test
  void untiedHeadIsTheBasesInTheTarget() {
    var shape = new SyntheticPair.Shape("untied", 64, 128, 2, 256, 4, 2, false);
    SyntheticPair.Pair pair = SyntheticPair.write(dir, shape, DType.F32, 5);
    try (Checkpoint base = new SafetensorsFormat().open(pair.base());
        Checkpoint target = new SafetensorsFormat().open(pair.target())) {
      TensorView a = base.tensor("lm_head.weight");
      TensorView b = target.tensor("lm_head.weight");
      assertThat(a.shape()).containsExactly(256, 64);
      double sumSquares = 0;
      for (long i = 0; i < 256 * 64; i++) {
        float x = a.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
        float y = b.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
        assertThat(y).as("element %d", i).isEqualTo(x);
        sumSquares += (double) x * x;
      }
      // Drawn with the weights' spread, not zeros: rms within 20% of WEIGHT_STD.
      assertThat(Math.sqrt(sumSquares / (256 * 64))).isBetween(0.8 * SyntheticPair.WEIGHT_STD, 1.2 * SyntheticPair.WEIGHT_STD);
    }
  }
}
