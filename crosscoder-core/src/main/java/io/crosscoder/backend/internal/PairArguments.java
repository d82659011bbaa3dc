package io.crosscoder.backend.internal;

import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.tensor.TensorView;
import java.util.Arrays;
import java.util.Objects;

/**
 * The argument checks of {@link ComputeBackend#pairStatistics}, shared by every backend so that
 * each refuses the same calls with the same messages, naming the tensor and its file.
 */
public final class PairArguments {
  private PairArguments() {}

  /**
   * Checks that the views have equal shapes, that {@code [rowFrom, rowTo)} lies inside their rows,
   * that {@code rows} (when not null) has room for the range, and that views the backends read
   * directly ({@link TensorView#isPlainFloat()}) hold all the bytes their shape needs.
   *
   * @throws IllegalArgumentException naming the tensor otherwise
   */
  public static void check(TensorView base, TensorView target, long rowFrom, long rowTo, RowStatistics rows) {
    Objects.requireNonNull(base, "base");
    Objects.requireNonNull(target, "target");
    long[] shape = base.shape();
    if (!Arrays.equals(shape, target.shape())) {
      throw new IllegalArgumentException("base " + describe(base) + " and target " + describe(target)
          + " differ in shape: " + TensorView.formatShape(shape) + " vs " + TensorView.formatShape(target.shape()));
    }
    long rowCount = base.rows();
    if (rowFrom < 0 || rowFrom > rowTo || rowTo > rowCount) {
      throw new IllegalArgumentException(describe(base) + ": row range [" + rowFrom + ", " + rowTo
          + ") is not inside the " + rowCount + " rows of shape " + TensorView.formatShape(shape));
    }
    if (rows != null && rows.rows() < rowTo) {
      throw new IllegalArgumentException(describe(base) + ": row statistics hold " + rows.rows()
          + " rows but rows up to " + rowTo + " were asked for");
    }
    for (TensorView v : new TensorView[] {base, target}) {
      if (v.isPlainFloat()) {
        long needed = Math.multiplyExact(v.elementCount(), (long) v.dtype().byteSize());
        if (v.data().byteSize() < needed) {
          throw new IllegalArgumentException(describe(v) + ": shape " + TensorView.formatShape(v.shape()) + " of "
              + v.dtype() + " needs " + needed + " bytes but the data has " + v.data().byteSize());
        }
      }
    }
  }

  /** The tensor's name and, when known, its file: {@code "w in /models/a.safetensors"}. */
  public static String describe(TensorView v) {
    return v.name() + (v.source() != null ? " in " + v.source() : "");
  }
}
