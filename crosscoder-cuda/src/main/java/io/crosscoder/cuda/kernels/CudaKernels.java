package io.crosscoder.cuda.kernels;

import static io.crosscoder.cuda.driver.CudaContext.BLOCK;

import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.internal.KernelArguments;
import io.crosscoder.backend.Kernels;
import io.crosscoder.cuda.blas.Cublas;
import io.crosscoder.cuda.driver.CudaContext;
import io.crosscoder.cuda.driver.DeviceMemory;
import io.crosscoder.cuda.driver.DevicePointer;
import io.crosscoder.cuda.driver.Kernel;
import io.crosscoder.cuda.driver.PinnedMemory;
import io.crosscoder.cuda.driver.Resources;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.FloatFormats;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import jcuda.Pointer;

/**
 * {@link Kernels} on an NVIDIA GPU: matrix products by cuBLAS ({@code cublasSgemm}, and {@code
 * cublasGemmEx} for two bf16 operands), everything else by the kernels of {@code
 * crosscoder_kernels.cu} (see {@code src/main/cuda/README.md} for what each computes and how).
 *
 * <p><b>Numerics.</b> Products are IEEE f32 unless {@code -Dcrosscoder.cuda.tf32=true} lets cuBLAS
 * use TF32 tensor cores (10-bit mantissas in the products: faster, and outside the f32 error
 * bound of {@link Kernels#sgemm}). Element-wise kernels round exactly as the CPU does (no fused
 * contraction where the contract says a sum or a product). Reductions follow the contract's
 * blocking (f32 blocks of 4096, f64 across blocks); the order inside a block differs from the CPU,
 * so sums agree to rounding, not bit for bit. Top-k and BatchTopK select exactly the same
 * elements as the CPU (a radix select on a 64-bit key of the float's order and the position).
 * The decoder kernels ({@link #rmsNorm}, {@link #rotaryEmbedding}, {@link #causalSoftmax}, {@link
 * #siluMultiply}) run on the device too, so a forward pass moves no activations to the host; the
 * rotary embedding matches the CPU bit for bit, the others to a few roundings (f64 sums, CUDA's
 * {@code expf}). {@link #wrapReadOnly} is the interface's default: a buffer and one upload,
 * through the pinned staging buffer, so a mapped model's weights cross PCIe once.
 *
 * <p><b>Threads.</b> All work goes to the context's default stream, so it runs in issue order
 * whatever thread issued it. Methods that use the shared scratch memory or the pinned staging
 * buffer hold this object's lock; the others only launch.
 */
public final class CudaKernels implements Kernels {
  /** System property: let cuBLAS use TF32 tensor cores for f32 products. */
  public static final String TF32_PROPERTY = "crosscoder.cuda.tf32";
  /** Bytes of the pinned staging buffer through which segments are uploaded and downloaded. */
  private static final int STAGING = 8 << 20;
  /** Elements per host-side chunk when converting Java arrays to and from bf16. */
  private static final int CHUNK = 1 << 20;
  /** The largest key-sort a row top-k does in shared memory; larger ones use global scratch. */
  private static final int SHARED_SORT = 2048;
  /** Bytes of global sort scratch for one batch of top-k rows. */
  private static final long TOPK_SCRATCH = 256L << 20;
  /** Elements summed in f32 before the sum goes to f64 ({@link Kernels#sum}). */
  private static final int SUM_BLOCK = 4096;
  /** The widest rows {@link #rmsNorm} gives one warp each rather than one block. */
  static final int WARP_ROW_COLS = 512;

  private final CudaContext context;
  private final Cublas cublas;
  private final boolean tf32;
  /** Whether cuBLAS multiplies bf16 operands here (sm_80 and later); else they are widened first. */
  private final boolean bf16Gemm;
  private final Object lock = new Object();
  private DeviceMemory scratch;
  private PinnedMemory staging;
  private volatile boolean closed;

  /**
   * Kernels on {@code context}, with matrix products by {@code cublas} (whose handle was made on
   * this context; these kernels close it); TF32 as {@value #TF32_PROPERTY} says.
   */
  public CudaKernels(CudaContext context, Cublas cublas) {
    this(context, cublas, Boolean.getBoolean(TF32_PROPERTY));
  }

  /**
   * Kernels on {@code context}, with matrix products by {@code cublas} (whose handle was made on
   * this context; these kernels close it).
   *
   * @param tf32 whether f32 products may run on TF32 tensor cores
   */
  public CudaKernels(CudaContext context, Cublas cublas, boolean tf32) {
    this.context = Objects.requireNonNull(context, "context");
    this.cublas = Objects.requireNonNull(cublas, "cublas");
    this.tf32 = tf32;
    this.bf16Gemm = context.computeCapabilityMajor() >= 8;
    try {
      cublas.setTf32(tf32);
    } catch (RuntimeException e) {
      cublas.close();
      throw e;
    }
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return closed;
  }

  @Override
  public String description() {
    return "cuda: " + context.deviceDescription() + "; " + cublas.description()
        + (tf32 ? " with TF32 tensor cores" : "") + "; kernels " + context.moduleOrigin();
  }

  // ---------------------------------------------------------------- buffers and transfers

  @Override
  public DeviceBuffer allocate(DType dtype, long size) {
    ensureOpen();
    KernelArguments.allocation(dtype, size);
    return new CudaBuffer(this, dtype, size, context.allocate(size * dtype.byteSize()));
  }

  @Override
  public void upload(float[] src, int srcOffset, DeviceBuffer dst, long dstOffset, int count) {
    Objects.checkFromIndexSize(srcOffset, count, src.length);
    CudaBuffer d = buffer(dst, "dst", DType.F32, DType.BF16);
    KernelArguments.range(d, "dst", dstOffset, count);
    if (d.dtype() == DType.F32) {
      context.copyToDevice(d.at(dstOffset), Pointer.to(src).withByteOffset(4L * srcOffset), 4L * count);
      return;
    }
    short[] bits = new short[Math.min(count, CHUNK)];
    for (int done = 0; done < count; done += CHUNK) {
      int n = Math.min(CHUNK, count - done);
      for (int i = 0; i < n; i++) {
        bits[i] = FloatFormats.floatToBf16(src[srcOffset + done + i]);
      }
      context.copyToDevice(d.at(dstOffset + done), Pointer.to(bits), 2L * n);
    }
  }

  @Override
  public void upload(int[] src, int srcOffset, DeviceBuffer dst, long dstOffset, int count) {
    Objects.checkFromIndexSize(srcOffset, count, src.length);
    CudaBuffer d = buffer(dst, "dst", DType.I32);
    KernelArguments.range(d, "dst", dstOffset, count);
    context.copyToDevice(d.at(dstOffset), Pointer.to(src).withByteOffset(4L * srcOffset), 4L * count);
  }

  @Override
  public void upload(MemorySegment src, DType srcType, DeviceBuffer dst, long dstOffset, long count) {
    Objects.requireNonNull(src, "src");
    KernelArguments.floatType(srcType, "srcType");
    CudaBuffer d = buffer(dst, "dst", DType.F32, DType.BF16);
    KernelArguments.range(d, "dst", dstOffset, count);
    if (count > src.byteSize() / srcType.byteSize()) {
      throw new IllegalArgumentException("src holds " + src.byteSize() + " bytes, fewer than " + count
          + " elements of " + srcType);
    }
    int width = srcType.byteSize();
    long chunk = STAGING / width;
    synchronized (lock) {
      PinnedMemory stage = staging();
      DevicePointer converted = srcType == d.dtype() ? null : scratch(STAGING);
      for (long done = 0; done < count; done += chunk) {
        long n = Math.min(chunk, count - done);
        MemorySegment.copy(src, done * width, stage.segment(), 0, n * width);
        if (converted == null) {
          stage.copyToDevice(0, d.at(dstOffset + done), n * width);
        } else {
          stage.copyToDevice(0, converted, n * width);
          convert(srcType, converted, d.at(dstOffset + done), n);
        }
      }
    }
  }

  @Override
  public void download(DeviceBuffer src, long srcOffset, float[] dst, int dstOffset, int count) {
    Objects.checkFromIndexSize(dstOffset, count, dst.length);
    CudaBuffer s = buffer(src, "src", DType.F32, DType.BF16);
    KernelArguments.range(s, "src", srcOffset, count);
    if (s.dtype() == DType.F32) {
      context.copyToHost(Pointer.to(dst).withByteOffset(4L * dstOffset), s.at(srcOffset), 4L * count);
      return;
    }
    short[] bits = new short[Math.min(count, CHUNK)];
    for (int done = 0; done < count; done += CHUNK) {
      int n = Math.min(CHUNK, count - done);
      context.copyToHost(Pointer.to(bits), s.at(srcOffset + done), 2L * n);
      for (int i = 0; i < n; i++) {
        dst[dstOffset + done + i] = Float.intBitsToFloat((bits[i] & 0xffff) << 16);
      }
    }
  }

  @Override
  public void download(DeviceBuffer src, long srcOffset, int[] dst, int dstOffset, int count) {
    Objects.checkFromIndexSize(dstOffset, count, dst.length);
    CudaBuffer s = buffer(src, "src", DType.I32);
    KernelArguments.range(s, "src", srcOffset, count);
    context.copyToHost(Pointer.to(dst).withByteOffset(4L * dstOffset), s.at(srcOffset), 4L * count);
  }

  @Override
  public void download(DeviceBuffer src, long srcOffset, MemorySegment dst, DType dstType, long count) {
    Objects.requireNonNull(dst, "dst");
    KernelArguments.floatType(dstType, "dstType");
    CudaBuffer s = buffer(src, "src", DType.F32, DType.BF16);
    KernelArguments.range(s, "src", srcOffset, count);
    if (count > dst.byteSize() / dstType.byteSize()) {
      throw new IllegalArgumentException("dst holds " + dst.byteSize() + " bytes, fewer than " + count
          + " elements of " + dstType);
    }
    int width = dstType.byteSize();
    long chunk = STAGING / 4; // a chunk of f32 fits the scratch and the staging buffer either way
    synchronized (lock) {
      PinnedMemory stage = staging();
      DevicePointer converted = dstType == s.dtype() ? null : scratch(STAGING);
      for (long done = 0; done < count; done += chunk) {
        long n = Math.min(chunk, count - done);
        DevicePointer from = s.at(srcOffset + done);
        if (converted != null) {
          convert(s.dtype(), from, converted, n);
          from = converted;
        }
        stage.copyFromDevice(from, 0, n * width);
        MemorySegment.copy(stage.segment(), 0, dst, done * width, n * width);
      }
    }
  }

  /** Converts {@code n} elements of type {@code from} at {@code src} into the other float type at {@code dst}. */
  private void convert(DType from, DevicePointer src, DevicePointer dst, long n) {
    context.launchElementwise(from == DType.F32 ? Kernel.F32_TO_BF16 : Kernel.BF16_TO_F32, n, src, dst, n);
  }

  @Override
  public void copy(DeviceBuffer src, DeviceBuffer dst) {
    CudaBuffer s = buffer(src, "src", DType.F32, DType.BF16, DType.I32);
    CudaBuffer d = buffer(dst, "dst", DType.F32, DType.BF16, DType.I32);
    if (KernelArguments.copy(s, d)) {
      return;
    }
    if (s.dtype() == d.dtype()) {
      context.copyOnDevice(d.pointer, s.pointer, s.byteSize());
    } else {
      convert(s.dtype(), s.pointer, d.pointer, s.size());
    }
  }

  @Override
  public void fill(DeviceBuffer x, float value) {
    CudaBuffer b = f32(x, "x");
    context.launchElementwise(Kernel.FILL, b.size(), b.pointer, b.size(), value);
  }

  // ---------------------------------------------------------------- dense products

  /**
   * {@inheritDoc}
   *
   * <p>cuBLAS is column-major: the row-major {@code C = op(A) op(B)} is computed as the
   * column-major {@code C^T = op(B)^T op(A)^T}, which reads the same memory with the operands
   * swapped. One bf16 operand beside an f32 one is widened (exactly) into scratch first, since
   * cuBLAS multiplies two operands of one type.
   */
  @Override
  public void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, DeviceBuffer a,
      int lda, DeviceBuffer b, int ldb, float beta, DeviceBuffer c, int ldc) {
    CudaBuffer ab = buffer(a, "a", DType.F32, DType.BF16);
    CudaBuffer bb = buffer(b, "b", DType.F32, DType.BF16);
    CudaBuffer cb = f32(c, "c");
    KernelArguments.sgemm(transA, transB, m, n, k, ab, lda, bb, ldb, cb, ldc);
    if (m == 0 || n == 0) {
      return;
    }
    if (k == 0 || alpha == 0f) {
      context.launchElementwise(Kernel.SCALE_MATRIX, (long) m * n, cb.pointer, m, n, ldc, beta);
      return;
    }
    context.makeCurrent();
    if (ab.dtype() == DType.BF16 && bb.dtype() == DType.BF16 && bf16Gemm) {
      cublas.gemmBf16(transB, transA, n, m, k, alpha, bb.pointer.address(), ldb, ab.pointer.address(), lda,
          beta, cb.pointer.address(), ldc);
      return;
    }
    if (ab.dtype() == DType.F32 && bb.dtype() == DType.F32) {
      cublas.sgemm(transB, transA, n, m, k, alpha, bb.pointer.address(), ldb, ab.pointer.address(), lda,
          beta, cb.pointer.address(), ldc);
      return;
    }
    // A bf16 operand beside an f32 one, or bf16 operands on a GPU without bf16 products: widen
    // (exactly) into scratch and multiply in f32.
    synchronized (lock) {
      long aStored = ab.dtype() == DType.BF16 ? storedElements(transA ? k : m, transA ? m : k, lda) : 0;
      long bStored = bb.dtype() == DType.BF16 ? storedElements(transB ? n : k, transB ? k : n, ldb) : 0;
      DevicePointer wide = scratch(4 * (aStored + bStored));
      long aAddress = ab.pointer.address();
      long bAddress = bb.pointer.address();
      if (aStored > 0) {
        convert(DType.BF16, ab.pointer, wide, aStored);
        aAddress = wide.address();
      }
      if (bStored > 0) {
        DevicePointer wideB = wide.plus(4 * aStored);
        convert(DType.BF16, bb.pointer, wideB, bStored);
        bAddress = wideB.address();
      }
      cublas.sgemm(transB, transA, n, m, k, alpha, bAddress, ldb, aAddress, lda, beta, cb.pointer.address(), ldc);
    }
  }

  /** Elements a stored {@code rows x cols} matrix with leading dimension {@code ld} reaches. */
  private static long storedElements(int rows, int cols, int ld) {
    return rows == 0 || cols == 0 ? 0 : (long) (rows - 1) * ld + cols;
  }

  @Override
  public void spmm(boolean transS, int rows, int cols, int n, float alpha, DeviceBuffer rowStart,
      DeviceBuffer colIndex, DeviceBuffer values, DeviceBuffer dense, float beta, DeviceBuffer out) {
    CudaBuffer rs = buffer(rowStart, "rowStart", DType.I32);
    CudaBuffer ci = buffer(colIndex, "colIndex", DType.I32);
    CudaBuffer vs = f32(values, "values");
    CudaBuffer d = f32(dense, "dense");
    CudaBuffer o = f32(out, "out");
    KernelArguments.spmm(transS, rows, cols, n, rs, d, vs, o);
    checkSparseRows(rows, cols, rs, ci, vs);
    if (n == 0) {
      return;
    }
    if (!transS) {
      context.launch(Kernel.SPMM, rows, BLOCK, 0, rs.pointer, ci.pointer, vs.pointer, d.pointer, o.pointer,
          rows, n, alpha, beta);
    } else {
      context.launchElementwise(Kernel.SCALE_MATRIX, (long) cols * n, o.pointer, cols, n, n, beta);
      context.launch(Kernel.SPMM_TRANSPOSED, rows, BLOCK, 0, rs.pointer, ci.pointer, vs.pointer, d.pointer,
          o.pointer, rows, n, alpha);
    }
  }

  /**
   * Checks a sparse matrix before anything is written: the row starts on the host (they are few:
   * one per row of a batch), the column indices on the device (they are many).
   */
  private void checkSparseRows(int rows, int cols, CudaBuffer rowStart, CudaBuffer colIndex, CudaBuffer values) {
    int[] starts = new int[rows + 1];
    download(rowStart, 0, starts, 0, rows + 1);
    long nnz = KernelArguments.rowStarts(starts, rows, colIndex.size(), values.size());
    if (nnz == 0 || rows == 0) {
      return;
    }
    synchronized (lock) {
      DevicePointer error = scratch(12);
      context.set32(error, 0, 3);
      context.launch(Kernel.CSR_CHECK, (rows + 7L) / 8, BLOCK, 0, rowStart.pointer, colIndex.pointer, rows, cols, error);
      int[] found = new int[3];
      context.copyToHost(Pointer.to(found), error, 12);
      if (found[0] == 1) {
        throw new IllegalArgumentException("rowStart must not decrease at row " + found[1]);
      }
      if (found[0] == 2) {
        throw new IllegalArgumentException("colIndex[" + found[1] + "] = " + found[2] + " is outside [0, " + cols + ")");
      }
    }
  }

  @Override
  public long denseToCsr(DeviceBuffer x, int rows, int cols, DeviceBuffer rowStart,
      DeviceBuffer colIndex, DeviceBuffer values) {
    CudaBuffer xb = f32(x, "x");
    CudaBuffer rs = buffer(rowStart, "rowStart", DType.I32);
    CudaBuffer ci = buffer(colIndex, "colIndex", DType.I32);
    CudaBuffer vs = f32(values, "values");
    KernelArguments.denseToCsr(rows, cols, xb, rs, vs);
    int[] counts = new int[rows];
    if (rows > 0) {
      synchronized (lock) {
        DevicePointer c = scratch(4L * rows);
        context.launch(Kernel.COUNT_NONZEROS, (rows + 7L) / 8, BLOCK, 0, xb.pointer, rows, cols, c);
        context.copyToHost(Pointer.to(counts), c, 4L * rows);
      }
    }
    int[] starts = new int[rows + 1];
    long nnz = 0;
    for (int r = 0; r < rows; r++) {
      nnz += counts[r];
      if (nnz > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("more than 2^31 - 1 non-zeros do not fit I32 row starts");
      }
      starts[r + 1] = (int) nnz;
    }
    if (nnz > ci.size() || nnz > vs.size()) {
      throw new IllegalArgumentException("the matrix has " + nnz + " non-zeros but colIndex has "
          + ci.size() + " and values " + vs.size() + " elements");
    }
    upload(starts, 0, rs, 0, rows + 1);
    if (nnz > 0) {
      context.launch(Kernel.COMPRESS_ROWS, (rows + 7L) / 8, BLOCK, 0, xb.pointer, rows, cols, rs.pointer,
          ci.pointer, vs.pointer);
    }
    return nnz;
  }

  @Override
  public void csrToDense(int rows, int cols, DeviceBuffer rowStart, DeviceBuffer colIndex,
      DeviceBuffer values, DeviceBuffer out) {
    CudaBuffer rs = buffer(rowStart, "rowStart", DType.I32);
    CudaBuffer ci = buffer(colIndex, "colIndex", DType.I32);
    CudaBuffer vs = f32(values, "values");
    CudaBuffer o = f32(out, "out");
    KernelArguments.csrToDense(rows, cols, rs, ci, vs, o);
    checkSparseRows(rows, cols, rs, ci, vs);
    context.set32(o.pointer, 0, (long) rows * cols);
    context.launch(Kernel.CSR_TO_DENSE, rows, BLOCK, 0, rs.pointer, ci.pointer, vs.pointer, o.pointer, rows, cols);
  }

  // ---------------------------------------------------------------- row-wise kernels

  @Override
  public void biasAdd(DeviceBuffer x, DeviceBuffer bias, DeviceBuffer out, int rows, int cols, boolean relu) {
    CudaBuffer xb = f32(x, "x");
    CudaBuffer bb = f32(bias, "bias");
    CudaBuffer ob = f32(out, "out");
    KernelArguments.biasAdd(rows, cols, xb, bb, ob);
    context.launchElementwise(Kernel.BIAS_ADD, (long) rows * cols, xb.pointer, bb.pointer, ob.pointer, rows, cols,
        relu ? 1 : 0);
  }

  @Override
  public void rowNorms(DeviceBuffer x, int rows, int cols, int ld, DeviceBuffer out) {
    CudaBuffer xb = f32(x, "x");
    CudaBuffer ob = f32(out, "out");
    KernelArguments.rowNorms(rows, cols, ld, xb, ob);
    context.launch(Kernel.ROW_NORMS, rows, BLOCK, 0, xb.pointer, rows, cols, ld, ob.pointer);
  }

  /**
   * {@inheritDoc}
   *
   * <p>One block per row sorts the row's {@code k} winners by a bitonic network, in shared memory
   * when {@code k <= 2048} and otherwise in global scratch, taken a batch of rows at a time so
   * that the scratch stays under 256 MiB.
   */
  @Override
  public void topK(DeviceBuffer x, int rows, int cols, int k, DeviceBuffer values, DeviceBuffer indices) {
    CudaBuffer xb = f32(x, "x");
    CudaBuffer vb = f32(values, "values");
    CudaBuffer ib = buffer(indices, "indices", DType.I32);
    KernelArguments.topK(rows, cols, k, xb, vb, ib);
    if (k == 0 || rows == 0) {
      return;
    }
    if (k > 1 << 30) {
      throw new IllegalArgumentException("top-k on cuda keeps at most 2^30 elements a row, got k = " + k);
    }
    int kpad = Integer.highestOneBit(k) == k ? k : Integer.highestOneBit(k) << 1;
    if (kpad <= SHARED_SORT) {
      context.launch(Kernel.ROW_TOP_K, rows, BLOCK, 8 * kpad, xb.pointer, rows, cols, k, kpad, vb.pointer,
          ib.pointer, 0L);
      return;
    }
    synchronized (lock) {
      int batch = (int) Math.max(1, Math.min(rows, TOPK_SCRATCH / (8L * kpad)));
      DevicePointer sort = scratch(8L * kpad * batch);
      for (int r0 = 0; r0 < rows; r0 += batch) {
        int n = Math.min(batch, rows - r0);
        context.launch(Kernel.ROW_TOP_K, n, BLOCK, 0, xb.at((long) r0 * cols), n, cols, k, kpad,
            vb.at((long) r0 * k), ib.at((long) r0 * k), sort);
      }
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>A radix select on 64-bit keys (the score's order in the high half, the complement of the
   * position in the low half, so keys are distinct and ties go to the lower position): eight
   * passes of an 8-bit histogram, each narrowing the prefix of the {@code keep}-th largest key;
   * once the score bits are fixed, a bucket that holds exactly the elements still wanted ends the
   * search early. A last pass zeroes every element below the threshold key.
   *
   * @throws IllegalArgumentException also for buffers of 2^32 elements or more
   */
  @Override
  public float batchTopK(DeviceBuffer scores, long keep, DeviceBuffer x) {
    CudaBuffer sb = f32(scores, "scores");
    CudaBuffer xb = f32(x, "x");
    KernelArguments.batchTopK(sb, keep, xb);
    long n = sb.size();
    if (n >= 1L << 32) {
      throw new IllegalArgumentException("batchTopK on cuda takes fewer than 2^32 elements, got " + n);
    }
    if (keep == 0) {
      fill(xb, 0f);
      return Float.POSITIVE_INFINITY;
    }
    long prefix;
    synchronized (lock) {
      DevicePointer counts = scratch(4 * 256);
      int[] hist = new int[256];
      prefix = thresholdKey(Math.min(keep, n), (p, shift) -> {
        context.set32(counts, 0, 256);
        context.launchElementwise(Kernel.RADIX_HISTOGRAM, n, sb.pointer, n, p, shift, counts);
        context.copyToHost(Pointer.to(hist), counts, 4 * 256);
        return hist;
      });
    }
    context.launchElementwise(Kernel.BATCH_TOP_K_MASK, n, sb.pointer, xb.pointer, n, prefix);
    return decodeOrderedFloat((int) (prefix >>> 32));
  }

  /** One radix pass: the 256-bin histogram of digit {@code shift} over the keys that share {@code prefix} above it. */
  @FunctionalInterface
  interface RadixPass {
    int[] histogram(long prefix, int shift);
  }

  /**
   * The host side of the BatchTopK radix select: the 64-bit key of the {@code wanted}-th largest
   * element, or a smaller key that exactly {@code wanted} keys reach, found by passes from the top
   * digit down. Before each pass {@code wanted} counts the keys still to be found among those that
   * share the prefix; the digit is where the running count from 255 down reaches it. Once the 32
   * score bits are fixed (after the pass at shift 32) a bucket holding exactly what is still wanted
   * is kept whole, and the search ends.
   */
  static long thresholdKey(long wanted, RadixPass pass) {
    long prefix = 0;
    for (int shift = 56; shift >= 0; shift -= 8) {
      int[] hist = pass.histogram(prefix, shift);
      long above = 0;
      int digit = 255;
      for (; digit > 0; digit--) {
        long c = Integer.toUnsignedLong(hist[digit]);
        if (above + c >= wanted) {
          break;
        }
        above += c;
      }
      wanted -= above;
      prefix |= (long) digit << shift;
      if (shift <= 32 && Integer.toUnsignedLong(hist[digit]) == wanted) {
        break;
      }
    }
    return prefix;
  }

  /** The float whose order key (as in the kernels) is {@code ord}. */
  static float decodeOrderedFloat(int ord) {
    int bits = ord < 0 ? ord & 0x7fffffff : ~ord;
    return Float.intBitsToFloat(bits);
  }

  // ---------------------------------------------------------------- element-wise kernels

  @Override
  public void axpy(float alpha, DeviceBuffer x, DeviceBuffer y) {
    CudaBuffer xb = f32(x, "x");
    CudaBuffer yb = f32(y, "y");
    KernelArguments.sameSize(xb, "x", yb, "y");
    KernelArguments.inPlaceOrDisjoint(xb, "x", yb);
    context.launchElementwise(Kernel.AXPY, xb.size(), xb.pointer, yb.pointer, xb.size(), alpha);
  }

  @Override
  public void scale(float alpha, DeviceBuffer x) {
    CudaBuffer xb = f32(x, "x");
    context.launchElementwise(Kernel.SCALE, xb.size(), xb.pointer, xb.size(), alpha);
  }

  @Override
  public void add(DeviceBuffer x, DeviceBuffer y, DeviceBuffer out) {
    binary(Kernel.ADD, x, y, out);
  }

  @Override
  public void subtract(DeviceBuffer x, DeviceBuffer y, DeviceBuffer out) {
    binary(Kernel.SUBTRACT, x, y, out);
  }

  @Override
  public void multiply(DeviceBuffer x, DeviceBuffer y, DeviceBuffer out) {
    binary(Kernel.MULTIPLY, x, y, out);
  }

  private void binary(Kernel kernel, DeviceBuffer x, DeviceBuffer y, DeviceBuffer out) {
    CudaBuffer xb = f32(x, "x");
    CudaBuffer yb = f32(y, "y");
    CudaBuffer ob = f32(out, "out");
    KernelArguments.binary(xb, yb, ob);
    context.launchElementwise(kernel, xb.size(), xb.pointer, yb.pointer, ob.pointer, xb.size());
  }

  @Override
  public void reluBackward(DeviceBuffer grad, DeviceBuffer activation, DeviceBuffer out) {
    CudaBuffer g = f32(grad, "grad");
    CudaBuffer a = f32(activation, "activation");
    CudaBuffer o = f32(out, "out");
    KernelArguments.reluBackward(g, a, o);
    context.launchElementwise(Kernel.RELU_BACKWARD, g.size(), g.pointer, a.pointer, o.pointer, g.size());
  }

  // ---------------------------------------------------------------- reductions

  @Override
  public double sum(DeviceBuffer x) {
    return reduce(f32(x, "x"), false);
  }

  @Override
  public double sumOfSquares(DeviceBuffer x) {
    return reduce(f32(x, "x"), true);
  }

  private double reduce(CudaBuffer xb, boolean squares) {
    long n = xb.size();
    if (n == 0) {
      return 0;
    }
    long blocks = (n + SUM_BLOCK - 1) / SUM_BLOCK;
    double[] total = new double[1];
    synchronized (lock) {
      DevicePointer partial = scratch(8 * (blocks + 1));
      DevicePointer out = partial.plus(8 * blocks);
      context.launch(Kernel.BLOCK_SUMS, blocks, BLOCK, 0, xb.pointer, n, squares ? 1 : 0, partial);
      context.launch(Kernel.SUM_F64, 1, BLOCK, 0, partial, blocks, out);
      context.copyToHost(Pointer.to(total), out, 8);
    }
    return total[0];
  }

  @Override
  public void columnSums(DeviceBuffer x, int rows, int cols, DeviceBuffer out) {
    CudaBuffer xb = f32(x, "x");
    CudaBuffer ob = f32(out, "out");
    KernelArguments.columnSums(rows, cols, xb, ob);
    context.launchElementwise(Kernel.COLUMN_SUMS, cols, xb.pointer, rows, cols, ob.pointer);
  }

  // ---------------------------------------------------------------- optimiser

  @Override
  public void adam(DeviceBuffer param, DeviceBuffer grad, DeviceBuffer m, DeviceBuffer v, float lr,
      float beta1, float beta2, float eps, long step) {
    KernelArguments.adamHyperParameters(lr, beta1, beta2, eps, step);
    CudaBuffer p = f32(param, "param");
    CudaBuffer g = f32(grad, "grad");
    CudaBuffer mb = f32(m, "m");
    CudaBuffer vb = f32(v, "v");
    KernelArguments.adamBuffers(p, g, mb, vb);
    // As on the CPU: the bias corrections in f64 once per call, folded into two f32 factors.
    float stepSize = (float) (lr / (1 - Math.pow(beta1, step)));
    float rsqrtBc2 = (float) (1 / Math.sqrt(1 - Math.pow(beta2, step)));
    context.launchElementwise(Kernel.ADAM, p.size(), p.pointer, g.pointer, mb.pointer, vb.pointer, p.size(),
        beta1, beta2, stepSize, rsqrtBc2, eps);
  }

  // ---------------------------------------------------------------- transformer kernels

  /**
   * {@inheritDoc}
   *
   * <p>One block per row ({@code cc_rms_norm_f32}), or one warp per row where rows have at most
   * {@value #WARP_ROW_COLS} columns ({@code cc_rms_norm_warp_f32}: a Qwen3 per-head norm, where a
   * block of 256 threads would mostly idle). Squares are exact in f64 and summed in f64, so the
   * result is within 4 roundings of the f64 formula.
   */
  @Override
  public void rmsNorm(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer out, int rows, int cols, float eps) {
    CudaBuffer xb = f32(x, "x");
    CudaBuffer wb = f32(weight, "weight");
    CudaBuffer ob = f32(out, "out");
    KernelArguments.rmsNorm(xb, wb, ob, rows, cols, eps);
    if (rows == 0 || cols == 0) {
      return;
    }
    if (cols <= WARP_ROW_COLS) {
      context.launch(Kernel.RMS_NORM_WARP, (rows + 7L) / 8, BLOCK, 0, xb.pointer, wb.pointer, ob.pointer, rows, cols, eps);
    } else {
      context.launch(Kernel.RMS_NORM, rows, BLOCK, 0, xb.pointer, wb.pointer, ob.pointer, rows, cols, eps);
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>The positions are checked on the host, as the row starts of {@link #spmm} are (one per row,
   * so few): that copy waits for the work issued before it. The rotation itself rounds as the CPU
   * does (each product, then the sum), so the two backends agree bit for bit.
   */
  @Override
  public void rotaryEmbedding(DeviceBuffer x, int rows, int heads, int headDim, DeviceBuffer positions,
      DeviceBuffer cos, DeviceBuffer sin) {
    CudaBuffer xb = f32(x, "x");
    CudaBuffer pb = buffer(positions, "positions", DType.I32);
    CudaBuffer cb = f32(cos, "cos");
    CudaBuffer sb = f32(sin, "sin");
    KernelArguments.rotaryEmbedding(xb, rows, heads, headDim, pb, cb, sb);
    int half = headDim / 2;
    int tableRows = (int) Math.min(Integer.MAX_VALUE, cb.size() / half);
    int[] pos = new int[rows];
    download(pb, 0, pos, 0, rows);
    KernelArguments.positions(pos, tableRows);
    context.launchElementwise(Kernel.ROTARY, (long) rows * heads * half, xb.pointer, pb.pointer, cb.pointer,
        sb.pointer, rows, heads, half, tableRows);
  }

  /**
   * {@inheritDoc}
   *
   * <p>One block per row. The exponentials are CUDA's {@code expf} (within 2 ulp) and their sum
   * runs in f64, so results agree with the CPU to a few roundings, not bit for bit.
   */
  @Override
  public void causalSoftmax(DeviceBuffer x, int rows, int cols, int ld, int firstQuery, int window) {
    CudaBuffer xb = f32(x, "x");
    KernelArguments.causalSoftmax(xb, rows, cols, ld, firstQuery);
    if (rows == 0 || cols == 0) {
      return;
    }
    context.launch(Kernel.CAUSAL_SOFTMAX, rows, BLOCK, 0, xb.pointer, rows, cols, ld, firstQuery, window);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Rounds as the CPU's scalar loop does, except that {@code expf} is within 2 ulp.
   */
  @Override
  public void siluMultiply(DeviceBuffer gate, DeviceBuffer up, DeviceBuffer out) {
    CudaBuffer g = f32(gate, "gate");
    CudaBuffer u = f32(up, "up");
    CudaBuffer o = f32(out, "out");
    KernelArguments.siluMultiply(g, u, o);
    context.launchElementwise(Kernel.SILU_MULTIPLY, g.size(), g.pointer, u.pointer, o.pointer, g.size());
  }

  // ---------------------------------------------------------------- scratch and lifetime

  /** Device scratch of at least {@code bytes}, grown as needed; callers hold {@link #lock}. */
  private DevicePointer scratch(long bytes) {
    if (scratch == null || scratch.bytes() < bytes) {
      if (scratch != null) {
        context.synchronize(); // earlier launches may still read the old scratch
        scratch.close();
      }
      scratch = context.allocate(Math.max(bytes, 1 << 16));
    }
    return scratch.pointer();
  }

  /** The pinned staging buffer, made on first use; callers hold {@link #lock}. */
  private PinnedMemory staging() {
    if (staging == null) {
      staging = context.pinned(STAGING);
    }
    return staging;
  }

  /**
   * Frees the scratch and staging memory and the cuBLAS handle; every later call is refused.
   * Buffers stay the caller's to close. Idempotent.
   */
  @Override
  public void close() {
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      RuntimeException failure = Resources.closeAll(context::synchronize, scratch, staging, cublas);
      scratch = null;
      staging = null;
      if (failure != null) {
        throw failure;
      }
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("these cuda kernels are closed");
    }
  }

  private CudaBuffer buffer(DeviceBuffer b, String name, DType... types) {
    ensureOpen();
    return KernelArguments.buffer(b, name, this, CudaBuffer.class, types);
  }

  private CudaBuffer f32(DeviceBuffer b, String name) {
    return buffer(b, name, DType.F32);
  }
}
