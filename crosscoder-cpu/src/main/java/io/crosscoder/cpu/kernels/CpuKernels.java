package io.crosscoder.cpu.kernels;

import io.crosscoder.CrosscoderException;
import io.crosscoder.backend.BackendOptions;
import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.internal.HostKernels;
import io.crosscoder.backend.internal.KernelArguments;
import io.crosscoder.backend.Kernels;
import io.crosscoder.cpu.blas.OpenBlas;
import io.crosscoder.cpu.gemm.Blocking;
import io.crosscoder.cpu.gemm.MatrixOperand;
import io.crosscoder.cpu.gemm.MicroKernel;
import io.crosscoder.cpu.gemm.MicroKernels;
import io.crosscoder.cpu.gemm.Sgemm;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.FloatFormats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * {@link Kernels} on the CPU: Java kernels (Vector API with a plain-Java fallback) over native
 * memory, a packed and blocked multi-threaded SGEMM ({@link Sgemm}), and OpenBLAS's {@code
 * cblas_sgemm} for f32 products when asked for and installed.
 *
 * <p><b>Why native memory.</b> Buffers are off-heap {@link MemorySegment}s, each with its own
 * shared arena, rather than {@code float[]}: activation and gradient buffers of a crosscoder run to
 * hundreds of MiB to GiB ({@code 4096 x 65536} floats is 1 GiB) and may pass 2^31 elements; off
 * the heap they neither need a large {@code -Xmx} nor load the garbage collector; {@link
 * DeviceBuffer#close()} frees them at once, as a GPU backend frees device memory; OpenBLAS reads
 * them in place without a copy; and tensors mapped from safetensors files upload by a bulk copy.
 * The hot loop of the GEMM reads its own packed heap arrays, so native storage costs it nothing.
 *
 * <p><b>Threads.</b> A {@link WorkerPool} of {@code threads} threads (the caller plus {@code
 * threads - 1} daemon workers) owned by this object; {@link #close()} ends it. Calls from several
 * threads at once are safe on disjoint outputs and share the pool.
 *
 * <p><b>Choice of code path.</b> The Vector API is used when asked for and {@link VectorSupport}
 * finds it usable ({@code --add-modules jdk.incubator.vector} and C2); {@link #of(BackendOptions)}
 * asks for it unless the options (or {@code -Dcrosscoder.cpu.vector=false}) turn it off; {@link
 * #usesVector()} tells. OpenBLAS is used only when asked
 * for ({@link #CpuKernels(int, boolean, boolean)} or {@link #withDefaults()}), and only for f32
 * operands; bf16 operands always take the Java GEMM.
 */
public final class CpuKernels implements Kernels {
  static {
    SegmentClasses.load();
  }

  private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
  private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
  private static final ValueLayout.OfShort H = ValueLayout.JAVA_SHORT;
  private static final ValueLayout.OfFloat F_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort H_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  /** Elements per thread below which a streaming kernel stays on one thread. */
  private static final long GRAIN = 1 << 16;
  /** Elements per heap chunk when converting between f32 and bf16. */
  private static final int CHUNK = 1 << 14;

  private final WorkerPool pool;
  private final boolean vector;
  private final ElementwiseOps ops;
  private final Sgemm sgemm;
  private final OpenBlas openBlas;

  /**
   * Kernels with {@code threads} threads and the Java SGEMM.
   *
   * @param threads threads per call, counting the caller; at least 1
   * @param vector whether to use the Vector API where {@link VectorSupport} finds it usable
   *     (otherwise, and when it is not usable, the plain-Java kernels)
   */
  public CpuKernels(int threads, boolean vector) {
    this(threads, vector, false);
  }

  /**
   * Kernels with {@code threads} threads; with {@code openBlas}, f32 products go to OpenBLAS.
   *
   * @throws CrosscoderException if {@code openBlas} is asked for and cannot be loaded (the message
   *     says why and how to install it)
   */
  public CpuKernels(int threads, boolean vector, boolean openBlas) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be at least 1, got " + threads);
    }
    this.openBlas = openBlas ? OpenBlas.require() : null;
    this.vector = vector && VectorSupport.get().usable();
    this.ops = this.vector ? vectorOps() : new ScalarElementwise();
    MicroKernel kernel = this.vector ? MicroKernels.vector() : MicroKernels.scalar();
    this.sgemm = new Sgemm(kernel, Blocking.forThisMachine());
    this.pool = new WorkerPool(threads);
  }

  /**
   * Kernels for this machine: {@link Runtime#availableProcessors()} threads, the Vector API when
   * usable, and OpenBLAS for f32 products when it can be loaded; the system properties may say
   * otherwise ({@link #of(BackendOptions)} with {@link BackendOptions#DEFAULTS}).
   */
  public static CpuKernels withDefaults() {
    return of(BackendOptions.DEFAULTS);
  }

  /**
   * Kernels as {@code options} say: {@link BackendOptions#threadsOrDefault()} threads, the Vector
   * API when {@link VectorSupport#use} allows, and the GEMM of {@link BackendOptions#gemmOrDefault()}
   * ({@code AUTO}: OpenBLAS for f32 products when it can be loaded, else Java).
   *
   * @param options the backend's options
   * @return new kernels; the caller closes them
   * @throws CrosscoderException if {@link BackendOptions.Gemm#OPENBLAS} is asked for and cannot be
   *     loaded (the message says why and how to install it)
   */
  public static CpuKernels of(BackendOptions options) {
    boolean blas = switch (options.gemmOrDefault()) {
      case AUTO -> OpenBlas.load().blas().isPresent();
      case JAVA -> false;
      case OPENBLAS -> true;
    };
    return new CpuKernels(options.threadsOrDefault(), options.vectorApiOrDefault(), blas);
  }

  private static ElementwiseOps vectorOps() {
    try {
      return (ElementwiseOps) Class.forName("io.crosscoder.cpu.kernels.VectorElementwise")
          .getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException | LinkageError e) {
      throw new CrosscoderException("the Vector API kernels cannot be loaded: " + e, e);
    }
  }

  /** Threads per call, counting the caller. */
  public int threads() {
    return pool.threads();
  }

  /** Whether the Vector API kernels are in use. */
  public boolean usesVector() {
    return vector;
  }

  /** Whether f32 products go to OpenBLAS. */
  public boolean usesOpenBlas() {
    return openBlas != null;
  }

  @Override
  public String description() {
    String path = vector ? "Vector API " + VectorSupport.get().bits() + "-bit" : "plain Java";
    String gemm = openBlas != null
        ? "OpenBLAS (" + openBlas.config() + ") for f32, " + sgemm.kernel().name() + " for bf16"
        : sgemm.kernel().name() + " " + sgemm.blocking();
    return "cpu: " + path + ", " + threads() + " threads, sgemm " + gemm;
  }

  // ---------------------------------------------------------------- buffers and transfers

  @Override
  public DeviceBuffer allocate(DType dtype, long size) {
    KernelArguments.allocation(dtype, size);
    Arena arena = Arena.ofShared();
    try {
      MemorySegment segment = arena.allocate(size * dtype.byteSize(), 64);
      return new CpuBuffer(this, dtype, size, arena, segment);
    } catch (OutOfMemoryError | IllegalArgumentException e) {
      arena.close();
      throw new CrosscoderException("cannot allocate a " + dtype + " buffer of " + size + " elements ("
          + size * dtype.byteSize() + " bytes): " + e.getMessage(), e);
    }
  }

  @Override
  public void upload(float[] src, int srcOffset, DeviceBuffer dst, long dstOffset, int count) {
    Objects.checkFromIndexSize(srcOffset, count, src.length);
    CpuBuffer d = buffer(dst, "dst", DType.F32, DType.BF16);
    range(d, "dst", dstOffset, count);
    if (d.dtype() == DType.F32) {
      MemorySegment.copy(src, srcOffset, d.segment, F, dstOffset * 4, count);
    } else {
      short[] bits = new short[Math.min(count, CHUNK)];
      for (int done = 0; done < count; done += CHUNK) {
        int n = Math.min(CHUNK, count - done);
        toBf16(src, srcOffset + done, bits, n);
        MemorySegment.copy(bits, 0, d.segment, H, (dstOffset + done) * 2, n);
      }
    }
  }

  @Override
  public void upload(int[] src, int srcOffset, DeviceBuffer dst, long dstOffset, int count) {
    Objects.checkFromIndexSize(srcOffset, count, src.length);
    CpuBuffer d = buffer(dst, "dst", DType.I32);
    range(d, "dst", dstOffset, count);
    MemorySegment.copy(src, srcOffset, d.segment, I, dstOffset * 4, count);
  }

  @Override
  public void upload(MemorySegment src, DType srcType, DeviceBuffer dst, long dstOffset, long count) {
    Objects.requireNonNull(src, "src");
    KernelArguments.floatType(srcType, "srcType");
    CpuBuffer d = buffer(dst, "dst", DType.F32, DType.BF16);
    range(d, "dst", dstOffset, count);
    if (count > src.byteSize() / srcType.byteSize()) {
      throw new IllegalArgumentException("src holds " + src.byteSize() + " bytes, fewer than " + count
          + " elements of " + srcType);
    }
    convert(src, 0, srcType, true, d.segment, dstOffset, d.dtype(), false, count);
  }

  /**
   * A view of {@code src} without a copy when it is native memory whose address is a multiple of
   * the element size on a little-endian machine (a safetensors file mapped by crosscoder-io is:
   * its header is padded to 8 bytes and its tensors are laid out widest type first); otherwise a
   * copy, as the default does. The view is read-only: kernels that would write it throw at their
   * first write.
   */
  @Override
  public DeviceBuffer wrapReadOnly(MemorySegment src, DType type, long count) {
    KernelArguments.wrap(src, type, count);
    long bytes = count * type.byteSize();
    if (src.isNative() && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN
        && src.address() % type.byteSize() == 0) {
      return new CpuBuffer(this, type, count, src.asSlice(0, bytes).asReadOnly());
    }
    return Kernels.super.wrapReadOnly(src, type, count);
  }

  @Override
  public void download(DeviceBuffer src, long srcOffset, float[] dst, int dstOffset, int count) {
    Objects.checkFromIndexSize(dstOffset, count, dst.length);
    CpuBuffer s = buffer(src, "src", DType.F32, DType.BF16);
    range(s, "src", srcOffset, count);
    if (s.dtype() == DType.F32) {
      MemorySegment.copy(s.segment, F, srcOffset * 4, dst, dstOffset, count);
    } else {
      short[] bits = new short[Math.min(count, CHUNK)];
      for (int done = 0; done < count; done += CHUNK) {
        int n = Math.min(CHUNK, count - done);
        MemorySegment.copy(s.segment, H, (srcOffset + done) * 2, bits, 0, n);
        fromBf16(bits, dst, dstOffset + done, n);
      }
    }
  }

  @Override
  public void download(DeviceBuffer src, long srcOffset, int[] dst, int dstOffset, int count) {
    Objects.checkFromIndexSize(dstOffset, count, dst.length);
    CpuBuffer s = buffer(src, "src", DType.I32);
    range(s, "src", srcOffset, count);
    MemorySegment.copy(s.segment, I, srcOffset * 4, dst, dstOffset, count);
  }

  @Override
  public void download(DeviceBuffer src, long srcOffset, MemorySegment dst, DType dstType, long count) {
    Objects.requireNonNull(dst, "dst");
    KernelArguments.floatType(dstType, "dstType");
    CpuBuffer s = buffer(src, "src", DType.F32, DType.BF16);
    range(s, "src", srcOffset, count);
    if (count > dst.byteSize() / dstType.byteSize()) {
      throw new IllegalArgumentException("dst holds " + dst.byteSize() + " bytes, fewer than " + count
          + " elements of " + dstType);
    }
    convert(s.segment, srcOffset, s.dtype(), false, dst, 0, dstType, true, count);
  }

  @Override
  public void copy(DeviceBuffer src, DeviceBuffer dst) {
    CpuBuffer s = buffer(src, "src", DType.F32, DType.BF16, DType.I32);
    CpuBuffer d = buffer(dst, "dst", DType.F32, DType.BF16, DType.I32);
    if (KernelArguments.copy(s, d)) {
      return;
    }
    if (s.dtype() == d.dtype()) {
      MemorySegment.copy(s.segment, 0, d.segment, 0, s.byteSize());
      return;
    }
    pool.forRange(s.size(), GRAIN, 64, (from, to) ->
        convert(s.segment, from, s.dtype(), false, d.segment, from, d.dtype(), false, to - from));
  }

  /**
   * Converts {@code count} elements between F32 and BF16 segments, native or little-endian order,
   * through heap chunks: bulk copies in and out, and a plain loop over arrays for the rounding.
   */
  private static void convert(MemorySegment src, long srcIndex, DType srcType, boolean srcLe,
      MemorySegment dst, long dstIndex, DType dstType, boolean dstLe, long count) {
    ValueLayout.OfFloat sf = srcLe ? F_LE : F;
    ValueLayout.OfShort sh = srcLe ? H_LE : H;
    ValueLayout.OfFloat df = dstLe ? F_LE : F;
    ValueLayout.OfShort dh = dstLe ? H_LE : H;
    if (srcType == dstType) {
      if (srcType.byteSize() == 4) {
        MemorySegment.copy(src, sf, srcIndex * 4, dst, df, dstIndex * 4, count);
      } else {
        MemorySegment.copy(src, sh, srcIndex * 2, dst, dh, dstIndex * 2, count);
      }
      return;
    }
    int chunk = (int) Math.min(count, CHUNK);
    float[] floats = new float[chunk];
    short[] bits = new short[chunk];
    for (long done = 0; done < count; done += CHUNK) {
      int n = (int) Math.min(CHUNK, count - done);
      if (srcType == DType.F32) {
        MemorySegment.copy(src, sf, (srcIndex + done) * 4, floats, 0, n);
        toBf16(floats, 0, bits, n);
        MemorySegment.copy(bits, 0, dst, dh, (dstIndex + done) * 2, n);
      } else {
        MemorySegment.copy(src, sh, (srcIndex + done) * 2, bits, 0, n);
        fromBf16(bits, floats, 0, n);
        MemorySegment.copy(floats, 0, dst, df, (dstIndex + done) * 4, n);
      }
    }
  }

  /** {@code dst[i] = bf16(src[from + i])}, round to nearest even, as {@link FloatFormats#floatToBf16}. */
  private static void toBf16(float[] src, int from, short[] dst, int n) {
    for (int i = 0; i < n; i++) {
      dst[i] = FloatFormats.floatToBf16(src[from + i]);
    }
  }

  /** {@code dst[to + i] = f32(src[i])}, exact. */
  private static void fromBf16(short[] src, float[] dst, int to, int n) {
    for (int i = 0; i < n; i++) {
      dst[to + i] = Float.intBitsToFloat((src[i] & 0xffff) << 16);
    }
  }

  @Override
  public void fill(DeviceBuffer x, float value) {
    CpuBuffer b = f32(x, "x");
    pool.forRange(b.size(), GRAIN, 64, (from, to) -> ops.fill(b.segment, from, to, value));
  }

  // ---------------------------------------------------------------- dense products

  @Override
  public void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, DeviceBuffer a,
      int lda, DeviceBuffer b, int ldb, float beta, DeviceBuffer c, int ldc) {
    CpuBuffer ab = buffer(a, "a", DType.F32, DType.BF16);
    CpuBuffer bb = buffer(b, "b", DType.F32, DType.BF16);
    CpuBuffer cb = f32(c, "c");
    KernelArguments.sgemm(transA, transB, m, n, k, ab, lda, bb, ldb, cb, ldc);
    if (m == 0 || n == 0) {
      return;
    }
    if (openBlas != null && k > 0 && alpha != 0f && ab.dtype() == DType.F32 && bb.dtype() == DType.F32) {
      openBlas.sgemm(threads(), transA, transB, m, n, k, alpha, ab.segment, lda, bb.segment, ldb,
          beta, cb.segment, ldc);
      return;
    }
    sgemm.multiply(pool, transA, transB, m, n, k, alpha,
        new MatrixOperand(ab.segment, 0, lda, ab.dtype() == DType.BF16),
        new MatrixOperand(bb.segment, 0, ldb, bb.dtype() == DType.BF16),
        beta, cb.segment, 0, ldc);
  }

  @Override
  public void spmm(boolean transS, int rows, int cols, int n, float alpha, DeviceBuffer rowStart,
      DeviceBuffer colIndex, DeviceBuffer values, DeviceBuffer dense, float beta, DeviceBuffer out) {
    CpuBuffer rs = buffer(rowStart, "rowStart", DType.I32);
    CpuBuffer ci = buffer(colIndex, "colIndex", DType.I32);
    CpuBuffer vs = f32(values, "values");
    CpuBuffer d = f32(dense, "dense");
    CpuBuffer o = f32(out, "out");
    KernelArguments.spmm(transS, rows, cols, n, rs, d, vs, o);
    long nnz = SparseRows.validate(rows, cols, rs.segment, ci.segment, ci.size(), vs.size());
    if (n == 0) {
      return;
    }
    SparseColumns.of(rows, cols, rs.segment, ci.segment, (int) nnz)
        .product(pool, ops, transS, rows, cols, n, alpha, vs.segment, d.segment, beta, o.segment);
  }

  @Override
  public void sddmm(int rows, int cols, int n, float alpha, DeviceBuffer a, DeviceBuffer b,
      DeviceBuffer rowStart, DeviceBuffer colIndex, DeviceBuffer out) {
    CpuBuffer ab = f32(a, "a");
    CpuBuffer bb = f32(b, "b");
    CpuBuffer rs = buffer(rowStart, "rowStart", DType.I32);
    CpuBuffer ci = buffer(colIndex, "colIndex", DType.I32);
    CpuBuffer o = f32(out, "out");
    KernelArguments.sddmm(rows, cols, n, ab, bb, rs, o);
    long nnz = SparseRows.validate(rows, cols, rs.segment, ci.segment, ci.size(), o.size());
    if (nnz == 0) {
      return;
    }
    SparseColumns.of(rows, cols, rs.segment, ci.segment, (int) nnz)
        .sddmm(pool, ops, cols, n, alpha, ab.segment, bb.segment, o.segment);
  }

  @Override
  public void denseTransposedSparse(int rows, int cols, int n, float alpha, DeviceBuffer dense,
      DeviceBuffer rowStart, DeviceBuffer colIndex, DeviceBuffer values, float beta, DeviceBuffer out) {
    CpuBuffer d = f32(dense, "dense");
    CpuBuffer rs = buffer(rowStart, "rowStart", DType.I32);
    CpuBuffer ci = buffer(colIndex, "colIndex", DType.I32);
    CpuBuffer vs = f32(values, "values");
    CpuBuffer o = f32(out, "out");
    KernelArguments.denseTransposedSparse(rows, cols, n, d, rs, vs, o);
    long nnz = SparseRows.validate(rows, cols, rs.segment, ci.segment, ci.size(), vs.size());
    if (n == 0 || cols == 0) {
      return;
    }
    SparseColumns.of(rows, cols, rs.segment, ci.segment, (int) nnz)
        .denseTransposed(pool, ops, cols, n, alpha, d.segment, vs.segment, beta, o.segment);
  }

  @Override
  public long denseToCsr(DeviceBuffer x, int rows, int cols, DeviceBuffer rowStart,
      DeviceBuffer colIndex, DeviceBuffer values) {
    CpuBuffer xb = f32(x, "x");
    CpuBuffer rs = buffer(rowStart, "rowStart", DType.I32);
    CpuBuffer ci = buffer(colIndex, "colIndex", DType.I32);
    CpuBuffer vs = f32(values, "values");
    KernelArguments.denseToCsr(rows, cols, xb, rs, vs);
    return SparseRows.compress(pool, xb.segment, rows, cols, rs.segment, ci.segment, ci.size(),
        vs.segment, vs.size());
  }

  @Override
  public long countPositive(DeviceBuffer x) {
    CpuBuffer xb = f32(x, "x");
    long n = xb.size();
    MemorySegment s = xb.segment;
    int parts = (int) Math.max(1, Math.min(threads(), n / GRAIN));
    long[] counts = new long[parts];
    pool.run(parts, p -> {
      long from = n * p / parts;
      long to = n * (p + 1) / parts;
      counts[p] = ops.countPositive(s, from, to);
    });
    long total = 0;
    for (long c : counts) {
      total += c;
    }
    return total;
  }

  @Override
  public void csrToDense(int rows, int cols, DeviceBuffer rowStart, DeviceBuffer colIndex,
      DeviceBuffer values, DeviceBuffer out) {
    CpuBuffer rs = buffer(rowStart, "rowStart", DType.I32);
    CpuBuffer ci = buffer(colIndex, "colIndex", DType.I32);
    CpuBuffer vs = f32(values, "values");
    CpuBuffer o = f32(out, "out");
    KernelArguments.csrToDense(rows, cols, rs, ci, vs, o);
    SparseRows.validate(rows, cols, rs.segment, ci.segment, ci.size(), vs.size());
    SparseRows.expand(pool, ops, rows, cols, rs.segment, ci.segment, vs.segment, o.segment);
  }

  // ---------------------------------------------------------------- row-wise kernels

  @Override
  public void biasAdd(DeviceBuffer x, DeviceBuffer bias, DeviceBuffer out, int rows, int cols, boolean relu) {
    CpuBuffer xb = f32(x, "x");
    CpuBuffer bb = f32(bias, "bias");
    CpuBuffer ob = f32(out, "out");
    KernelArguments.biasAdd(rows, cols, xb, bb, ob);
    pool.forRange(rows, Math.max(1, GRAIN / Math.max(1, cols)), 1, (from, to) -> {
      for (long r = from; r < to; r++) {
        ops.biasAddRow(xb.segment, bb.segment, ob.segment, r * cols, cols, relu);
      }
    });
  }

  @Override
  public void scaleColumns(DeviceBuffer x, DeviceBuffer scale, DeviceBuffer out, int rows, int cols) {
    CpuBuffer xb = f32(x, "x");
    CpuBuffer sb = f32(scale, "scale");
    CpuBuffer ob = f32(out, "out");
    KernelArguments.scaleColumns(rows, cols, xb, sb, ob);
    pool.forRange(rows, Math.max(1, GRAIN / Math.max(1, cols)), 1, (from, to) -> {
      for (long r = from; r < to; r++) {
        // (x * 1) * scale[c] is x * scale[c] exactly.
        ops.scaleRowByWeight(xb.segment, sb.segment, ob.segment, r * cols, cols, 1f);
      }
    });
  }

  @Override
  public void rowNorms(DeviceBuffer x, int rows, int cols, int ld, DeviceBuffer out) {
    CpuBuffer xb = f32(x, "x");
    CpuBuffer ob = f32(out, "out");
    KernelArguments.rowNorms(rows, cols, ld, xb, ob);
    pool.forRange(rows, Math.max(1, GRAIN / Math.max(1, cols)), 1, (from, to) -> {
      for (long r = from; r < to; r++) {
        long at = r * ld;
        ob.segment.setAtIndex(F, r, (float) Math.sqrt(ops.sumOfSquares(xb.segment, at, at + cols)));
      }
    });
  }

  @Override
  public void topK(DeviceBuffer x, int rows, int cols, int k, DeviceBuffer values, DeviceBuffer indices) {
    CpuBuffer xb = f32(x, "x");
    CpuBuffer vb = f32(values, "values");
    CpuBuffer ib = buffer(indices, "indices", DType.I32);
    KernelArguments.topK(rows, cols, k, xb, vb, ib);
    if (k == 0) {
      return;
    }
    pool.forRange(rows, Math.max(1, GRAIN / Math.max(1, cols)), 1, (from, to) ->
        RowTopK.rows(xb.segment, cols, k, vb.segment, ib.segment, (int) from, (int) to,
            new long[RowTopK.scratch(k)]));
  }

  @Override
  public float batchTopK(DeviceBuffer scores, long keep, DeviceBuffer x) {
    CpuBuffer sb = f32(scores, "scores");
    CpuBuffer xb = f32(x, "x");
    KernelArguments.batchTopK(sb, keep, xb);
    long n = sb.size();
    if (keep == 0) {
      fill(xb, 0f);
      return Float.POSITIVE_INFINITY;
    }
    if (keep >= n) {
      return BatchTopK.min(sb.segment, n);
    }
    return BatchTopK.select(pool, sb.segment, xb.segment, n, keep);
  }

  @Override
  public float batchTopKToCsr(DeviceBuffer x, DeviceBuffer columnScale, int rows, int cols, long keep,
      DeviceBuffer work, DeviceBuffer rowStart, DeviceBuffer colIndex, DeviceBuffer values) {
    CpuBuffer xb = f32(x, "x");
    CpuBuffer sb = f32(columnScale, "columnScale");
    f32(work, "work");
    CpuBuffer rs = buffer(rowStart, "rowStart", DType.I32);
    CpuBuffer ci = buffer(colIndex, "colIndex", DType.I32);
    CpuBuffer vs = f32(values, "values");
    if (keep < 0) {
      throw new IllegalArgumentException("keep must be non-negative, got " + keep);
    }
    KernelArguments.denseToCsr(rows, cols, xb, rs, vs);
    if (sb.size() < cols) {
      throw new IllegalArgumentException("columnScale has " + sb.size() + " elements, needs " + cols);
    }
    if (keep == 0) {
      for (int r = 0; r <= rows; r++) {
        rs.segment.setAtIndex(ValueLayout.JAVA_INT, r, 0);
      }
      return Float.POSITIVE_INFINITY;
    }
    // The work buffer is the default implementation's; this one reads x and writes the rows only.
    return BatchTopK.selectToCsr(pool, ops, xb.segment, sb.segment, rows, cols, keep, rs.segment, ci.segment, ci.size(),
        vs.segment, vs.size());
  }

  @Override
  public void topKOfColumns(DeviceBuffer x, int rows, int cols, DeviceBuffer columns, int count, int k,
      DeviceBuffer work, DeviceBuffer values, DeviceBuffer indices) {
    CpuBuffer xb = f32(x, "x");
    CpuBuffer cb = buffer(columns, "columns", DType.I32);
    f32(work, "work");
    CpuBuffer vb = f32(values, "values");
    CpuBuffer ib = buffer(indices, "indices", DType.I32);
    if (count < 0 || count > cols || k > count) {
      throw new IllegalArgumentException("need 0 <= count <= cols and k <= count: cols " + cols + ", count " + count
          + ", k " + k);
    }
    KernelArguments.topK(rows, cols, k, xb, vb, ib);
    if (cb.size() < count) {
      throw new IllegalArgumentException("columns has " + cb.size() + " elements, needs " + count);
    }
    int[] list = cb.segment.asSlice(0, count * 4L).toArray(ValueLayout.JAVA_INT);
    for (int j = 0; j < count; j++) {
      if (list[j] < 0 || list[j] >= cols || (j > 0 && list[j] <= list[j - 1])) {
        throw new IllegalArgumentException("columns must be strictly increasing in [0, " + cols + "), found "
            + list[j] + " at " + j);
      }
    }
    if (k == 0) {
      return;
    }
    pool.forRange(rows, Math.max(1, GRAIN / Math.max(1, count)), 1, (from, to) ->
        RowTopK.rows(xb.segment, cols, list, count, k, vb.segment, ib.segment, (int) from, (int) to,
            new long[RowTopK.scratch(k)]));
  }

  // ---------------------------------------------------------------- element-wise kernels

  @Override
  public void axpy(float alpha, DeviceBuffer x, DeviceBuffer y) {
    CpuBuffer xb = f32(x, "x");
    CpuBuffer yb = f32(y, "y");
    KernelArguments.sameSize(xb, "x", yb, "y");
    KernelArguments.inPlaceOrDisjoint(xb, "x", yb);
    pool.forRange(xb.size(), GRAIN, 64, (from, to) -> ops.axpy(alpha, xb.segment, from, yb.segment, from, to - from));
  }

  @Override
  public void scale(float alpha, DeviceBuffer x) {
    CpuBuffer xb = f32(x, "x");
    pool.forRange(xb.size(), GRAIN, 64, (from, to) -> ops.scale(alpha, xb.segment, from, to));
  }

  @Override
  public void add(DeviceBuffer x, DeviceBuffer y, DeviceBuffer out) {
    CpuBuffer[] b = binary(x, y, out);
    pool.forRange(b[0].size(), GRAIN, 64, (from, to) -> ops.add(b[0].segment, b[1].segment, b[2].segment, from, to));
  }

  @Override
  public void subtract(DeviceBuffer x, DeviceBuffer y, DeviceBuffer out) {
    CpuBuffer[] b = binary(x, y, out);
    pool.forRange(b[0].size(), GRAIN, 64, (from, to) -> ops.subtract(b[0].segment, b[1].segment, b[2].segment, from, to));
  }

  @Override
  public void multiply(DeviceBuffer x, DeviceBuffer y, DeviceBuffer out) {
    CpuBuffer[] b = binary(x, y, out);
    pool.forRange(b[0].size(), GRAIN, 64, (from, to) -> ops.multiply(b[0].segment, b[1].segment, b[2].segment, from, to));
  }

  @Override
  public void reluBackward(DeviceBuffer grad, DeviceBuffer activation, DeviceBuffer out) {
    CpuBuffer g = f32(grad, "grad");
    CpuBuffer a = f32(activation, "activation");
    CpuBuffer o = f32(out, "out");
    KernelArguments.reluBackward(g, a, o);
    pool.forRange(g.size(), GRAIN, 64, (from, to) -> ops.reluBackward(g.segment, a.segment, o.segment, from, to));
  }

  private CpuBuffer[] binary(DeviceBuffer x, DeviceBuffer y, DeviceBuffer out) {
    CpuBuffer xb = f32(x, "x");
    CpuBuffer yb = f32(y, "y");
    CpuBuffer ob = f32(out, "out");
    KernelArguments.binary(xb, yb, ob);
    return new CpuBuffer[] {xb, yb, ob};
  }

  // ---------------------------------------------------------------- reductions

  @Override
  public double sum(DeviceBuffer x) {
    CpuBuffer xb = f32(x, "x");
    return reduce(xb, false);
  }

  @Override
  public double sumOfSquares(DeviceBuffer x) {
    CpuBuffer xb = f32(x, "x");
    return reduce(xb, true);
  }

  private double reduce(CpuBuffer xb, boolean squares) {
    long n = xb.size();
    int parts = (int) Math.max(1, Math.min(threads(), n / GRAIN));
    long blocks = (n + ElementwiseOps.SUM_BLOCK - 1) / ElementwiseOps.SUM_BLOCK;
    if (parts == 1 || blocks > Integer.MAX_VALUE) {
      return squares ? ops.sumOfSquares(xb.segment, 0, n) : ops.sum(xb.segment, 0, n);
    }
    // One f64 per block, added in block order below: the same additions in the same order as the
    // one-thread sum, so the total does not depend on the thread count (a resumed run on a machine
    // with other cores, or another CPU quota, continues bit for bit).
    double[] block = new double[(int) blocks];
    pool.run(parts, p -> {
      long b0 = blocks * p / parts;
      long b1 = blocks * (p + 1) / parts;
      for (long bi = b0; bi < b1; bi++) {
        long from = bi * ElementwiseOps.SUM_BLOCK;
        long to = Math.min(n, from + ElementwiseOps.SUM_BLOCK);
        block[(int) bi] = squares ? ops.sumOfSquares(xb.segment, from, to) : ops.sum(xb.segment, from, to);
      }
    });
    double total = 0;
    for (double d : block) {
      total += d;
    }
    return total;
  }

  @Override
  public void columnSums(DeviceBuffer x, int rows, int cols, DeviceBuffer out) {
    CpuBuffer xb = f32(x, "x");
    CpuBuffer ob = f32(out, "out");
    KernelArguments.columnSums(rows, cols, xb, ob);
    // Threads own column ranges, so each output is summed in row order whatever the thread count.
    pool.forRange(cols, Math.max(64, GRAIN / Math.max(1, rows)), 64, (c0, c1) -> {
      int width = (int) (c1 - c0);
      float[] run = new float[width];
      double[] total = new double[width];
      for (int r0 = 0; r0 < rows; r0 += 256) {
        Arrays.fill(run, 0f);
        int r1 = Math.min(rows, r0 + 256);
        for (long r = r0; r < r1; r++) {
          ops.addRowInto(xb.segment, r * cols + c0, run, width);
        }
        for (int c = 0; c < width; c++) {
          total[c] += run[c];
        }
      }
      for (int c = 0; c < width; c++) {
        ob.segment.setAtIndex(F, c0 + c, (float) total[c]);
      }
    });
  }

  // ---------------------------------------------------------------- optimiser

  @Override
  public void adam(DeviceBuffer param, DeviceBuffer grad, DeviceBuffer m, DeviceBuffer v, float lr,
      float beta1, float beta2, float eps, long step) {
    KernelArguments.adamHyperParameters(lr, beta1, beta2, eps, step);
    CpuBuffer p = f32(param, "param");
    CpuBuffer g = f32(grad, "grad");
    CpuBuffer mb = f32(m, "m");
    CpuBuffer vb = f32(v, "v");
    KernelArguments.adamBuffers(p, g, mb, vb);
    double bc1 = 1 - Math.pow(beta1, step);
    double bc2 = 1 - Math.pow(beta2, step);
    float stepSize = (float) (lr / bc1);
    float rsqrtBc2 = (float) (1 / Math.sqrt(bc2));
    pool.forRange(p.size(), GRAIN, 64, (from, to) ->
        ops.adam(p.segment, g.segment, mb.segment, vb.segment, from, to, beta1, beta2, stepSize, rsqrtBc2, eps));
  }

  // ---------------------------------------------------------------- transformer kernels

  @Override
  public void rmsNorm(DeviceBuffer x, DeviceBuffer weight, DeviceBuffer out, int rows, int cols, float eps) {
    KernelArguments.rmsNorm(x, weight, out, rows, cols, eps);
    CpuBuffer xb = f32(x, "x");
    CpuBuffer wb = f32(weight, "weight");
    CpuBuffer ob = f32(out, "out");
    pool.forRange(rows, Math.max(1, GRAIN / Math.max(1, cols)), 1, (from, to) -> {
      for (long r = from; r < to; r++) {
        long at = r * cols;
        double squares = ops.sumOfSquares(xb.segment, at, at + cols);
        float scale = (float) (1 / Math.sqrt(squares / cols + eps));
        ops.scaleRowByWeight(xb.segment, wb.segment, ob.segment, at, cols, scale);
      }
    });
  }

  @Override
  public void rotaryEmbedding(DeviceBuffer x, int rows, int heads, int headDim, DeviceBuffer positions,
      DeviceBuffer cos, DeviceBuffer sin) {
    KernelArguments.rotaryEmbedding(x, rows, heads, headDim, positions, cos, sin);
    CpuBuffer xb = f32(x, "x");
    CpuBuffer pb = buffer(positions, "positions", DType.I32);
    CpuBuffer cb = f32(cos, "cos");
    CpuBuffer sb = f32(sin, "sin");
    int half = headDim / 2;
    int[] pos = new int[rows];
    MemorySegment.copy(pb.segment, I, 0, pos, 0, rows);
    KernelArguments.positions(pos, (int) Math.min(Integer.MAX_VALUE, cb.size() / half));
    int width = heads * headDim;
    pool.forRange(rows, Math.max(1, GRAIN / Math.max(1, width)), 1, (from, to) -> {
      for (long r = from; r < to; r++) {
        long table = (long) pos[(int) r] * half;
        for (int h = 0; h < heads; h++) {
          ops.rotateHalf(xb.segment, r * width + (long) h * headDim, cb.segment, sb.segment, table, half);
        }
      }
    });
  }

  @Override
  public void causalSoftmax(DeviceBuffer x, int rows, int cols, int ld, int firstQuery, int window) {
    KernelArguments.causalSoftmax(x, rows, cols, ld, firstQuery);
    CpuBuffer xb = f32(x, "x");
    if (rows == 0 || cols == 0) {
      return;
    }
    pool.forRange(rows, Math.max(1, GRAIN / Math.max(1, cols)), 1, (from, to) -> {
      for (long i = from; i < to; i++) {
        long at = i * ld;
        int[] keys = HostKernels.visibleKeys(cols, firstQuery + i, window);
        int k0 = keys[0];
        int k1 = Math.max(keys[0], keys[1]);
        ops.fill(xb.segment, at, at + k0, 0f);
        ops.fill(xb.segment, at + k1, at + cols, 0f);
        if (k0 < k1) {
          float max = ops.max(xb.segment, at + k0, at + k1);
          double sum = ops.expShiftSum(xb.segment, at + k0, at + k1, max);
          ops.scale((float) (1 / sum), xb.segment, at + k0, at + k1);
        }
      }
    });
  }

  @Override
  public void siluMultiply(DeviceBuffer gate, DeviceBuffer up, DeviceBuffer out) {
    KernelArguments.siluMultiply(gate, up, out);
    CpuBuffer g = f32(gate, "gate");
    CpuBuffer u = f32(up, "up");
    CpuBuffer o = f32(out, "out");
    pool.forRange(g.size(), GRAIN / 4, 64, (from, to) -> ops.siluMultiply(g.segment, u.segment, o.segment, from, to));
  }

  /** Ends the worker threads. Buffers stay usable until closed by their owners. Idempotent. */
  @Override
  public void close() {
    pool.close();
  }

  // ---------------------------------------------------------------- argument checks

  private CpuBuffer buffer(DeviceBuffer b, String name, DType... types) {
    return KernelArguments.buffer(b, name, this, CpuBuffer.class, types);
  }

  private CpuBuffer f32(DeviceBuffer b, String name) {
    return buffer(b, name, DType.F32);
  }

  private static void range(CpuBuffer b, String name, long offset, long count) {
    KernelArguments.range(b, name, offset, count);
  }
}
