package io.crosscoder.backend.internal;

import io.crosscoder.backend.Kernels;
import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.tensor.DType;
import java.util.Arrays;
import java.util.Objects;

/**
 * The argument checks of the {@link Kernels} contract, shared by every implementation so that
 * each refuses the same calls with the same messages, before it touches any memory. The checks
 * that read index arrays (sparse rows) stay with the implementations, which read them where the
 * memory is.
 */
public final class KernelArguments {
  private KernelArguments() {}

  /**
   * {@code b} as the implementation's buffer type, after checking that {@code owner} allocated
   * it, that it is open and that its type is one of {@code types}.
   *
   * @throws IllegalArgumentException naming {@code name} otherwise
   */
  public static <B extends ManagedBuffer> B buffer(DeviceBuffer b, String name, Kernels owner,
      Class<B> type, DType... types) {
    Objects.requireNonNull(b, name);
    if (!type.isInstance(b) || ((ManagedBuffer) b).owner() != owner) {
      throw new IllegalArgumentException(name + " was not allocated by these kernels: " + b);
    }
    B mb = type.cast(b);
    if (!mb.isOpen()) {
      throw new IllegalArgumentException(name + " is closed");
    }
    for (DType t : types) {
      if (mb.dtype() == t) {
        return mb;
      }
    }
    throw new IllegalArgumentException(name + " must be " + Arrays.toString(types) + ", not " + mb.dtype());
  }

  /** Checks an element type and size for {@link Kernels#allocate}. */
  public static void allocation(DType dtype, long size) {
    Objects.requireNonNull(dtype, "dtype");
    if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.I32) {
      throw new IllegalArgumentException("buffers hold F32, BF16 or I32, not " + dtype);
    }
    if (size < 0 || size > Long.MAX_VALUE / 8) {
      throw new IllegalArgumentException("buffer size must be non-negative, got " + size);
    }
  }

  /** {@code t} must be F32 or BF16 (the types of host segments in uploads and downloads). */
  public static void floatType(DType t, String name) {
    if (t != DType.F32 && t != DType.BF16) {
      throw new IllegalArgumentException(name + " must be F32 or BF16, not " + t);
    }
  }

  /** Elements {@code [offset, offset + count)} must lie inside {@code b}. */
  public static void range(ManagedBuffer b, String name, long offset, long count) {
    if (offset < 0 || count < 0 || offset > b.size() - count) {
      throw new IllegalArgumentException(name + " range [" + offset + ", " + offset + " + " + count
          + ") is outside a buffer of " + b.size() + " elements");
    }
  }

  /** {@code b} must have at least {@code needed} elements. */
  public static void atLeast(ManagedBuffer b, String name, long needed) {
    if (b.size() < needed) {
      throw new IllegalArgumentException(name + " has " + b.size() + " elements, needs " + needed);
    }
  }

  /** Both buffers must have the same number of elements. */
  public static void sameSize(ManagedBuffer a, String an, ManagedBuffer b, String bn) {
    if (a.size() != b.size()) {
      throw new IllegalArgumentException(an + " has " + a.size() + " elements but " + bn + " has " + b.size());
    }
  }

  /** {@code out} must be exactly {@code in} (in place) or share no element with it. */
  public static void inPlaceOrDisjoint(ManagedBuffer in, String name, ManagedBuffer out) {
    if (!in.sameStart(out) && in.overlaps(out)) {
      throw new IllegalArgumentException("out overlaps " + name + " without being the same elements");
    }
  }

  /** The buffers must share no element. */
  public static void disjoint(ManagedBuffer a, String an, ManagedBuffer b, String bn) {
    if (a.overlaps(b)) {
      throw new IllegalArgumentException(an + " must not overlap " + bn);
    }
  }

  /**
   * The checks of {@link Kernels#copy}: equal sizes, I32 only to I32, no partial overlap.
   *
   * @return whether the copy has nothing to do (the same elements and the same type)
   */
  public static boolean copy(ManagedBuffer src, ManagedBuffer dst) {
    sameSize(src, "src", dst, "dst");
    if ((src.dtype() == DType.I32) != (dst.dtype() == DType.I32)) {
      throw new IllegalArgumentException("I32 copies only to I32, not " + src.dtype() + " to " + dst.dtype());
    }
    if (src.sameStart(dst) && src.dtype() == dst.dtype()) {
      return true;
    }
    if (src.overlaps(dst)) {
      throw new IllegalArgumentException("src and dst overlap");
    }
    return false;
  }

  /** Matrix dimensions must be non-negative. */
  public static void matrix(int rows, int cols) {
    if (rows < 0 || cols < 0) {
      throw new IllegalArgumentException("dimensions must be non-negative: rows " + rows + ", cols " + cols);
    }
  }

  /** A leading dimension must be at least {@code max(1, cols)}. */
  public static void leading(String name, int ld, int cols) {
    if (ld < Math.max(1, cols)) {
      throw new IllegalArgumentException(name + " = " + ld + " is below max(1, " + cols + ")");
    }
  }

  /** The stored {@code rows x cols} matrix with leading dimension {@code ld} must fit in {@code b}. */
  public static void fits(ManagedBuffer b, String name, int rows, int cols, int ld) {
    if (rows == 0 || cols == 0) {
      return;
    }
    long needed = (long) (rows - 1) * ld + cols;
    if (b.size() < needed) {
      throw new IllegalArgumentException(name + " has " + b.size() + " elements but a " + rows + " x "
          + cols + " matrix with leading dimension " + ld + " needs " + needed);
    }
  }

  /**
   * The shape checks of {@link Kernels#sgemm}: non-negative dimensions, leading dimensions, the
   * stored operands fit their buffers, and C overlaps neither operand.
   */
  public static void sgemm(boolean transA, boolean transB, int m, int n, int k, ManagedBuffer a, int lda,
      ManagedBuffer b, int ldb, ManagedBuffer c, int ldc) {
    if (m < 0 || n < 0 || k < 0) {
      throw new IllegalArgumentException("dimensions must be non-negative: m " + m + ", n " + n + ", k " + k);
    }
    // Stored shapes: A is m x k (k x m when transposed), B is k x n (n x k when transposed).
    int aRows = transA ? k : m;
    int aCols = transA ? m : k;
    int bRows = transB ? n : k;
    int bCols = transB ? k : n;
    leading("lda", lda, aCols);
    leading("ldb", ldb, bCols);
    leading("ldc", ldc, n);
    fits(a, "a", aRows, aCols, lda);
    fits(b, "b", bRows, bCols, ldb);
    fits(c, "c", m, n, ldc);
    if (c.overlaps(a) || c.overlaps(b)) {
      throw new IllegalArgumentException("c must not overlap a or b");
    }
  }

  /** The size and overlap checks of {@link Kernels#spmm} (the index arrays are checked by the caller). */
  public static void spmm(boolean transS, int rows, int cols, int n, ManagedBuffer rowStart,
      ManagedBuffer dense, ManagedBuffer values, ManagedBuffer out) {
    if (rows < 0 || cols < 0 || n < 0) {
      throw new IllegalArgumentException("dimensions must be non-negative: rows " + rows + ", cols " + cols + ", n " + n);
    }
    atLeast(rowStart, "rowStart", rows + 1L);
    atLeast(dense, "dense", (long) (transS ? rows : cols) * n);
    atLeast(out, "out", (long) (transS ? cols : rows) * n);
    if (out.overlaps(dense) || out.overlaps(values)) {
      throw new IllegalArgumentException("out must not overlap dense or values");
    }
  }

  /** The size and overlap checks of {@link Kernels#sddmm} (the row starts and indices are the caller's to check). */
  public static void sddmm(int rows, int cols, int n, ManagedBuffer a, ManagedBuffer b, ManagedBuffer rowStart,
      ManagedBuffer out) {
    if (rows < 0 || cols < 0 || n < 0) {
      throw new IllegalArgumentException("dimensions must be non-negative: rows " + rows + ", cols " + cols + ", n " + n);
    }
    atLeast(a, "a", (long) rows * n);
    atLeast(b, "b", (long) cols * n);
    atLeast(rowStart, "rowStart", rows + 1L);
    if (out.overlaps(a) || out.overlaps(b) || out.overlaps(rowStart)) {
      throw new IllegalArgumentException("out must not overlap a, b or rowStart");
    }
  }

  /** The size and overlap checks of {@link Kernels#denseTransposedSparse}. */
  public static void denseTransposedSparse(int rows, int cols, int n, ManagedBuffer dense,
      ManagedBuffer rowStart, ManagedBuffer values, ManagedBuffer out) {
    if (rows < 0 || cols < 0 || n < 0) {
      throw new IllegalArgumentException("dimensions must be non-negative: rows " + rows + ", cols " + cols + ", n " + n);
    }
    atLeast(dense, "dense", (long) rows * n);
    atLeast(rowStart, "rowStart", rows + 1L);
    atLeast(out, "out", (long) n * cols);
    if (out.overlaps(dense) || out.overlaps(values)) {
      throw new IllegalArgumentException("out must not overlap dense or values");
    }
  }

  /** The size and overlap checks of {@link Kernels#denseToCsr}. */
  public static void denseToCsr(int rows, int cols, ManagedBuffer x, ManagedBuffer rowStart, ManagedBuffer values) {
    matrix(rows, cols);
    atLeast(x, "x", (long) rows * cols);
    atLeast(rowStart, "rowStart", rows + 1L);
    disjoint(values, "values", x, "x");
  }

  /** The size and overlap checks of {@link Kernels#csrToDense}. */
  public static void csrToDense(int rows, int cols, ManagedBuffer rowStart, ManagedBuffer colIndex,
      ManagedBuffer values, ManagedBuffer out) {
    matrix(rows, cols);
    atLeast(rowStart, "rowStart", rows + 1L);
    atLeast(out, "out", (long) rows * cols);
    if (out.overlaps(values) || out.overlaps(rowStart) || out.overlaps(colIndex)) {
      throw new IllegalArgumentException("out must not overlap rowStart, colIndex or values");
    }
  }

  /**
   * Checks the row starts of a sparse matrix in the form of {@link Kernels#spmm}, read to the host
   * ({@code rows + 1} elements): they start at 0, never decrease, and the non-zeros they count fit
   * {@code colIndex} and {@code values}.
   *
   * @return the number of non-zeros, {@code rowStart[rows]}
   */
  public static long rowStarts(int[] rowStart, int rows, long colIndexSize, long valuesSize) {
    int previous = rowStart[0];
    if (previous != 0) {
      throw new IllegalArgumentException("rowStart[0] must be 0, found " + previous);
    }
    for (int r = 1; r <= rows; r++) {
      int s = rowStart[r];
      if (s < previous) {
        throw new IllegalArgumentException("rowStart must not decrease: rowStart[" + (r - 1) + "] = "
            + previous + " > rowStart[" + r + "] = " + s);
      }
      previous = s;
    }
    long nnz = previous;
    if (nnz > colIndexSize || nnz > valuesSize) {
      throw new IllegalArgumentException("rowStart[rows] = " + nnz + " non-zeros but colIndex has "
          + colIndexSize + " and values " + valuesSize + " elements");
    }
    return nnz;
  }

  /** The checks of {@link Kernels#scaleColumns}. */
  public static void scaleColumns(int rows, int cols, ManagedBuffer x, ManagedBuffer scale, ManagedBuffer out) {
    matrix(rows, cols);
    atLeast(x, "x", (long) rows * cols);
    atLeast(scale, "scale", cols);
    atLeast(out, "out", (long) rows * cols);
    inPlaceOrDisjoint(x, "x", out);
  }

  /** The checks of {@link Kernels#biasAdd}. */
  public static void biasAdd(int rows, int cols, ManagedBuffer x, ManagedBuffer bias, ManagedBuffer out) {
    matrix(rows, cols);
    atLeast(x, "x", (long) rows * cols);
    atLeast(bias, "bias", cols);
    atLeast(out, "out", (long) rows * cols);
    inPlaceOrDisjoint(x, "x", out);
    disjoint(out, "out", bias, "bias");
  }

  /** The checks of {@link Kernels#rowNorms}. */
  public static void rowNorms(int rows, int cols, int ld, ManagedBuffer x, ManagedBuffer out) {
    matrix(rows, cols);
    leading("ld", ld, cols);
    fits(x, "x", rows, cols, ld);
    atLeast(out, "out", rows);
    disjoint(out, "out", x, "x");
  }

  /** The checks of {@link Kernels#topK}. */
  public static void topK(int rows, int cols, int k, ManagedBuffer x, ManagedBuffer values, ManagedBuffer indices) {
    matrix(rows, cols);
    if (k < 0 || k > cols) {
      throw new IllegalArgumentException("k must be in [0, cols = " + cols + "], got " + k);
    }
    atLeast(x, "x", (long) rows * cols);
    atLeast(values, "values", (long) rows * k);
    atLeast(indices, "indices", (long) rows * k);
    disjoint(values, "values", x, "x");
  }

  /** The checks of {@link Kernels#batchTopK}. */
  public static void batchTopK(ManagedBuffer scores, long keep, ManagedBuffer x) {
    sameSize(scores, "scores", x, "x");
    inPlaceOrDisjoint(scores, "scores", x);
    if (keep < 0) {
      throw new IllegalArgumentException("keep must be non-negative, got " + keep);
    }
  }

  /** The checks of the two-input element-wise kernels ({@code out} may be {@code x} or {@code y}). */
  public static void binary(ManagedBuffer x, ManagedBuffer y, ManagedBuffer out) {
    sameSize(x, "x", y, "y");
    sameSize(x, "x", out, "out");
    inPlaceOrDisjoint(x, "x", out);
    inPlaceOrDisjoint(y, "y", out);
  }

  /** The checks of {@link Kernels#reluBackward}. */
  public static void reluBackward(ManagedBuffer grad, ManagedBuffer activation, ManagedBuffer out) {
    sameSize(grad, "grad", activation, "activation");
    sameSize(grad, "grad", out, "out");
    inPlaceOrDisjoint(grad, "grad", out);
    inPlaceOrDisjoint(activation, "activation", out);
  }

  /** The checks of {@link Kernels#columnSums}. */
  public static void columnSums(int rows, int cols, ManagedBuffer x, ManagedBuffer out) {
    matrix(rows, cols);
    atLeast(x, "x", (long) rows * cols);
    atLeast(out, "out", cols);
    disjoint(out, "out", x, "x");
  }

  /** The hyper-parameter checks of {@link Kernels#adam}. */
  public static void adamHyperParameters(float lr, float beta1, float beta2, float eps, long step) {
    if (step < 1) {
      throw new IllegalArgumentException("step must be at least 1, got " + step);
    }
    if (!(beta1 >= 0f && beta1 < 1f) || !(beta2 >= 0f && beta2 < 1f)) {
      throw new IllegalArgumentException("betas must be in [0, 1): beta1 " + beta1 + ", beta2 " + beta2);
    }
    if (!(eps >= 0f) || !Float.isFinite(eps) || !(lr >= 0f) || !Float.isFinite(lr)) {
      throw new IllegalArgumentException("lr and eps must be finite and non-negative: lr " + lr + ", eps " + eps);
    }
  }

  /** The buffer checks of {@link Kernels#adam}: equal sizes, no two overlapping. */
  public static void adamBuffers(ManagedBuffer param, ManagedBuffer grad, ManagedBuffer m, ManagedBuffer v) {
    sameSize(param, "param", grad, "grad");
    sameSize(param, "param", m, "m");
    sameSize(param, "param", v, "v");
    ManagedBuffer[] all = {param, grad, m, v};
    String[] names = {"param", "grad", "m", "v"};
    for (int i = 0; i < all.length; i++) {
      for (int j = i + 1; j < all.length; j++) {
        if (all[i].overlaps(all[j])) {
          throw new IllegalArgumentException(names[i] + " and " + names[j] + " must not overlap");
        }
      }
    }
  }

  // ---------------------------------------------------------------- transformer kernels
  // These take DeviceBuffer, not the implementation's buffer type, because the defaults of
  // Kernels check their arguments too; ownership is checked by the downloads and uploads there
  // and by the implementation's own buffer() check in overrides.

  /** The checks of {@link Kernels#wrapReadOnly}. */
  public static void wrap(java.lang.foreign.MemorySegment src, DType type, long count) {
    Objects.requireNonNull(src, "src");
    floatType(type, "type");
    if (count < 0 || count > src.byteSize() / type.byteSize()) {
      throw new IllegalArgumentException("src holds " + src.byteSize() + " bytes, not " + count + " elements of " + type);
    }
  }

  /**
   * {@code count} as an int for a host array of the default methods.
   *
   * @throws IllegalArgumentException naming {@code name} when it does not fit in a Java array
   */
  public static int hostElements(long count, String name) {
    if (count > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(name + " has " + count + " elements, more than the host fallback handles (2^31 - 9)");
    }
    return (int) count;
  }

  private static void type(DeviceBuffer b, String name, DType type) {
    Objects.requireNonNull(b, name);
    if (b.dtype() != type) {
      throw new IllegalArgumentException(name + " must be " + type + ", not " + b.dtype());
    }
    if (!b.isOpen()) {
      throw new IllegalArgumentException(name + " is closed");
    }
  }

  private static void atLeast(DeviceBuffer b, String name, long needed) {
    if (b.size() < needed) {
      throw new IllegalArgumentException(name + " has " + b.size() + " elements, needs " + needed);
    }
  }

  private static boolean overlap(DeviceBuffer a, DeviceBuffer b) {
    return a instanceof ManagedBuffer ma && b instanceof ManagedBuffer mb && ma.overlaps(mb);
  }

  private static boolean sameStart(DeviceBuffer a, DeviceBuffer b) {
    return a == b || a instanceof ManagedBuffer ma && b instanceof ManagedBuffer mb && ma.sameStart(mb);
  }

  /** The checks of {@link Kernels#rmsNorm}. */
  public static void rmsNorm(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer out, int rows, int cols, float eps) {
    matrix(rows, cols);
    if (!(eps >= 0f) || !Float.isFinite(eps)) {
      throw new IllegalArgumentException("eps must be finite and non-negative, got " + eps);
    }
    type(x, "x", DType.F32);
    type(weight, "weight", DType.F32);
    type(out, "out", DType.F32);
    long n = (long) rows * cols;
    atLeast(x, "x", n);
    atLeast(out, "out", n);
    atLeast(weight, "weight", cols);
    if (!sameStart(x, out) && overlap(x, out)) {
      throw new IllegalArgumentException("out overlaps x without being the same elements");
    }
    if (overlap(out, weight)) {
      throw new IllegalArgumentException("out must not overlap weight");
    }
  }

  /** The checks of {@link Kernels#rotaryEmbedding} that need no positions read. */
  public static void rotaryEmbedding(DeviceBuffer x, int rows, int heads, int headDim, DeviceBuffer positions,
      DeviceBuffer cos, DeviceBuffer sin) {
    if (rows < 0 || heads < 0) {
      throw new IllegalArgumentException("dimensions must be non-negative: rows " + rows + ", heads " + heads);
    }
    if (headDim < 2 || headDim % 2 != 0) {
      throw new IllegalArgumentException("headDim must be even and positive, got " + headDim);
    }
    type(x, "x", DType.F32);
    type(positions, "positions", DType.I32);
    type(cos, "cos", DType.F32);
    type(sin, "sin", DType.F32);
    atLeast(x, "x", (long) rows * heads * headDim);
    atLeast(positions, "positions", rows);
    int half = headDim / 2;
    if (cos.size() != sin.size() || cos.size() % half != 0) {
      throw new IllegalArgumentException("cos and sin must have the same size, a multiple of headDim / 2 = " + half
          + "; got " + cos.size() + " and " + sin.size());
    }
    if (overlap(x, cos) || overlap(x, sin) || overlap(x, positions)) {
      throw new IllegalArgumentException("x must not overlap positions, cos or sin");
    }
  }

  /**
   * Every position must lie in {@code [0, tableRows)}.
   *
   * @throws IllegalArgumentException naming the first that does not
   */
  public static void positions(int[] positions, int tableRows) {
    for (int r = 0; r < positions.length; r++) {
      if (positions[r] < 0 || positions[r] >= tableRows) {
        throw new IllegalArgumentException("positions[" + r + "] = " + positions[r] + " is outside the table's [0, "
            + tableRows + ")");
      }
    }
  }

  /** The checks of {@link Kernels#causalSoftmax}. */
  public static void causalSoftmax(DeviceBuffer x, int rows, int cols, int ld, int firstQuery) {
    matrix(rows, cols);
    leading("ld", ld, cols);
    if (firstQuery < 0) {
      throw new IllegalArgumentException("firstQuery must be non-negative, got " + firstQuery);
    }
    type(x, "x", DType.F32);
    if (rows > 0 && cols > 0) {
      atLeast(x, "x", (long) (rows - 1) * ld + cols);
    }
  }

  /** The checks of {@link Kernels#siluMultiply}. */
  public static void siluMultiply(DeviceBuffer gate, DeviceBuffer up, DeviceBuffer out) {
    type(gate, "gate", DType.F32);
    type(up, "up", DType.F32);
    type(out, "out", DType.F32);
    if (gate.size() != up.size() || gate.size() != out.size()) {
      throw new IllegalArgumentException("gate, up and out must have the same size: " + gate.size() + ", " + up.size()
          + ", " + out.size());
    }
    if (!sameStart(gate, out) && overlap(gate, out) || !sameStart(up, out) && overlap(up, out)) {
      throw new IllegalArgumentException("out overlaps gate or up without being the same elements");
    }
  }
}
