package io.crosscoder.backend;

import io.crosscoder.backend.internal.HostKernels;
import io.crosscoder.backend.internal.KernelArguments;
import io.crosscoder.tensor.DType;
import java.lang.foreign.MemorySegment;

/**
 * The dense and sparse kernels a crosscoder trainer runs (METHOD.md section 2), on buffers owned
 * by the implementation: matrix products for the encoder {@code [batch x 2d] . [2d x F]} and the
 * decoder {@code [batch x F] . [F x 2d]} and their gradients, bias and ReLU, top-k selection,
 * norms, reductions and the Adam update; and the few more a decoder language model's forward
 * pass needs (RMSNorm, rotary embeddings, causal softmax, the SwiGLU gate, read-only views of
 * mapped weights), which have host-side defaults so that every implementation runs models. The CPU implements it with Java code (and OpenBLAS when
 * present); a GPU backend implements the same contract, so conformance is checked by one test
 * suite against every implementation.
 *
 * <p><b>Layout.</b> Matrices are row-major: element {@code (i, j)} of a matrix with leading
 * dimension {@code ld} is element {@code i * ld + j} of its buffer. Sub-matrices and ranges are
 * passed as {@linkplain DeviceBuffer#slice slices}.
 *
 * <p><b>Element types.</b> Compute kernels read and write {@link DType#F32} buffers unless a
 * method says otherwise; {@link DType#BF16} buffers are storage (upload, download, {@link #copy},
 * and the A and B operands of {@link #sgemm}), {@link DType#I32} buffers hold indices. A kernel
 * given a buffer of another type, a buffer of another implementation, a closed buffer or a buffer
 * too small for the shape throws {@link IllegalArgumentException} naming the argument, before it
 * touches any memory.
 *
 * <p><b>Ordering.</b> Calls take effect in the order they are made by one thread. Methods that
 * return a value to the host ({@link #download}, {@link #sum}, {@link #batchTopK}, ...) return
 * after every earlier call of that thread is complete. Accumulations written as a sum run in at
 * least f32; sums that return {@code double} accumulate blocks of f32 partial sums in f64.
 *
 * <p><b>Threads.</b> Implementations are thread-safe for calls on disjoint output buffers; each
 * call may itself use several threads. Closing the kernels ends their threads; buffers must be
 * closed by whoever allocated them, before or after.
 */
public interface Kernels extends AutoCloseable {

  /**
   * One line for reports: the hardware and code paths, e.g. {@code "cpu: Vector API 512-bit, 2
   * threads"}.
   *
   * @return a short human-readable line naming the device and the code paths in use; never null
   */
  String description();

  // ---------------------------------------------------------------- buffers and transfers

  /**
   * A new buffer of {@code size} elements of {@code dtype} (F32, BF16 or I32), filled with zeros.
   * The caller closes it.
   *
   * @param dtype the element type: {@link DType#F32}, {@link DType#BF16} or {@link DType#I32}
   * @param size the number of elements (not bytes), {@code >= 0}
   * @return a new zero-filled buffer of this implementation, owned by the caller
   * @throws IllegalArgumentException if the type is not one of the three or size is negative
   * @throws io.crosscoder.CrosscoderException if the memory cannot be had
   */
  DeviceBuffer allocate(DType dtype, long size);

  /**
   * Copies {@code count} floats {@code src[srcOffset ..]} into elements {@code dstOffset ..} of
   * {@code dst}. An F32 buffer receives them as they are; a BF16 buffer receives them rounded to
   * nearest even ({@link io.crosscoder.tensor.FloatFormats#floatToBf16}).
   *
   * @param src the host values; read, not kept
   * @param srcOffset the index in {@code src} of the first value copied
   * @param dst the F32 or BF16 buffer written
   * @param dstOffset the element (not byte) index in {@code dst} of the first element written
   * @param count the number of elements copied, {@code >= 0}
   */
  void upload(float[] src, int srcOffset, DeviceBuffer dst, long dstOffset, int count);

  /**
   * Copies {@code count} ints {@code src[srcOffset ..]} into elements {@code dstOffset ..} of an
   * I32 buffer.
   *
   * @param src the host values; read, not kept
   * @param srcOffset the index in {@code src} of the first value copied
   * @param dst the I32 buffer written
   * @param dstOffset the element index in {@code dst} of the first element written
   * @param count the number of elements copied, {@code >= 0}
   */
  void upload(int[] src, int srcOffset, DeviceBuffer dst, long dstOffset, int count);

  /**
   * Copies {@code count} elements of type {@code srcType} (F32 or BF16, little-endian, any
   * alignment) from the start of {@code src} into elements {@code dstOffset ..} of {@code dst} (F32
   * or BF16), converting as {@link #copy} does. This is how tensors mapped from a file are
   * uploaded without an intermediate heap array.
   *
   * @param src the memory read from its start, e.g. a tensor's slice of a mapped file; read, not
   *     kept
   * @param srcType the element type stored in {@code src}: F32 or BF16
   * @param dst the F32 or BF16 buffer written
   * @param dstOffset the element index in {@code dst} of the first element written
   * @param count the number of elements copied, {@code >= 0}
   */
  void upload(MemorySegment src, DType srcType, DeviceBuffer dst, long dstOffset, long count);

  /**
   * A read-only buffer holding {@code count} elements of {@code type} (F32 or BF16, little-endian)
   * from the start of {@code src}, for data that never changes while it is used, such as the
   * weights of a model mapped from a safetensors file. The CPU returns a view of {@code src}
   * itself when it can read it in place (native memory, little-endian machine, the address a
   * multiple of the element size), so a mapped model costs no copy; other implementations, and
   * the CPU for other segments, allocate a buffer and {@linkplain #upload(MemorySegment, DType,
   * DeviceBuffer, long, long) upload} into it. This default does the latter.
   *
   * <p>Ownership: the caller closes the buffer (closing a view frees nothing). {@code src} must
   * stay valid while the buffer is used: a view of a segment whose arena was closed (a closed
   * checkpoint) fails with {@link IllegalStateException} when read, never reads freed memory.
   * The buffer must not be written: a kernel given it as an output, or an upload into it, throws
   * at its first write where the buffer is a view (the memory access's {@link
   * IllegalArgumentException} or {@link UnsupportedOperationException}, and {@code src} is left as
   * it was), and where it is a copy the write changes the copy only.
   *
   * @param src the memory holding the elements from its start; kept by a view, so it must outlive
   *     the buffer
   * @param type the element type stored in {@code src}: F32 or BF16
   * @param count the number of elements, {@code >= 0}
   * @return a read-only buffer of {@code count} elements of {@code type}, owned by the caller
   * @throws IllegalArgumentException if {@code type} is not F32 or BF16, {@code count} is negative
   *     or {@code src} holds fewer than {@code count} elements
   */
  default DeviceBuffer wrapReadOnly(MemorySegment src, DType type, long count) {
    KernelArguments.wrap(src, type, count);
    DeviceBuffer b = allocate(type, count);
    try {
      upload(src, type, b, 0, count);
      return b;
    } catch (RuntimeException e) {
      b.close();
      throw e;
    }
  }

  /**
   * Copies {@code count} elements {@code srcOffset ..} of {@code src} (F32 or BF16, widened
   * exactly) into {@code dst[dstOffset ..]}.
   *
   * @param src the F32 or BF16 buffer read
   * @param srcOffset the element index in {@code src} of the first element read
   * @param dst the host array written
   * @param dstOffset the index in {@code dst} of the first value written
   * @param count the number of elements copied, {@code >= 0}
   */
  void download(DeviceBuffer src, long srcOffset, float[] dst, int dstOffset, int count);

  /**
   * Copies {@code count} elements {@code srcOffset ..} of an I32 buffer into {@code dst[dstOffset
   * ..]}.
   *
   * @param src the I32 buffer read
   * @param srcOffset the element index in {@code src} of the first element read
   * @param dst the host array written
   * @param dstOffset the index in {@code dst} of the first value written
   * @param count the number of elements copied, {@code >= 0}
   */
  void download(DeviceBuffer src, long srcOffset, int[] dst, int dstOffset, int count);

  /**
   * Copies {@code count} elements {@code srcOffset ..} of {@code src} into the start of {@code dst}
   * as {@code dstType} (F32 or BF16, little-endian), converting as {@link #copy} does.
   *
   * @param src the F32 or BF16 buffer read
   * @param srcOffset the element index in {@code src} of the first element read
   * @param dst the memory written from its start; must hold {@code count} elements of {@code
   *     dstType}
   * @param dstType the element type written to {@code dst}: F32 or BF16
   * @param count the number of elements copied, {@code >= 0}
   */
  void download(DeviceBuffer src, long srcOffset, MemorySegment dst, DType dstType, long count);

  /**
   * A new F32 buffer holding {@code values}. The caller closes it.
   *
   * @param values the host values; copied, not kept
   * @return a new F32 buffer of {@code values.length} elements, owned by the caller
   */
  default DeviceBuffer upload(float[] values) {
    return upload(values, DType.F32);
  }

  /**
   * A new buffer of {@code dtype} (F32 or BF16) holding {@code values}, rounded as {@link
   * #upload(float[], int, DeviceBuffer, long, int)} says.
   *
   * @param values the host values; copied, not kept
   * @param dtype the element type of the new buffer: F32 or BF16
   * @return a new buffer of {@code values.length} elements, owned by the caller
   */
  default DeviceBuffer upload(float[] values, DType dtype) {
    DeviceBuffer b = allocate(dtype, values.length);
    try {
      upload(values, 0, b, 0, values.length);
      return b;
    } catch (RuntimeException e) {
      b.close();
      throw e;
    }
  }

  /**
   * A new I32 buffer holding {@code values}. The caller closes it.
   *
   * @param values the host values; copied, not kept
   * @return a new I32 buffer of {@code values.length} elements, owned by the caller
   */
  default DeviceBuffer upload(int[] values) {
    DeviceBuffer b = allocate(DType.I32, values.length);
    try {
      upload(values, 0, b, 0, values.length);
      return b;
    } catch (RuntimeException e) {
      b.close();
      throw e;
    }
  }

  /**
   * Every element of an F32 or BF16 buffer as floats.
   *
   * @param src the F32 or BF16 buffer read (BF16 widened exactly)
   * @return a new array of {@code src.size()} floats
   * @throws IllegalArgumentException if the buffer has more than {@code Integer.MAX_VALUE - 8} elements
   */
  default float[] downloadFloats(DeviceBuffer src) {
    float[] out = new float[hostLength(src)];
    download(src, 0, out, 0, out.length);
    return out;
  }

  /**
   * Every element of an I32 buffer.
   *
   * @param src the I32 buffer read
   * @return a new array of {@code src.size()} ints
   */
  default int[] downloadInts(DeviceBuffer src) {
    int[] out = new int[hostLength(src)];
    download(src, 0, out, 0, out.length);
    return out;
  }

  /**
   * {@code dst[i] = convert(src[i])} for every element; the buffers have equal sizes. F32 to BF16
   * rounds to nearest even (NaN stays NaN); BF16 to F32 is exact; equal types copy bits. I32 copies
   * only to I32. The buffers must not overlap unless they are the same.
   *
   * @param src the buffer read
   * @param dst the buffer written, of the same size as {@code src}
   */
  void copy(DeviceBuffer src, DeviceBuffer dst);

  /**
   * {@code x[i] = value} for every element of an F32 buffer.
   *
   * @param x the F32 buffer overwritten
   * @param value the value every element gets
   */
  void fill(DeviceBuffer x, float value);

  // ---------------------------------------------------------------- dense products

  /**
   * General matrix product, with the semantics of {@code cblas_sgemm(CblasRowMajor, ...)}:
   *
   * <pre>{@code C = alpha * op(A) * op(B) + beta * C}</pre>
   *
   * where {@code op(A)} is {@code m x k}, {@code op(B)} is {@code k x n} and {@code C} is {@code m x
   * n}, all row-major. {@code op(A) = A} when {@code transA} is false, and then {@code op(A)(i, p) =
   * a[i * lda + p]} ({@code A} stored {@code m x k}, {@code lda >= max(1, k)}); {@code op(A) = A^T}
   * when it is true, and then {@code op(A)(i, p) = a[p * lda + i]} ({@code A} stored {@code k x m},
   * {@code lda >= max(1, m)}). Likewise {@code op(B)(p, j) = b[p * ldb + j]} with {@code ldb >=
   * max(1, n)}, or {@code b[j * ldb + p]} with {@code ldb >= max(1, k)} when {@code transB}. {@code
   * C(i, j) = c[i * ldc + j]} with {@code ldc >= max(1, n)}.
   *
   * <p>As in BLAS: when {@code beta == 0} the old contents of {@code C} are not read (NaN or
   * infinities there do not propagate); when {@code alpha == 0} or {@code k == 0}, {@code A} and
   * {@code B} are not read and {@code C = beta * C}; {@code m == 0} or {@code n == 0} does nothing.
   * Buffers need only hold the elements the shape reaches (the last row of a matrix need not be
   * padded to {@code ld}).
   *
   * <p>{@code a} and {@code b} may be F32 or BF16 (BF16 operands are widened exactly, so only
   * their storage is narrower); {@code c} is F32 and must not overlap {@code a} or {@code b}. The
   * sum over {@code p} runs in f32 (fused multiply-add where the hardware has it) in an
   * implementation-defined order, so results agree between implementations up to f32 rounding:
   * {@code |error| <= k * 2^-23 * sum_p |alpha * op(A)(i, p) * op(B)(p, j)|} roughly.
   *
   * @param transA whether {@code A} is stored transposed ({@code k x m}) rather than {@code m x k}
   * @param transB whether {@code B} is stored transposed ({@code n x k}) rather than {@code k x n}
   * @param m the rows of {@code op(A)} and {@code C}, {@code >= 0}
   * @param n the columns of {@code op(B)} and {@code C}, {@code >= 0}
   * @param k the inner dimension: columns of {@code op(A)}, rows of {@code op(B)}, {@code >= 0}
   * @param alpha the factor on the product
   * @param a the F32 or BF16 buffer holding {@code A}; read only
   * @param lda the leading dimension (row stride in elements) of {@code A} as stored
   * @param b the F32 or BF16 buffer holding {@code B}; read only
   * @param ldb the leading dimension of {@code B} as stored
   * @param beta the factor on the old {@code C}; 0 overwrites it without reading
   * @param c the F32 buffer holding {@code C}, read (unless {@code beta == 0}) and written
   * @param ldc the leading dimension of {@code C}
   * @throws IllegalArgumentException on a negative dimension, a leading dimension below its
   *     minimum, a buffer too small for its shape, or a wrong element type
   */
  void sgemm(boolean transA, boolean transB, int m, int n, int k,
      float alpha, DeviceBuffer a, int lda, DeviceBuffer b, int ldb,
      float beta, DeviceBuffer c, int ldc);

  /**
   * Sparse by dense product for top-k decoding, with a sparse matrix {@code S} of {@code rows x
   * cols} in compressed sparse row form: the non-zeros of row {@code r} are {@code values[t]} in
   * column {@code colIndex[t]} for {@code rowStart[r] <= t < rowStart[r + 1]}. {@code rowStart} is
   * I32 with {@code rows + 1} elements, non-decreasing from {@code rowStart[0] = 0}; {@code
   * colIndex} is I32 and {@code values} F32, each with at least {@code rowStart[rows]} elements.
   * Column indices must lie in {@code [0, cols)}; they need not be sorted or distinct (duplicates
   * add).
   *
   * <p>Without transpose ({@code transS == false}), {@code dense} is {@code cols x n} and
   *
   * <pre>{@code out(r, j) = alpha * sum_t values[t] * dense(colIndex[t], j) + beta * out(r, j)},  out is rows x n</pre>
   *
   * which is the decoder {@code f . W_dec} for sparse latents {@code f}. With transpose, {@code
   * dense} is {@code rows x n} and {@code out = alpha * S^T . dense + beta * out} is {@code cols x
   * n}: {@code out(c, j) = alpha * sum over (r, t) with colIndex[t] = c of values[t] * dense(r, j) +
   * beta * out(c, j)}, the decoder's weight gradient. All matrices are dense row-major with
   * leading dimension {@code n}. {@code beta == 0} ignores the old contents of {@code out}. Index
   * arrays are read on the device; an index out of range throws {@link IllegalArgumentException}
   * (before {@code out} is written) where the implementation can check it.
   *
   * @param transS whether to multiply by {@code S^T} (giving {@code cols x n}) rather than {@code
   *     S} ({@code rows x n})
   * @param rows the rows of {@code S}, {@code >= 0}
   * @param cols the columns of {@code S}, {@code >= 0}
   * @param n the columns of {@code dense} and {@code out}, {@code >= 0}
   * @param alpha the factor on the product
   * @param rowStart the I32 row starts of {@code S}, {@code rows + 1} elements
   * @param colIndex the I32 column index of each non-zero of {@code S}
   * @param values the F32 value of each non-zero of {@code S}
   * @param dense the F32 dense operand, row-major with leading dimension {@code n}; read only
   * @param beta the factor on the old {@code out}; 0 overwrites it without reading
   * @param out the F32 result, row-major with leading dimension {@code n}
   */
  void spmm(boolean transS, int rows, int cols, int n, float alpha,
      DeviceBuffer rowStart, DeviceBuffer colIndex, DeviceBuffer values,
      DeviceBuffer dense, float beta, DeviceBuffer out);

  /**
   * Compresses the non-zero elements of a dense {@code rows x cols} F32 matrix into the sparse
   * row form of {@link #spmm}: {@code rowStart} (I32, {@code rows + 1} elements), then for each
   * row in order its non-zeros in increasing column order into {@code colIndex} (I32) and {@code
   * values} (F32). An element is a non-zero when it is not {@code == 0} (so NaN counts, -0.0 does
   * not). Used after {@link #batchTopK}, which leaves a variable number of non-zeros per row.
   *
   * @param x the dense F32 {@code rows x cols} matrix, row-major and packed; read only
   * @param rows the rows of {@code x}, {@code >= 0}
   * @param cols the columns of {@code x}, {@code >= 0}
   * @param rowStart the I32 buffer receiving the {@code rows + 1} row starts
   * @param colIndex the I32 buffer receiving the column index of each non-zero
   * @param values the F32 buffer receiving the value of each non-zero
   * @return the number of non-zeros, {@code rowStart[rows]}
   * @throws IllegalArgumentException if {@code colIndex} or {@code values} is smaller than the
   *     number of non-zeros (nothing is written then except possibly {@code rowStart})
   */
  long denseToCsr(DeviceBuffer x, int rows, int cols,
      DeviceBuffer rowStart, DeviceBuffer colIndex, DeviceBuffer values);

  /**
   * The number of elements of the F32 buffer {@code x} that are greater than zero ({@code NaN},
   * {@code 0.0} and {@code -0.0} are not). On a ReLU output it is the number of non-zeros that
   * {@link #denseToCsr} would write, so a caller can size or skip the sparse rows first: the L1
   * crosscoder step counts its active latents this way to choose between its sparse and dense
   * paths. The count is exact.
   *
   * <p>The default implementation builds the indicator with {@link #fill} and {@link
   * #reluBackward} in a temporary buffer of {@code x.size()} elements and adds it up with {@link
   * #sum} (exact where the backend's partial sums of ones stay below 2^24, as the CPU's f32
   * blocks of 4096 do), so any backend runs it; implementations override it with one pass that
   * reads {@code x}.
   *
   * @param x the F32 buffer counted; read only
   * @return the number of elements {@code > 0}, in {@code [0, x.size()]}
   * @throws IllegalArgumentException if {@code x} is not an F32 buffer of this backend
   */
  default long countPositive(DeviceBuffer x) {
    long n = x.size();
    if (n == 0) {
      return 0;
    }
    try (DeviceBuffer indicator = allocate(DType.F32, n)) {
      fill(indicator, 1f);
      reluBackward(indicator, x, indicator);
      return Math.round(sum(indicator));
    }
  }

  /**
   * Expands a sparse matrix in the row form of {@link #spmm} into a dense {@code rows x cols} F32
   * matrix {@code out} (row-major, leading dimension {@code cols}): every element is first set to
   * zero, then {@code out(r, colIndex[t]) += values[t]} for {@code rowStart[r] <= t < rowStart[r +
   * 1]} (duplicates add, as in {@link #spmm}). The inverse of {@link #denseToCsr}; with {@code
   * rowStart[r] = r * k} it turns the output of {@link #topK} back into a masked matrix (the
   * auxiliary loss of a BatchTopK crosscoder keeps the top {@code k_aux} dead latents of each
   * token). {@code out} must not overlap the three index and value buffers.
   *
   * <p>The default implementation goes through the host (downloads the sparse arrays, builds the
   * dense rows, uploads them); implementations override it with a kernel.
   *
   * @param rows the rows of the sparse matrix and of {@code out}, {@code >= 0}
   * @param cols the columns of the sparse matrix and of {@code out}, {@code >= 0}
   * @param rowStart the I32 row starts, {@code rows + 1} elements
   * @param colIndex the I32 column index of each non-zero, in {@code [0, cols)}
   * @param values the F32 value of each non-zero
   * @param out the F32 buffer of at least {@code rows * cols} elements that receives the dense
   *     matrix
   * @throws IllegalArgumentException if {@code rowStart} is not valid, an index is outside {@code
   *     [0, cols)} or a buffer is too small (nothing is written then)
   */
  default void csrToDense(int rows, int cols, DeviceBuffer rowStart, DeviceBuffer colIndex,
      DeviceBuffer values, DeviceBuffer out) {
    if (rows < 0 || cols < 0) {
      throw new IllegalArgumentException("dimensions must be non-negative: rows " + rows + ", cols " + cols);
    }
    if ((long) rows * cols > Integer.MAX_VALUE - 8 || out.size() < (long) rows * cols) {
      throw new IllegalArgumentException("out has " + out.size() + " elements, needs " + (long) rows * cols
          + " (and the host fallback handles at most 2^31 - 9)");
    }
    if (rowStart.size() < rows + 1L) {
      throw new IllegalArgumentException("rowStart has " + rowStart.size() + " elements, needs " + (rows + 1L));
    }
    int[] starts = new int[rows + 1];
    download(rowStart, 0, starts, 0, rows + 1);
    if (starts[0] != 0) {
      throw new IllegalArgumentException("rowStart[0] must be 0, found " + starts[0]);
    }
    for (int r = 0; r < rows; r++) {
      if (starts[r + 1] < starts[r]) {
        throw new IllegalArgumentException("rowStart must not decrease at row " + r);
      }
    }
    int nnz = starts[rows];
    if (colIndex.size() < nnz || values.size() < nnz) {
      throw new IllegalArgumentException("rowStart[rows] = " + nnz + " non-zeros but colIndex has "
          + colIndex.size() + " and values " + values.size() + " elements");
    }
    int[] cols32 = new int[nnz];
    float[] vals = new float[nnz];
    download(colIndex, 0, cols32, 0, nnz);
    download(values, 0, vals, 0, nnz);
    float[] dense = new float[rows * cols];
    for (int r = 0; r < rows; r++) {
      for (int t = starts[r]; t < starts[r + 1]; t++) {
        int c = cols32[t];
        if (c < 0 || c >= cols) {
          throw new IllegalArgumentException("colIndex[" + t + "] = " + c + " is outside [0, " + cols + ")");
        }
        dense[r * cols + c] += vals[t];
      }
    }
    upload(dense, 0, out, 0, dense.length);
  }

  /**
   * Sampled dense-dense product (SDDMM): the product {@code alpha * A B^T} evaluated only at the
   * positions of a sparse matrix in the row form of {@link #spmm}. For {@code rowStart[r] <= t <
   * rowStart[r + 1]},
   *
   * <pre>{@code out[t] = alpha * sum_{j < n} a(r, j) * b(colIndex[t], j)}</pre>
   *
   * with {@code a} dense {@code rows x n} and {@code b} dense {@code cols x n} (row-major, leading
   * dimension {@code n}); {@code out} is F32 with at least {@code rowStart[rows]} elements, and
   * elements past that are left alone. With {@code a = G} (the {@code B x 2d} reconstruction
   * gradient), {@code b = W_dec} ({@code F x 2d}) and the positions of the kept latents, {@code out}
   * is the latent gradient {@code G W_dec^T} where a BatchTopK crosscoder needs it, at {@code 2d}
   * multiply-adds per kept latent instead of {@code 2d F} per token. The sum runs in f32 as {@link
   * #sgemm}'s does (the error bound of {@link #sgemm} with {@code k = n}). {@code out} must not
   * overlap the other buffers.
   *
   * <p>The default implementation computes the dense {@code rows x cols} product with {@link
   * #sgemm} into a temporary buffer and gathers the positions with {@link #spmm} (a selection
   * matrix with one 1 per output), so any backend runs it; its cost is the dense product's.
   * Implementations override it with a kernel that computes only the sampled dots.
   *
   * @param rows the rows of the sparse pattern and of {@code a}, {@code >= 0}
   * @param cols the columns of the sparse pattern and the rows of {@code b}, {@code >= 0}
   * @param n the columns of {@code a} and {@code b} (the length of each dot product), {@code >= 0}
   * @param alpha the factor on each dot product
   * @param a the F32 dense {@code rows x n} matrix; read only
   * @param b the F32 dense {@code cols x n} matrix; read only
   * @param rowStart the I32 row starts of the pattern, {@code rows + 1} elements
   * @param colIndex the I32 column index of each sampled position, in {@code [0, cols)}
   * @param out the F32 buffer receiving one value per sampled position
   * @throws IllegalArgumentException on a negative dimension, a {@code rowStart} that does not
   *     start at 0 or decreases, an index outside {@code [0, cols)}, a buffer too small or of the
   *     wrong type (nothing is written then)
   */
  default void sddmm(int rows, int cols, int n, float alpha, DeviceBuffer a, DeviceBuffer b,
      DeviceBuffer rowStart, DeviceBuffer colIndex, DeviceBuffer out) {
    if (n < 0) {
      throw new IllegalArgumentException("n must be non-negative, got " + n);
    }
    if (rows >= 0 && cols >= 0) {
      requireSize(a, "a", (long) rows * n);
      requireSize(b, "b", (long) cols * n);
    }
    int[] flat = HostKernels.flatPositions(this, rows, cols, rowStart, colIndex, out.size(), "out");
    if (flat.length == 0) {
      return;
    }
    int nnz = flat.length;
    int[] unit = new int[nnz + 1];
    for (int t = 0; t <= nnz; t++) {
      unit[t] = t;
    }
    float[] ones = new float[nnz];
    java.util.Arrays.fill(ones, 1f);
    try (DeviceBuffer product = allocate(DType.F32, (long) rows * cols);
        DeviceBuffer starts = upload(unit);
        DeviceBuffer positions = upload(flat);
        DeviceBuffer select = upload(ones)) {
      sgemm(false, true, rows, cols, n, alpha, a, Math.max(1, n), b, Math.max(1, n), 0f, product, Math.max(1, cols));
      spmm(false, nnz, rows * cols, 1, 1f, starts, positions, select, product, 0f, out);
    }
  }

  /**
   * Dense transposed by sparse product: with {@code S} a sparse {@code rows x cols} matrix in the
   * row form of {@link #spmm} and {@code dense} a dense {@code rows x n} matrix (leading dimension
   * {@code n}),
   *
   * <pre>{@code out(j, c) = alpha * sum over (r, t) with colIndex[t] = c of dense(r, j) * values[t] + beta * out(j, c)}</pre>
   *
   * that is {@code out = alpha * dense^T S + beta * out}, {@code n x cols} row-major (leading
   * dimension {@code cols}). With {@code dense = X} ({@code B x 2d}) and {@code S} the latent
   * gradient at the kept latents, it is the encoder's weight gradient {@code X^T dL/dP} in the
   * encoder's {@code [2d x F]} layout. {@code beta == 0} ignores the old contents of {@code out};
   * {@code beta == 1} adds, so a second sparse matrix (the auxiliary loss's) accumulates into the
   * first. Each output sums in f32, in an implementation-defined order. {@code out} must not
   * overlap the other buffers.
   *
   * <p>The default implementation expands {@code S} with {@link #csrToDense} into a temporary
   * {@code rows x cols} buffer and calls {@link #sgemm}; implementations override it with a
   * kernel that reads only the non-zeros.
   *
   * @param rows the rows of {@code S} and of {@code dense}, {@code >= 0}
   * @param cols the columns of {@code S} and of {@code out}, {@code >= 0}
   * @param n the columns of {@code dense} and the rows of {@code out}, {@code >= 0}
   * @param alpha the factor on the product
   * @param dense the F32 dense {@code rows x n} matrix; read only
   * @param rowStart the I32 row starts of {@code S}, {@code rows + 1} elements
   * @param colIndex the I32 column index of each non-zero of {@code S}, in {@code [0, cols)}
   * @param values the F32 value of each non-zero of {@code S}
   * @param beta the factor on the old {@code out}; 0 overwrites it without reading
   * @param out the F32 {@code n x cols} result
   * @throws IllegalArgumentException on a negative dimension, an invalid {@code rowStart}, an
   *     index outside {@code [0, cols)}, or a buffer too small or of the wrong type
   */
  default void denseTransposedSparse(int rows, int cols, int n, float alpha, DeviceBuffer dense,
      DeviceBuffer rowStart, DeviceBuffer colIndex, DeviceBuffer values, float beta, DeviceBuffer out) {
    if (rows < 0 || cols < 0 || n < 0) {
      throw new IllegalArgumentException("dimensions must be non-negative: rows " + rows + ", cols " + cols + ", n " + n);
    }
    requireSize(dense, "dense", (long) rows * n);
    requireSize(out, "out", (long) n * cols);
    if (n == 0 || cols == 0) {
      return;
    }
    try (DeviceBuffer expanded = allocate(DType.F32, (long) rows * cols)) {
      csrToDense(rows, cols, rowStart, colIndex, values, expanded);
      sgemm(true, false, n, cols, rows, alpha, dense, n, expanded, cols, beta, out, cols);
    }
  }

  // ---------------------------------------------------------------- row-wise kernels

  /**
   * Adds a bias to every row, optionally followed by ReLU: for a {@code rows x cols} matrix,
   *
   * <pre>{@code out(r, c) = x(r, c) + bias[c]}, or {@code max(0, x(r, c) + bias[c])} when relu</pre>
   *
   * ({@code max} returns 0 for a NaN sum: ReLU's output is never NaN here). {@code out} may be
   * {@code x} (in place); otherwise it must not overlap it. {@code bias} has {@code cols} elements.
   *
   * @param x the F32 {@code rows x cols} input, packed row-major
   * @param bias the F32 bias, {@code cols} elements
   * @param out the F32 {@code rows x cols} output; may be {@code x}
   * @param rows the number of rows, {@code >= 0}
   * @param cols the number of columns, {@code >= 0}
   * @param relu whether to apply ReLU after adding the bias
   */
  void biasAdd(DeviceBuffer x, DeviceBuffer bias, DeviceBuffer out, int rows, int cols, boolean relu);

  /**
   * Scales every column of a {@code rows x cols} F32 matrix: {@code out(r, c) = x(r, c) *
   * scale[c]} (one f32 multiplication, so exact where the product is representable). {@code out}
   * may be {@code x} (in place); otherwise it must not overlap it. {@code scale} has {@code cols}
   * elements. BatchTopK's scores {@code f_bi (|d_i^A| + |d_i^B|)} are this with the decoder norms.
   *
   * <p>The default implementation writes the outer product {@code 1 scale^T} with {@link #sgemm}
   * ({@code k = 1}) into a temporary buffer and {@link #multiply multiplies}; implementations
   * override it with one pass.
   *
   * @param x the F32 {@code rows x cols} input, packed row-major
   * @param scale the F32 factor of each column, {@code cols} elements
   * @param out the F32 {@code rows x cols} output; may be {@code x}
   * @param rows the number of rows, {@code >= 0}
   * @param cols the number of columns, {@code >= 0}
   * @throws IllegalArgumentException on a negative dimension or a buffer too small or of the wrong type
   */
  default void scaleColumns(DeviceBuffer x, DeviceBuffer scale, DeviceBuffer out, int rows, int cols) {
    if (rows < 0 || cols < 0) {
      throw new IllegalArgumentException("dimensions must be non-negative: rows " + rows + ", cols " + cols);
    }
    requireSize(x, "x", (long) rows * cols);
    requireSize(out, "out", (long) rows * cols);
    requireSize(scale, "scale", cols);
    if (rows == 0 || cols == 0) {
      return;
    }
    long n = (long) rows * cols;
    try (DeviceBuffer ones = allocate(DType.F32, rows); DeviceBuffer outer = allocate(DType.F32, n)) {
      fill(ones, 1f);
      sgemm(false, false, rows, cols, 1, 1f, ones, 1, scale, cols, 0f, outer, cols);
      multiply(x.slice(0, n), outer, out.slice(0, n));
    }
  }

  /**
   * Euclidean norms of the rows of a {@code rows x cols} matrix with leading dimension {@code ld}:
   * {@code out[r] = sqrt(sum_{c < cols} x[r * ld + c]^2)}. With {@code ld} larger than {@code
   * cols} and a slice this gives one model's half of a decoder row, {@code |d_i^A|} or {@code
   * |d_i^B|}.
   *
   * @param x the F32 matrix; read only
   * @param rows the number of rows, {@code >= 0}
   * @param cols the number of elements of each row that enter the norm, {@code >= 0}
   * @param ld the leading dimension (row stride in elements) of {@code x}, {@code >= cols}
   * @param out the F32 buffer receiving {@code rows} norms
   */
  void rowNorms(DeviceBuffer x, int rows, int cols, int ld, DeviceBuffer out);

  /**
   * The {@code k} largest elements of each row of a {@code rows x cols} matrix, in descending
   * order: {@code values} ({@code rows x k}, F32) and their column indices {@code indices} ({@code
   * rows x k}, I32). The order is {@link Float#compare}'s (NaN above +infinity, -0.0 below 0.0);
   * among equal elements the lower column index ranks higher, so the result is deterministic and
   * the same on every backend. {@code 0 <= k <= cols}.
   *
   * @param x the F32 {@code rows x cols} matrix, packed row-major; read only
   * @param rows the number of rows, {@code >= 0}
   * @param cols the number of columns, {@code >= 0}
   * @param k the number of elements kept per row, {@code 0 <= k <= cols}
   * @param values the F32 {@code rows x k} buffer receiving the kept elements
   * @param indices the I32 {@code rows x k} buffer receiving their column indices
   */
  void topK(DeviceBuffer x, int rows, int cols, int k, DeviceBuffer values, DeviceBuffer indices);

  /**
   * BatchTopK selection (Minder et al. 2025): keeps the {@code keep} largest elements of {@code
   * scores} over the whole buffer (typically {@code keep = k * batch} over a {@code batch x F}
   * matrix) and sets {@code x[i] = 0} for every other position {@code i}. The order and the
   * tie-break are those of {@link #topK} over flat positions (the lower position wins among equal
   * scores), so exactly {@code min(keep, size)} positions are kept. {@code x} may be {@code
   * scores} itself; otherwise it has the same size and is where the zeros go (scores are {@code f
   * * (|d^A| + |d^B|)}, the values kept are {@code f}).
   *
   * @param scores the F32 scores ranked over the whole buffer; read only unless it is {@code x}
   * @param keep the number of positions kept over the whole buffer, {@code >= 0}
   * @param x the F32 buffer of the same size whose positions not kept are set to 0; may be {@code
   *     scores}
   * @return the smallest kept score (the value a running threshold is estimated from), or {@code
   *     +infinity} when {@code keep == 0}
   */
  float batchTopK(DeviceBuffer scores, long keep, DeviceBuffer x);

  /**
   * {@link #batchTopK} straight into the sparse row form of {@link #spmm}, on scores computed on
   * the fly: with {@code s(r, c) = x(r, c) * columnScale[c]} (one rounded f32 product, as {@link
   * #scaleColumns}), keeps the {@code keep} largest scores of the {@code rows x cols} batch in the
   * order and tie-break of {@link #batchTopK} (the lower flat position wins among equal scores),
   * and writes the kept positions whose score is {@code > 0}, in row then column order, with the
   * value {@code x(r, c)}: {@code rowStart} ({@code rows + 1} elements), {@code colIndex}, {@code
   * values}. For a BatchTopK crosscoder {@code x} is {@code f = ReLU(P)} and {@code columnScale}
   * the decoder norms {@code |d_i^A| + |d_i^B|}; the rows are its kept activations {@code a}, and
   * {@code x} itself is left as it is (the auxiliary loss still needs the dead latents' {@code f}).
   * This is {@link #scaleColumns}, a copy of {@code x}, {@link #batchTopK} and {@link #denseToCsr}
   * in one call, without the dense kept matrix.
   *
   * <p>The default implementation runs exactly that sequence in {@code work} ({@link
   * #scaleColumns} into it, {@link #batchTopK} in place, {@link #reluBackward} to put {@code x}'s
   * values at the kept positive scores, {@link #denseToCsr}), so any backend runs it at the cost
   * of those kernels; implementations override it with a selection that reads {@code x} and writes
   * only the sparse rows, leaving {@code work} alone.
   *
   * @param x the F32 {@code rows x cols} matrix, packed row-major; read only
   * @param columnScale the F32 factor of each column, {@code cols} elements; read only
   * @param rows the rows of {@code x}, {@code >= 0}
   * @param cols the columns of {@code x}, {@code >= 0}
   * @param keep the number of positions kept over the whole batch, {@code >= 0}
   * @param work an F32 buffer of at least {@code rows * cols} elements that the call may overwrite
   *     (the default implementation's workspace); must not overlap the other buffers
   * @param rowStart the I32 buffer receiving the {@code rows + 1} row starts
   * @param colIndex the I32 buffer receiving the column index of each kept positive score
   * @param values the F32 buffer receiving {@code x} at each of them
   * @return the smallest kept score, or {@code +infinity} when {@code keep == 0}
   * @throws IllegalArgumentException if a buffer is too small (for {@code colIndex} and {@code
   *     values}: smaller than the number of kept positive scores, which is at most {@code keep}),
   *     or {@code keep} is negative
   */
  default float batchTopKToCsr(DeviceBuffer x, DeviceBuffer columnScale, int rows, int cols, long keep,
      DeviceBuffer work, DeviceBuffer rowStart, DeviceBuffer colIndex, DeviceBuffer values) {
    if (rows < 0 || cols < 0 || keep < 0) {
      throw new IllegalArgumentException("rows, cols and keep must be non-negative: " + rows + ", " + cols + ", " + keep);
    }
    long n = (long) rows * cols;
    requireSize(x, "x", n);
    requireSize(work, "work", n);
    requireSize(columnScale, "columnScale", cols);
    DeviceBuffer scores = work.slice(0, n);
    scaleColumns(x, columnScale, scores, rows, cols);
    float min = batchTopK(scores, keep, scores);
    reluBackward(x.slice(0, n), scores, scores);
    denseToCsr(scores, rows, cols, rowStart, colIndex, values);
    return min;
  }

  /**
   * {@link #topK} of each row among a list of its columns only: for each row {@code r} of the
   * {@code rows x cols} matrix {@code x}, the {@code k} largest of {@code x(r, columns[j])}, {@code
   * j < count}, in decreasing order ({@link Float#compare}'s order; the lower column index ranks
   * higher among equal values), into {@code values} and their column indices (not {@code j}) into
   * {@code indices}, both {@code rows x k}. The auxiliary loss of a BatchTopK crosscoder takes the
   * {@code k_aux} largest activations of the dead latents of each token: this reads only those
   * columns instead of masking the whole {@code B x F} matrix.
   *
   * <p>The default implementation adds a bias of 0 on the listed columns and {@code
   * -Float.MAX_VALUE} elsewhere into {@code work} ({@link #biasAdd}) and calls {@link #topK}, which
   * is the same selection when the listed columns' values are finite and at least {@code
   * -1e38} (activations); implementations override it with a kernel that reads the listed columns
   * only, leaving {@code work} alone.
   *
   * @param x the F32 {@code rows x cols} matrix, packed row-major; read only
   * @param rows the rows of {@code x}, {@code >= 0}
   * @param cols the columns of {@code x}, {@code >= 0}
   * @param columns the I32 column list, strictly increasing, in {@code [0, cols)}; read only
   * @param count the number of columns listed, {@code 0 <= count <= cols}
   * @param k the number of values kept per row, {@code 0 <= k <= count}
   * @param work an F32 buffer of at least {@code rows * cols} elements that the call may overwrite
   *     (the default implementation's workspace); must not overlap the other buffers
   * @param values the F32 {@code rows x k} buffer receiving the kept values
   * @param indices the I32 {@code rows x k} buffer receiving their column indices
   * @throws IllegalArgumentException if {@code k} or {@code count} is out of range, the list is not
   *     strictly increasing within {@code [0, cols)}, or a buffer is too small
   */
  default void topKOfColumns(DeviceBuffer x, int rows, int cols, DeviceBuffer columns, int count, int k,
      DeviceBuffer work, DeviceBuffer values, DeviceBuffer indices) {
    if (rows < 0 || cols < 0 || count < 0 || count > cols || k < 0 || k > count) {
      throw new IllegalArgumentException("need rows, cols >= 0, 0 <= count <= cols and 0 <= k <= count: rows "
          + rows + ", cols " + cols + ", count " + count + ", k " + k);
    }
    requireSize(x, "x", (long) rows * cols);
    requireSize(work, "work", (long) rows * cols);
    requireSize(columns, "columns", count);
    int[] list = new int[count];
    download(columns, 0, list, 0, count);
    float[] bias = new float[cols];
    java.util.Arrays.fill(bias, -Float.MAX_VALUE);
    for (int j = 0; j < count; j++) {
      if (list[j] < 0 || list[j] >= cols || (j > 0 && list[j] <= list[j - 1])) {
        throw new IllegalArgumentException("columns must be strictly increasing in [0, " + cols + "), found "
            + list[j] + " at " + j);
      }
      bias[list[j]] = 0f;
    }
    try (DeviceBuffer b = upload(bias)) {
      DeviceBuffer masked = work.slice(0, (long) rows * cols);
      biasAdd(x, b, masked, rows, cols, false);
      topK(masked, rows, cols, k, values, indices);
    }
  }

  // ---------------------------------------------------------------- element-wise kernels (equal sizes)

  /**
   * {@code y[i] = alpha * x[i] + y[i]}.
   *
   * @param alpha the factor on {@code x}
   * @param x the F32 buffer added; read only
   * @param y the F32 buffer of the same size, updated in place
   */
  void axpy(float alpha, DeviceBuffer x, DeviceBuffer y);

  /**
   * {@code x[i] = alpha * x[i]}.
   *
   * @param alpha the factor
   * @param x the F32 buffer scaled in place
   */
  void scale(float alpha, DeviceBuffer x);

  /**
   * {@code out[i] = x[i] + y[i]}; {@code out} may be {@code x} or {@code y}.
   *
   * @param x the first F32 operand
   * @param y the second F32 operand, of the same size
   * @param out the F32 result, of the same size
   */
  void add(DeviceBuffer x, DeviceBuffer y, DeviceBuffer out);

  /**
   * {@code out[i] = x[i] - y[i]}; {@code out} may be {@code x} or {@code y}.
   *
   * @param x the F32 minuend
   * @param y the F32 subtrahend, of the same size
   * @param out the F32 result, of the same size
   */
  void subtract(DeviceBuffer x, DeviceBuffer y, DeviceBuffer out);

  /**
   * {@code out[i] = x[i] * y[i]}; {@code out} may be {@code x} or {@code y}.
   *
   * @param x the first F32 factor
   * @param y the second F32 factor, of the same size
   * @param out the F32 result, of the same size
   */
  void multiply(DeviceBuffer x, DeviceBuffer y, DeviceBuffer out);

  /**
   * The ReLU backward mask: {@code out[i] = activation[i] > 0 ? grad[i] : 0}, where {@code
   * activation} is ReLU's output (or its input: the sign is the same). {@code out} may be {@code grad}.
   *
   * @param grad the F32 gradient with respect to ReLU's output
   * @param activation the F32 output (or input) of the ReLU, of the same size; read only
   * @param out the F32 gradient with respect to ReLU's input, of the same size
   */
  void reluBackward(DeviceBuffer grad, DeviceBuffer activation, DeviceBuffer out);

  // ---------------------------------------------------------------- reductions

  /**
   * {@code sum_i x[i]}, f32 partial sums of at most 4096 elements added in f64.
   *
   * @param x the F32 buffer summed; read only
   * @return the sum of its elements (0 for an empty buffer)
   */
  double sum(DeviceBuffer x);

  /**
   * {@code sum_i x[i]^2}, accumulated as {@link #sum} is (for losses and gradient clipping).
   *
   * @param x the F32 buffer; read only
   * @return the sum of the squares of its elements (0 for an empty buffer)
   */
  double sumOfSquares(DeviceBuffer x);

  /**
   * Column sums of a {@code rows x cols} matrix, {@code out[c] = sum_r x(r, c)}, written over
   * {@code out} (bias gradients). Runs of at most 256 rows are summed in f32 and added in f64.
   *
   * @param x the F32 {@code rows x cols} matrix, packed row-major; read only
   * @param rows the number of rows, {@code >= 0}
   * @param cols the number of columns, {@code >= 0}
   * @param out the F32 buffer receiving {@code cols} sums
   */
  void columnSums(DeviceBuffer x, int rows, int cols, DeviceBuffer out);

  // ---------------------------------------------------------------- optimiser

  /**
   * One Adam step (Kingma and Ba 2015, in PyTorch's arrangement) over every element, with {@code
   * t = step >= 1}:
   *
   * <pre>{@code
   * m = beta1 * m + (1 - beta1) * g
   * v = beta2 * v + (1 - beta2) * g^2
   * param = param - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
   * }</pre>
   *
   * {@code param}, {@code grad}, {@code m} and {@code v} are F32 buffers of equal size; {@code m}
   * and {@code v} start at zero and are updated in place. The bias corrections {@code 1 -
   * beta^t} are computed in f64 once per call.
   *
   * @param param the F32 parameters, updated in place
   * @param grad the F32 gradient of the loss with respect to {@code param}; read only
   * @param m the F32 first-moment estimate, updated in place
   * @param v the F32 second-moment estimate, updated in place
   * @param lr the learning rate, finite and {@code >= 0}
   * @param beta1 the first-moment decay, in {@code [0, 1)} (PyTorch's default 0.9)
   * @param beta2 the second-moment decay, in {@code [0, 1)} (PyTorch's default 0.999)
   * @param eps the term added to the denominator, finite and {@code >= 0}
   * @param step the 1-based number of this step, used in the bias corrections
   * @throws IllegalArgumentException if {@code step < 1}, a beta is outside {@code [0, 1)}, or
   *     {@code eps} or {@code lr} is negative or not finite
   */
  void adam(DeviceBuffer param, DeviceBuffer grad, DeviceBuffer m, DeviceBuffer v,
      float lr, float beta1, float beta2, float eps, long step);

  // ---------------------------------------------------------------- transformer kernels

  /*
   * The kernels of a decoder's forward pass (io.crosscoder.model.decoder) besides sgemm. Each has
   * a default that goes through the host (download, compute in Java, upload), so that a backend
   * that does not override them runs models unchanged, only slower; the CPU overrides them all.
   */

  /**
   * RMSNorm of each row of a packed {@code rows x cols} F32 matrix, with the gain {@code weight}
   * (F32, {@code cols} elements):
   *
   * <pre>{@code out(r, c) = (x(r, c) * s_r) * weight[c],   s_r = 1 / sqrt(sum_c x(r, c)^2 / cols + eps)}</pre>
   *
   * as Hugging Face's {@code LlamaRMSNorm} computes it in f32 (Zhang and Sennrich 2019). The sum of
   * squares is accumulated in at least f32 (f32 blocks into f64 on the CPU, f64 in this default),
   * so results agree with an f64 oracle to about {@code (cols + 8) * 2^-23} relative. A Qwen3
   * query/key norm per head is this kernel on {@code rows * heads} rows of {@code head_dim}. {@code
   * out} may be {@code x} (in place); otherwise it must not overlap it.
   *
   * @param x the F32 {@code rows x cols} input, packed row-major
   * @param weight the F32 gain, {@code cols} elements
   * @param out the F32 {@code rows x cols} output; may be {@code x}
   * @param rows the number of rows (tokens, or tokens times heads), {@code >= 0}
   * @param cols the length of each normalised row, {@code >= 0}
   * @param eps the term added to the mean square, finite and {@code >= 0} (a model's {@code
   *     rms_norm_eps})
   * @throws IllegalArgumentException on a negative dimension, {@code eps} negative or not finite,
   *     a buffer too small or of the wrong type, or a partial overlap
   */
  default void rmsNorm(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer out, int rows, int cols, float eps) {
    KernelArguments.rmsNorm(x, weight, out, rows, cols, eps);
    int n = KernelArguments.hostElements((long) rows * cols, "x");
    float[] xs = new float[n];
    float[] w = new float[cols];
    download(x, 0, xs, 0, n);
    download(weight, 0, w, 0, cols);
    for (int r = 0; r < rows; r++) {
      int at = r * cols;
      double squares = 0;
      for (int c = 0; c < cols; c++) {
        squares += (double) xs[at + c] * xs[at + c];
      }
      float scale = (float) (1 / Math.sqrt(squares / cols + eps));
      for (int c = 0; c < cols; c++) {
        xs[at + c] = (xs[at + c] * scale) * w[c];
      }
    }
    upload(xs, 0, out, 0, n);
  }

  /**
   * Rotary position embedding as Hugging Face's Llama, Qwen2 and Mistral apply it ("rotate half",
   * Su et al. 2021 in the arrangement of {@code apply_rotary_pos_emb}), in place. {@code x} is a
   * packed F32 matrix of {@code rows} rows of {@code heads * headDim}; with {@code h = headDim / 2},
   * {@code p = positions[r]} (I32, {@code rows} elements) and {@code c = cos[p * h + i]}, {@code s
   * = sin[p * h + i]} (F32 tables of {@code P x h}), each head's pair {@code (a, b) = (x_i, x_{i +
   * h})}, {@code i < h}, becomes
   *
   * <pre>{@code x_i = a * c - b * s,   x_{i + h} = b * c + a * s}</pre>
   *
   * in f32 (fused multiply-add allowed). The tables hold {@code cos} and {@code sin} of {@code p *
   * inv_freq[i]}, made by the caller (so rope scaling is the caller's concern).
   *
   * @param x the F32 queries or keys, {@code rows x (heads * headDim)} packed, rotated in place
   * @param rows the number of tokens, {@code >= 0}
   * @param heads the number of heads per row, {@code >= 0}
   * @param headDim the dimension of each head, even and positive
   * @param positions the I32 position of each row's token, {@code rows} elements, each in {@code
   *     [0, P)}
   * @param cos the F32 table of cosines, {@code P x headDim / 2}
   * @param sin the F32 table of sines, of the same size as {@code cos}
   * @throws IllegalArgumentException if {@code headDim} is odd or not positive, a dimension is
   *     negative, the tables differ in size or are not a multiple of {@code h}, a buffer is too
   *     small or of the wrong type, or a position is outside {@code [0, P)} (nothing is written then)
   */
  default void rotaryEmbedding(DeviceBuffer x, int rows, int heads, int headDim, DeviceBuffer positions,
      DeviceBuffer cos, DeviceBuffer sin) {
    KernelArguments.rotaryEmbedding(x, rows, heads, headDim, positions, cos, sin);
    int half = headDim / 2;
    int n = KernelArguments.hostElements((long) rows * heads * headDim, "x");
    int tableSize = KernelArguments.hostElements(cos.size(), "cos");
    int[] pos = new int[rows];
    download(positions, 0, pos, 0, rows);
    KernelArguments.positions(pos, (int) (cos.size() / half));
    float[] xs = new float[n];
    float[] c = new float[tableSize];
    float[] s = new float[tableSize];
    download(x, 0, xs, 0, n);
    download(cos, 0, c, 0, tableSize);
    download(sin, 0, s, 0, tableSize);
    for (int r = 0; r < rows; r++) {
      int t = pos[r] * half;
      for (int hd = 0; hd < heads; hd++) {
        int at = (r * heads + hd) * headDim;
        for (int i = 0; i < half; i++) {
          float a = xs[at + i];
          float b = xs[at + i + half];
          xs[at + i] = a * c[t + i] - b * s[t + i];
          xs[at + i + half] = b * c[t + i] + a * s[t + i];
        }
      }
    }
    upload(xs, 0, x, 0, n);
  }

  /**
   * Softmax of each row of attention scores under a causal mask with an optional sliding window,
   * in place. {@code x} is {@code rows x cols} F32 with leading dimension {@code ld}; row {@code
   * i} holds the scores of the query at position {@code q = firstQuery + i} against the keys at
   * positions {@code 0 .. cols - 1}. Key {@code j} is visible when
   *
   * <pre>{@code j <= q  and  (window <= 0 or q - j < window)}</pre>
   *
   * (a window of {@code w} keeps the query's own key and the {@code w - 1} before it, as Hugging
   * Face's sliding-window mask does: {@code kv_idx > q_idx - sliding_window}). Visible entries
   * become {@code exp(x_j - m) / sum_visible exp(x_k - m)} with {@code m} the largest visible
   * score; hidden entries become exactly 0; a row with no visible key becomes all zeros. Elements
   * between {@code cols} and {@code ld} are neither read nor written. Scores are expected finite
   * (a NaN among the visible ones makes the row NaN).
   *
   * @param x the F32 attention scores, replaced by the probabilities
   * @param rows the number of queries, {@code >= 0}
   * @param cols the number of keys, {@code >= 0}
   * @param ld the leading dimension (row stride in elements) of {@code x}, {@code >= max(1, cols)}
   * @param firstQuery the position of the query of row 0, {@code >= 0}
   * @param window the sliding-window length in keys, or {@code <= 0} for none
   * @throws IllegalArgumentException on a negative dimension or {@code firstQuery}, {@code ld <
   *     max(1, cols)}, or a buffer too small or of the wrong type
   */
  default void causalSoftmax(DeviceBuffer x, int rows, int cols, int ld, int firstQuery, int window) {
    KernelArguments.causalSoftmax(x, rows, cols, ld, firstQuery);
    if (rows == 0 || cols == 0) {
      return;
    }
    if (ld == cols) {
      // Packed rows: one transfer each way (elements between cols and ld would otherwise be rewritten).
      int n = KernelArguments.hostElements((long) rows * cols, "x");
      float[] all = new float[n];
      download(x, 0, all, 0, n);
      float[] row = new float[cols];
      for (int i = 0; i < rows; i++) {
        System.arraycopy(all, i * cols, row, 0, cols);
        HostKernels.softmaxRow(row, cols, firstQuery + (long) i, window);
        System.arraycopy(row, 0, all, i * cols, cols);
      }
      upload(all, 0, x, 0, n);
      return;
    }
    float[] row = new float[cols];
    for (int i = 0; i < rows; i++) {
      long at = (long) i * ld;
      download(x, at, row, 0, cols);
      HostKernels.softmaxRow(row, cols, firstQuery + (long) i, window);
      upload(row, 0, x, at, cols);
    }
  }

  /**
   * The SwiGLU gate of a Llama MLP (Shazeer 2020), element by element over F32 buffers of equal
   * size: {@code out[i] = silu(gate[i]) * up[i]} with {@code silu(g) = g / (1 + e^-g)}, in f32
   * (the exponential within a few ulps). {@code out} may be {@code gate} or {@code up}.
   *
   * @param gate the F32 output of the gate projection
   * @param up the F32 output of the up projection, of the same size
   * @param out the F32 result, of the same size; may be {@code gate} or {@code up}
   * @throws IllegalArgumentException if the sizes differ, a buffer is not F32, or {@code out}
   *     partly overlaps an input
   */
  default void siluMultiply(DeviceBuffer gate, DeviceBuffer up, DeviceBuffer out) {
    KernelArguments.siluMultiply(gate, up, out);
    int n = KernelArguments.hostElements(gate.size(), "gate");
    float[] g = new float[n];
    float[] u = new float[n];
    download(gate, 0, g, 0, n);
    download(up, 0, u, 0, n);
    for (int i = 0; i < n; i++) {
      g[i] = (float) (g[i] / (1 + Math.exp(-g[i]))) * u[i];
    }
    upload(g, 0, out, 0, n);
  }

  /** Ends the kernels' threads and native resources. Buffers stay the caller's to close. Idempotent. */
  @Override
  void close();

  private static void requireSize(DeviceBuffer b, String name, long needed) {
    if (b.size() < needed) {
      throw new IllegalArgumentException(name + " has " + b.size() + " elements, needs " + needed);
    }
  }

  private static int hostLength(DeviceBuffer b) {
    if (b.size() > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("buffer of " + b.size() + " elements does not fit in a Java array");
    }
    return (int) b.size();
  }
}
