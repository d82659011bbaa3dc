package io.crosscoder.io.lora;

import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A base weight with a LoRA update added on read: element {@code (i, j)} is {@code W[i, j] + scale
 * sum_k B[i, k] A[k, j]} ({@code B[j, k] A[k, i]} for a {@linkplain LoraModule#transposed()
 * transposed} update), the sum over the rank taken in f64 and the result rounded once to f32. Nothing
 * is materialised: each read reads the base's elements, the needed row of {@code B} and the needed
 * columns of {@code A} from their mapped files, so memory stays {@code O(rank x length)} per read
 * whatever the model size, and each element costs {@code rank} multiply-adds.
 *
 * <p>Not {@linkplain #isPlainFloat() plain}: backends read it through {@link #readFloats}. {@link
 * #data()} and {@link #dtype()} are the base's (the bytes a pass reads from the files are the base's
 * and the small factors); {@link #storageType()} says {@code "BF16+LoRA(r=8)"}. Immutable and
 * thread-safe; valid while the base checkpoint and the adapter are open.
 */
final class LoraMergedView implements TensorView {
  private final TensorView base;
  private final LoraModule lora;
  private final long rows;
  private final long columns;

  LoraMergedView(TensorView base, LoraModule lora) {
    this.base = Objects.requireNonNull(base, "base");
    this.lora = Objects.requireNonNull(lora, "lora");
    long[] s = base.shape();
    this.rows = s[0];
    this.columns = s[1];
  }

  /** The module whose update this view adds. */
  LoraModule module() {
    return lora;
  }

  @Override
  public String name() {
    return base.name();
  }

  @Override
  public DType dtype() {
    return base.dtype();
  }

  @Override
  public long[] shape() {
    return base.shape();
  }

  @Override
  public MemorySegment data() {
    return base.data();
  }

  @Override
  public Path source() {
    return lora.a().source();
  }

  @Override
  public String storageType() {
    return base.storageType() + "+LoRA(r=" + lora.rank() + ")";
  }

  @Override
  public boolean isPlainFloat() {
    return false;
  }

  @Override
  public void readFloats(long index, float[] dst, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, dst.length);
    if (index < 0 || index > rows * columns - length) {
      throw new IndexOutOfBoundsException(name() + ": elements [" + index + ", " + (index + length)
          + ") are outside the " + rows * columns + " of shape " + TensorView.formatShape(shape()));
    }
    base.readFloats(index, dst, offset, length);
    int r = lora.rank();
    float[] coefficient = new float[r];
    while (length > 0) {
      long row = index / columns;
      int col = (int) (index % columns);
      int n = (int) Math.min(length, columns - col);
      double[] acc = new double[n];
      if (!lora.transposed()) {
        // Delta[row, col..] = sum_k B[row, k] A[k, col..]: a row of B, then rows of A in turn.
        lora.b().readFloats(row * r, coefficient, 0, r);
        float[] aRow = new float[n];
        for (int k = 0; k < r; k++) {
          lora.a().readFloats(k * columns + col, aRow, 0, n);
          double c = coefficient[k];
          for (int j = 0; j < n; j++) {
            acc[j] += c * aRow[j];
          }
        }
      } else {
        // Delta[row, col..] = sum_k A[k, row] B[col.., k]: a column of A, then rows of B.
        for (int k = 0; k < r; k++) {
          lora.a().readFloats(k * rows + row, coefficient, k, 1);
        }
        float[] bRows = new float[n * r];
        lora.b().readFloats((long) col * r, bRows, 0, n * r);
        for (int j = 0; j < n; j++) {
          double s = 0;
          for (int k = 0; k < r; k++) {
            s += (double) coefficient[k] * bRows[j * r + k];
          }
          acc[j] = s;
        }
      }
      double scale = lora.scale();
      for (int j = 0; j < n; j++) {
        dst[offset + j] = (float) (dst[offset + j] + scale * acc[j]);
      }
      index += n;
      offset += n;
      length -= n;
    }
  }

  @Override
  public String toString() {
    return name() + " " + storageType() + TensorView.formatShape(shape());
  }
}
