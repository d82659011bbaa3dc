package io.crosscoder.cpu.gemm;

import io.crosscoder.cpu.kernels.WorkerPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;

/**
 * Single-precision general matrix product in the GotoBLAS/BLIS structure (Goto and van de Geijn,
 * "Anatomy of high-performance matrix multiplication", 2008; Van Zee and van de Geijn, "BLIS",
 * 2015): five loops around a register-blocked {@link MicroKernel}, with panels of {@code op(B)}
 * and blocks of {@code op(A)} packed into contiguous arrays sized by {@link Blocking} so that the
 * kernel reads them at unit stride from cache. Packing also absorbs the transposes and widens
 * bf16 operands, so the kernel sees one layout.
 *
 * <pre>
 * for jc in n step nc              (threads own disjoint column ranges, or row ranges when m is wider)
 *   for group of depth blocks      pack op(B)[pc.., jc..] as kc x nr slivers, every pc of the group (L3)
 *     for ic in m step mc
 *       for pc in the group        pack op(A)[ic.., pc..] as mr x kc slivers      (L2)
 *         for jr in nc step nr
 *           for ir in mc step mr   micro-kernel: C[ic+ir.., jc+jr..] (+)= A sliver . B sliver
 * </pre>
 *
 * <p>With one depth block per group this is the textbook order ({@code pc} outside {@code ic}),
 * where each depth block reads and writes the whole of C again: at the crosscoder's shape (C 4096
 * x 16384, 256 MiB) every micro-kernel call then fetches its 8 x 48 tile of C from memory, 8 rows
 * 64 KiB apart. Keeping the packed B panels of several depth blocks ({@link
 * Blocking#packedBBytes()}) lets each {@code mc x nc} block of C (1.9 MiB) take all of them
 * while it is still in L2/L3; packing work is the same in both orders. Measured on Ice Lake (the
 * shared 2-core machine under load, the two orders alternated in one JVM, median of 6 per-pair
 * ratios, 32 MiB against none): 4096 x 3072 x 16384 NN 1.01 at 1 and at 2 threads (1.07 with
 * 16 MiB), 2048 x 3072 x 16384 NN 1.06, TN 1.04, NT 1.04 at 1 thread. Within the noise, and 24
 * MiB more per thread, so the default keeps one panel (the textbook order); {@code
 * -Dcrosscoder.cpu.gemm.packedBMiB=32} turns it on. For scale, C's memory traffic is worth
 * about 12% of the kernel time at this shape: timed around the loops, the micro-kernel calls of
 * m x 3072 x 16384 ran at 89 GFLOP/s with m = 240 (C 15.7 MiB, in L3) and at 79 with m = 2048 (C
 * 128 MiB), textbook order, 1 thread.
 *
 * <p>Semantics are those of {@code cblas_sgemm} with {@code CblasRowMajor}; see {@link
 * io.crosscoder.backend.Kernels#sgemm}. {@code beta} is applied on the first {@code kc} block and
 * never reads C when it is 0. Instances are immutable and thread-safe; packing buffers are
 * allocated per call and per thread, but packed B goes to native memory aligned to 64 bytes (see
 * {@link MicroKernel}) that each thread keeps for its next call.
 */
public final class Sgemm {
  /** Depths per block of {@link #packB}'s transpose: one 64-byte line of f32 per column read. */
  private static final int TRANSPOSE_BLOCK = 16;

  /** Rows of B that {@link #packB} stages at a time (not transposed): 128 KiB at nc 2048. */
  private static final int STAGED_DEPTHS = 16;

  /** Per thread, see {@link #nativeScratch}. */
  private static final ThreadLocal<MemorySegment[]> SCRATCH = ThreadLocal.withInitial(() -> new MemorySegment[1]);

  private final MicroKernel kernel;
  private final int mc;
  private final int kc;
  private final int nc;
  private final long packedBFloats;

  /**
   * A product with this kernel and blocking ({@code mc} and {@code nc} rounded up to the kernel's
   * tile), keeping up to {@link Blocking#packedBBytes()} of packed B per thread (one depth panel
   * at least).
   */
  public Sgemm(MicroKernel kernel, Blocking blocking) {
    this(kernel, blocking, Blocking.packedBBytes());
  }

  /**
   * A product with this kernel and blocking, keeping up to {@code packedBBytes} of packed {@code
   * op(B)} per thread: as many {@code kc x nc} depth panels as fit are packed together and each
   * block of C is finished for all of them before the next (at least one panel, whatever the
   * budget; {@code 0} gives the textbook loop order).
   */
  public Sgemm(MicroKernel kernel, Blocking blocking, long packedBBytes) {
    if (packedBBytes < 0) {
      throw new IllegalArgumentException("packedBBytes must be >= 0: " + packedBBytes);
    }
    this.packedBFloats = packedBBytes / 4;
    this.kernel = Objects.requireNonNull(kernel, "kernel");
    int mr = kernel.mr();
    int nr = kernel.nr();
    this.mc = roundUp(blocking.mc(), mr);
    this.kc = blocking.kc();
    this.nc = roundUp(blocking.nc(), nr);
  }

  /** The micro-kernel. */
  public MicroKernel kernel() {
    return kernel;
  }

  /** The blocking in use, after rounding. */
  public Blocking blocking() {
    return new Blocking(mc, kc, nc);
  }

  /**
   * {@code C = alpha * op(A) * op(B) + beta * C}, row-major, where C is the f32 matrix at element
   * {@code cOffset} of {@code c} with leading dimension {@code ldc}. Arguments are assumed checked
   * (shapes fit the segments); the caller validates them.
   */
  public void multiply(WorkerPool pool, boolean transA, boolean transB, int m, int n, int k,
      float alpha, MatrixOperand a, MatrixOperand b, float beta, MemorySegment c, long cOffset, int ldc) {
    if (m == 0 || n == 0) {
      return;
    }
    if (k == 0 || alpha == 0f) {
      scaleC(m, n, beta, c, cOffset, ldc);
      return;
    }
    int mr = kernel.mr();
    int nr = kernel.nr();
    // About 2 Mflop per thread before a second thread pays for its hand-off.
    long flops = 2L * m * n * k;
    int threads = (int) Math.max(1, Math.min(pool.threads(), flops / 2_000_000L));
    long mTiles = (m + mr - 1) / mr;
    long nTiles = (n + nr - 1) / nr;
    boolean splitN = nTiles >= threads && nTiles * nr >= mTiles * mr;
    long tiles = splitN ? nTiles : mTiles;
    threads = (int) Math.min(threads, tiles);
    int parts = threads;
    pool.run(parts, part -> {
      long tFrom = tiles * part / parts;
      long tTo = tiles * (part + 1) / parts;
      if (splitN) {
        int from = (int) (tFrom * nr);
        int to = (int) Math.min(n, tTo * nr);
        block(transA, transB, 0, m, from, to, k, alpha, a, b, beta, c, cOffset, ldc);
      } else {
        int from = (int) (tFrom * mr);
        int to = (int) Math.min(m, tTo * mr);
        block(transA, transB, from, to, 0, n, k, alpha, a, b, beta, c, cOffset, ldc);
      }
    });
  }

  /** The whole loop nest for rows {@code [m0, m1)} and columns {@code [n0, n1)} of C, on one thread. */
  private void block(boolean transA, boolean transB, int m0, int m1, int n0, int n1, int k,
      float alpha, MatrixOperand a, MatrixOperand b, float beta, MemorySegment c, long cOffset, int ldc) {
    if (m0 >= m1 || n0 >= n1) {
      return;
    }
    int mr = kernel.mr();
    int nr = kernel.nr();
    int mcMax = Math.min(mc, roundUp(m1 - m0, mr));
    int kcMax = Math.min(kc, k);
    int ncMax = Math.min(nc, roundUp(n1 - n0, nr));
    // Depth blocks are taken in groups whose packed B panels are kept together, so that each
    // block of C gets every depth block of a group while it is still in cache (see the class
    // comment); a group of one block is the textbook order.
    int kBlocks = (k + kcMax - 1) / kcMax;
    long panel = (long) kcMax * ncMax;
    // Capped so that offsets into the panels stay ints (the kernels take them) whatever the budget.
    long budget = Math.min(packedBFloats, Integer.MAX_VALUE - 8);
    int group = (int) Math.max(1, Math.min(kBlocks, budget / panel));
    float[] packA = new float[mcMax * kcMax];
    // B is packed into native memory aligned to 64 bytes, where the kernel reads it (MicroKernel
    // says why), through this small array (see packB).
    float[] staged = new float[stagedFloats(kcMax, ncMax)];
    int rowMax = Math.max(Math.max(mcMax, ncMax), kcMax);
    float[] row = new float[rowMax];
    float[] cols = new float[transB ? nr * kcMax : 0];
    short[] shorts = new short[rowMax];
    float[] tile = new float[mr * nr];
    MemorySegment scratch = nativeScratch(4L * group * panel + 4L * mr * nr);
    MemorySegment packB = scratch.asSlice(0, 4L * group * panel);
    // Partial tiles of C (the last rows and columns) go through this full tile, since kernels
    // take full tiles only (MicroKernel#multiply says why). Native, like the buffers the kernels
    // are given, so that the kernel's profile sees one kind of segment.
    MemorySegment edge = scratch.asSlice(4L * group * panel, 4L * mr * nr);
    for (int jc = n0; jc < n1; jc += nc) {
      int ncb = Math.min(nc, n1 - jc);
      for (int g0 = 0; g0 < k; g0 += group * kc) {
        int g1 = (int) Math.min(k, g0 + (long) group * kc);
        for (int pc = g0, q = 0; pc < g1; pc += kc, q++) {
          int kcb = Math.min(kc, k - pc);
          packB(b, transB, pc, kcb, jc, ncb, packB, 4L * q * panel, staged, row, cols, shorts);
        }
        for (int ic = m0; ic < m1; ic += mc) {
          int mcb = Math.min(mc, m1 - ic);
          for (int pc = g0, q = 0; pc < g1; pc += kc, q++) {
            int kcb = Math.min(kc, k - pc);
            packA(a, transA, ic, mcb, pc, kcb, packA, row, shorts);
            float betaBlock = pc == 0 ? beta : 1f;
            int bPanel = (int) (q * panel);
            for (int jr = 0; jr < ncb; jr += nr) {
              int nLive = Math.min(nr, ncb - jr);
              int bOffset = bPanel + jr * kcb;
              long cCol = cOffset + jc + jr;
              for (int ir = 0; ir < mcb; ir += mr) {
                int mLive = Math.min(mr, mcb - ir);
                long cAt = cCol + (long) (ic + ir) * ldc;
                if (mLive == mr && nLive == nr) {
                  kernel.multiply(kcb, packA, ir * kcb, packB, bOffset, alpha, betaBlock, c, cAt, ldc, tile);
                } else {
                  copyTile(c, cAt, ldc, edge, 0, nr, mLive, nLive);
                  kernel.multiply(kcb, packA, ir * kcb, packB, bOffset, alpha, betaBlock, edge, 0, nr, tile);
                  copyTile(edge, 0, nr, c, cAt, ldc, mLive, nLive);
                }
              }
            }
          }
        }
      }
    }
  }

  /**
   * This thread's native scratch of at least {@code bytes}, aligned to 64 bytes: packed B and
   * the edge tile. Kept per thread and reused, grown when a call needs more: a confined arena
   * per call (memory zeroed, fresh pages faulted in, freed at the end) made an 8 x 768 x 768
   * product, where B is packed for 8 rows of A, take 522 us instead of 434 (one thread). A
   * thread keeps at most its largest panel group (8 MiB at the default blocking); it is freed
   * with the thread, or when the collector finds a smaller one that was replaced.
   */
  private static MemorySegment nativeScratch(long bytes) {
    MemorySegment[] slot = SCRATCH.get();
    if (slot[0] == null || slot[0].byteSize() < bytes) {
      slot[0] = Arena.ofAuto().allocate(bytes, 64);
    }
    return slot[0];
  }

  /**
   * Packs {@code op(A)[ic .. ic+mc, pc .. pc+kc]} as {@code mr}-row slivers: sliver {@code s} at
   * {@code s * mr * kc}, element {@code (i, p)} at {@code + p * mr + i}; rows past {@code mc} are 0.
   */
  private void packA(MatrixOperand a, boolean trans, int ic, int mcb, int pc, int kcb,
      float[] dst, float[] row, short[] shorts) {
    int mr = kernel.mr();
    int padded = roundUp(mcb, mr);
    if (!trans) {
      // op(A)(i, p) = a[i * lda + p]: read along p, scatter with stride mr. The sliver (32 KiB at
      // kc 1024) stays in L1; B's blocked transpose, tried here, measured no faster.
      for (int i = 0; i < mcb; i++) {
        a.read((long) (ic + i) * a.ld() + pc, row, 0, kcb, shorts);
        int at = (i / mr) * mr * kcb + i % mr;
        for (int p = 0; p < kcb; p++, at += mr) {
          dst[at] = row[p];
        }
      }
    } else {
      // op(A)(i, p) = a[p * lda + i]: read along i, mr at a time into place.
      for (int p = 0; p < kcb; p++) {
        a.read((long) (pc + p) * a.ld() + ic, row, 0, mcb, shorts);
        for (int s = 0; s < mcb; s += mr) {
          int live = Math.min(mr, mcb - s);
          System.arraycopy(row, s, dst, s * kcb + p * mr, live);
        }
      }
    }
    for (int i = mcb; i < padded; i++) {
      int at = (i / mr) * mr * kcb + i % mr;
      for (int p = 0; p < kcb; p++, at += mr) {
        dst[at] = 0f;
      }
    }
  }

  /**
   * Packs {@code op(B)[pc .. pc+kc, jc .. jc+nc]} into {@code dst} from byte {@code dstAt} as
   * {@code nr}-column slivers: sliver {@code s} at float {@code s * nr * kc}, element {@code (p,
   * j)} at {@code + p * nr + j}; columns past {@code nc} are 0. The slivers are built in {@code
   * staged} ({@link #stagedFloats} floats, small enough for L2) a piece at a time, each piece
   * then copied into the native panel while it is still in cache: staging the whole panel (8
   * MiB) and copying it after cost an 8 x 768 x 768 product 14% against packing straight into an
   * array.
   */
  private void packB(MatrixOperand b, boolean trans, int pc, int kcb, int jc, int ncb,
      MemorySegment dst, long dstAt, float[] staged, float[] row, float[] cols, short[] shorts) {
    int nr = kernel.nr();
    int padded = roundUp(ncb, nr);
    if (!trans) {
      // op(B)(p, j) = b[p * ldb + j]: STAGED_DEPTHS rows of B at a time, read along j and put nr
      // at a time into place in staged (sliver by sliver), then each sliver's rows copied out.
      for (int p0 = 0; p0 < kcb; p0 += STAGED_DEPTHS) {
        int rows = Math.min(STAGED_DEPTHS, kcb - p0);
        for (int p = p0; p < p0 + rows; p++) {
          b.read((long) (pc + p) * b.ld() + jc, row, 0, ncb, shorts);
          for (int s = 0; s < ncb; s += nr) {
            int live = Math.min(nr, ncb - s);
            int at = (s / nr) * rows * nr + (p - p0) * nr;
            System.arraycopy(row, s, staged, at, live);
            Arrays.fill(staged, at + live, at + nr, 0f);
          }
        }
        for (int s = 0; s < padded; s += nr) {
          MemorySegment.copy(staged, (s / nr) * rows * nr, dst, ValueLayout.JAVA_FLOAT,
              dstAt + 4L * ((long) s * kcb + (long) p0 * nr), rows * nr);
        }
      }
    } else {
      // op(B)(p, j) = b[j * ldb + p]: the sliver's nr columns are read along p into cols, then
      // written out p by p in blocks of TRANSPOSE_BLOCK depths, so that the writes of a block (its
      // rows of the sliver) and the reads (one cache line of each column) stay in L1. Scattering
      // each column straight into the sliver, a stride of nr floats, missed L1 on every store
      // (the sliver is 128 KiB at kc 1024): an NT product ran 7-10% slower than NN.
      for (int s = 0; s < ncb; s += nr) {
        int live = Math.min(nr, ncb - s);
        for (int j = 0; j < live; j++) {
          b.read((long) (jc + s + j) * b.ld() + pc, cols, j * kcb, kcb, shorts);
        }
        if (live < nr) {
          Arrays.fill(staged, 0, kcb * nr, 0f);
        }
        for (int p0 = 0; p0 < kcb; p0 += TRANSPOSE_BLOCK) {
          int p1 = Math.min(kcb, p0 + TRANSPOSE_BLOCK);
          for (int j = 0; j < live; j++) {
            int from = j * kcb;
            for (int p = p0, at = p0 * nr + j; p < p1; p++, at += nr) {
              staged[at] = cols[from + p];
            }
          }
        }
        MemorySegment.copy(staged, 0, dst, ValueLayout.JAVA_FLOAT, dstAt + 4L * s * kcb, kcb * nr);
      }
    }
  }

  /** Floats of {@link #packB}'s staging for depth blocks of up to {@code kc} and panels of up to {@code nc}. */
  private int stagedFloats(int kcMax, int ncMax) {
    return Math.max(STAGED_DEPTHS * ncMax, kcMax * kernel.nr());
  }

  /** Copies {@code rows x cols} f32s from {@code src} (row stride {@code lds}) to {@code dst} (row stride {@code ldd}). */
  private static void copyTile(MemorySegment src, long srcOffset, int lds, MemorySegment dst, long dstOffset, int ldd,
      int rows, int cols) {
    for (int i = 0; i < rows; i++) {
      MemorySegment.copy(src, (srcOffset + (long) i * lds) * 4, dst, (dstOffset + (long) i * ldd) * 4, 4L * cols);
    }
  }

  /** {@code C = beta * C}, writing zeros without reading when {@code beta == 0}. */
  private static void scaleC(int m, int n, float beta, MemorySegment c, long cOffset, int ldc) {
    if (beta == 1f) {
      return;
    }
    for (int i = 0; i < m; i++) {
      long row = (cOffset + (long) i * ldc) * 4;
      if (beta == 0f) {
        c.asSlice(row, 4L * n).fill((byte) 0);
      } else {
        for (int j = 0; j < n; j++) {
          long at = row + 4L * j;
          c.set(ValueLayout.JAVA_FLOAT, at, beta * c.get(ValueLayout.JAVA_FLOAT, at));
        }
      }
    }
  }

  private static int roundUp(int x, int multiple) {
    return ((x + multiple - 1) / multiple) * multiple;
  }
}
