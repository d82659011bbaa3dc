package io.crosscoder.cpu.gemm;

import static io.crosscoder.cpu.kernels.SegmentClasses.asNative;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API micro-kernel for 512-bit vectors: an 8 x 48 tile in 24 of the 32 zmm registers of
 * AVX-512, with the depth loop unrolled twice.
 *
 * <p>Why this shape: each step of {@code p} loads three vectors of packed B and broadcasts {@code
 * A(i, p)} straight from memory for each row (the JIT emits {@code vbroadcastss zmm, m32}, a load
 * that takes no vector ALU port), then issues {@code 3 * MR} fused multiply-adds: 11 loads per 24
 * FMAs. Its predecessor, 8 x 32 with the loop unrolled four times, loaded 10 per 16; OpenBLAS's
 * SkylakeX kernel, as we read it, about 8 per 24. Alone, with both slivers in cache, the 8 x 32 kernel ran at
 * 94% of a register-only FMA loop on the 2-core Zen 5 machine, so loads were not its limit there;
 * but in whole products, and most when the second core (or, on this shared machine, a neighbour)
 * competes for the caches, the kernel with fewer loads per FMA holds up better. Measured there,
 * old and new kernel alternated in one JVM (median of 5-6 per-round ratios, 4096 x 3072 x 16384):
 * NN 1.09 and 1.07 at 2 threads, TN 1.06; at one thread NN 0.99 to 1.05 over six runs (median
 * 1.02), TN 0.99 and NT 1.01. With 8 x 32 the machine's slow phases (a register-only FMA loop 4% slower, the
 * in-cache kernel 15% slower, OpenBLAS 9%) took it from 86% to 79% of OpenBLAS. Rows: 8 x 48
 * needs 24 accumulators, 3 B vectors and a broadcast, 28 of the 32 registers; unrolled twice, a
 * trip has 6 segment loads (8 x 32 unrolled four times had 8), which keeps the method within
 * C2's inlining budget (below). 6 x 48, 6 x 64 and 4 x 64 (fewer accumulators, or longer B
 * slivers) measured 2-6% slower than 8 x 48 in the same runs.
 *
 * <p>The history, on Ice Lake with 8 x 32 (these figures are that kernel's): with 6 rows the
 * loop's bookkeeping (index arithmetic, the loop branch, a register move C2 inserts between
 * accumulators) is paid every 12 FMAs and competes with them for issue slots and the two FMA
 * ports; 8 rows and four steps per trip paid it once every 64 FMAs. Counted from the JIT's code
 * ({@code -XX:CompileCommand=print}, raw bytes through {@code objdump}): the 6 x 32 loop issued 14
 * vector ALU uops per 12 FMAs (at most 86% of the FMA peak), the 8 x 32 one 67 per 64 (96%).
 * 12 x 32 and 14 x 32 tiles need 24 to 28 accumulators, and C2 then spilled one; 5 x 64 and 4 x
 * 64 tiles measured much slower in whole products, their {@code kc x 64} slivers of B twice the
 * L2 traffic. In whole products on Ice Lake the 8 x 32 kernel measured 10-30% faster than the 6
 * x 32 one (NN, TN and NT, 1 and 2 threads). The 8 x 48 kernel has not been measured on Ice Lake.
 *
 * <p>Each trip's indices are computed from the trip counter rather than carried, so the loop is a
 * counted loop whose array bounds checks the JIT hoists. On Ice Lake with 8 x 32, C2 did not keep
 * the source order: it loaded the trip's eight B vectors first and then issued each
 * accumulator's four FMAs together, and it added a register move and spilled {@code
 * aOffset}/{@code bOffset} to the stack; {@code llvm-mca -mcpu=icelake-server} put that loop at
 * 42 cycles per 32 cycles of FMAs (76%), against 36 for the same instructions in source order. A
 * one-step loop (no unrolling by hand) compiled to a clean 10 loads, 16 FMAs and 8 scalar uops
 * (mca: 89%) and was faster with both slivers in L1 ({@code kc = 256}), but slower at {@code kc =
 * 1024} where B streams from L2 (the unrolled loop issues its loads earlier), so the loop is
 * unrolled. Peak, for scale: a register-only AVX-512 FMA loop runs at 2.65 GHz on this Ice Lake
 * (3.3 GHz scalar), 169 GFLOP/s per core.
 *
 * <p>Packed B is read from a native segment aligned to 64 bytes ({@link MicroKernel} says why),
 * cast once per trip to the JDK's native class ({@code SegmentClasses.asNative}) so that the JIT
 * binds its loads by class. The Ice Lake figures above were measured with B in a {@code float[]},
 * whose 512-bit loads spanned two cache lines whenever the array did not start on one; aligned,
 * the 8 x 32 kernel alone ran at 137-153 GFLOP/s on one Ice Lake core (81-90% of the peak above) with the
 * A sliver from L2 and B from L2 or L3.
 *
 * <p>The depth loop is a method of its own, {@code accumulate}, which leaves its sums in the
 * scratch tile; {@link #multiply} adds the write-back. With both in one method, the segment
 * loads (each inlines a bounds check and the segment's liveness check) took C2 past {@code
 * NodeCountInliningCutoff}, after which it stopped inlining Vector API calls and boxed every
 * vector: a fifth of the speed ({@code -XX:CompileCommand=PrintInlining}). Only arrays cross the
 * boundary. The tile goes back to C through a short loop in {@link #multiply}: a helper taking
 * each accumulator as an argument was not inlined either, and boxed every vector of the tile.
 *
 * <p>The write-back loads the old C under a mask that is empty when beta is 0 ({@link
 * MicroKernel#keepBits} says why there is no branch). Each tile's 8 rows of C lie a row of C
 * apart, so when C is large every tile's loads miss to memory, and the core waits for them: a
 * product whose depth fits one block ({@code k <= kc}, where every tile is an overwrite) spent
 * 4-8% of its time there. Masked off, the old C is not read, and the stores do not hold the core
 * up. Measured on the 2-core Zen 5 machine, one thread, old and new kernel alternated in one JVM
 * (median of 7 per-round ratios): 4096 x 768 x 16384 NN 1.04 and 1.08 (two runs), 4096 x 16384 x
 * 768 NN 1.02, 4096 x 768 x 16384 NT 1.04; with {@code k = 3072} or {@code 4096}, where most
 * depth blocks add to C, within the noise (0.98 to 1.02). Only this kernel does it: the
 * narrower one also runs on NEON, which has no masked load, and where the Vector API would run
 * one as plain Java; 512-bit vectors mean AVX-512 or SVE, which have them.
 *
 * <p>Warm-up: C2 compiles a branch that its profile never saw taken as an uncommon trap, and a
 * trap throws the whole kernel back to C1 code, where every vector operation allocates (about
 * 0.5 GFLOP/s), until C2 has compiled it again; a fresh JVM lost one to three seconds this way.
 * Seen with {@code -Xlog:deoptimization=debug} on a training run: {@code unstable_if} at the
 * branch for partial tiles this kernel had then (the first partial tile came after C2 had
 * compiled the kernel on full ones), then {@code profile_predicate} in the write-back loop for
 * {@code beta == 0}. So kernels take full tiles only ({@link Sgemm} runs partial ones through a
 * scratch tile), the write-back has no branch on {@code beta} ({@link MicroKernel#keepBits}),
 * and the build runs C2 without profiled loop predicates ({@code -XX:-UseProfiledLoopPredicate}
 * in {@code crosscoder.jvm.flags}). Loaded only through {@link MicroKernels#vector()}, after
 * {@code jdk.incubator.vector} was found readable.
 */
final class VectorMicroKernel8x3 implements MicroKernel {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final ByteOrder ORDER = ByteOrder.nativeOrder();
  private static final int L = S.length();
  static final int MR = 8;
  private static final int NR = 3 * L;
  private static final int UNROLL = 2;
  /** One bit per lane: the mask of every lane, for {@link VectorMask#fromLong}. */
  private static final long LANE_BITS = L == 64 ? -1L : (1L << L) - 1;

  /** The width of the preferred species, which decides between the kernels. */
  static int vectorBits() {
    return S.vectorBitSize();
  }

  @Override
  public int mr() {
    return MR;
  }

  @Override
  public int nr() {
    return NR;
  }

  @Override
  public String name() {
    return "vector " + MR + "x" + NR + " (" + S.vectorBitSize() + "-bit)";
  }

  @Override
  public void multiply(int kc, float[] a, int aOffset, MemorySegment b, int bOffset, float alpha, float beta,
      MemorySegment c, long cOffset, int ldc, float[] tile) {
    accumulate(kc, a, aOffset, b, bOffset, tile);
    // The write-back, inline and without a branch on beta: see MicroKernel#keepBits.
    long row = cOffset * 4;
    long step = (long) ldc * 4;
    int keep = MicroKernel.keepBits(beta);
    int drop = MicroKernel.NEGATIVE_ZERO_BITS & ~keep;
    FloatVector vb = FloatVector.broadcast(S, MicroKernel.betaOrOne(beta, keep));
    // The old C is loaded under a mask that is empty when it does not count (beta 0), so that
    // an overwrite does not wait for C's lines to come from memory; fromLong takes the mask's
    // bits from keep without a branch.
    VectorMask<Float> load = VectorMask.fromLong(S, keep & LANE_BITS);
    for (int i = 0; i < MR; i++, row += step) {
      FloatVector.fromMemorySegment(S, c, row, ORDER, load).reinterpretAsInts().and(keep).or(drop).reinterpretAsFloats()
          .fma(vb, FloatVector.fromArray(S, tile, i * NR).mul(alpha)).intoMemorySegment(c, row, ORDER);
      FloatVector.fromMemorySegment(S, c, row + 4L * L, ORDER, load).reinterpretAsInts().and(keep).or(drop).reinterpretAsFloats()
          .fma(vb, FloatVector.fromArray(S, tile, i * NR + L).mul(alpha)).intoMemorySegment(c, row + 4L * L, ORDER);
      FloatVector.fromMemorySegment(S, c, row + 8L * L, ORDER, load).reinterpretAsInts().and(keep).or(drop).reinterpretAsFloats()
          .fma(vb, FloatVector.fromArray(S, tile, i * NR + 2 * L).mul(alpha)).intoMemorySegment(c, row + 8L * L, ORDER);
    }
  }

  /**
   * The tile's sums, {@code tile[i * NR + j] = sum_p A(i, p) B(p, j)}: the depth loop, in a method
   * of its own so that C2 compiles it with a node budget of its own. Inlined into {@link
   * #multiply} with the write-back, the loop's 40 segment loads per trip reached {@code
   * NodeCountInliningCutoff}; C2 then stopped inlining the Vector API calls, and the kernel ran at
   * a fifth of its speed with every vector boxed. Nothing crosses this boundary but arrays.
   */
  private static void accumulate(int kc, float[] a, int aOffset, MemorySegment b, int bOffset, float[] tile) {
    FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c02 = FloatVector.zero(S);
    FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S), c12 = FloatVector.zero(S);
    FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c22 = FloatVector.zero(S);
    FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S), c32 = FloatVector.zero(S);
    FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S), c42 = FloatVector.zero(S);
    FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S), c52 = FloatVector.zero(S);
    FloatVector c60 = FloatVector.zero(S), c61 = FloatVector.zero(S), c62 = FloatVector.zero(S);
    FloatVector c70 = FloatVector.zero(S), c71 = FloatVector.zero(S), c72 = FloatVector.zero(S);
    FloatVector b0;
    FloatVector b1;
    FloatVector b2;
    FloatVector ai;
    // Two steps of p per trip, with the indices computed from the trip count so that the JIT
    // sees one counted loop and hoists the array bounds checks out of it.
    int trips = kc / UNROLL;
    for (int t = 0; t < trips; t++) {
      int ap = aOffset + t * (UNROLL * MR);
      int bp = bOffset + t * (UNROLL * NR);
      MemorySegment bn = asNative(b);
      // p + 0
      b0 = FloatVector.fromMemorySegment(S, bn, 4L * bp, ORDER);
      b1 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + L), ORDER);
      b2 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + 2 * L), ORDER);
      ai = FloatVector.broadcast(S, a[ap + 0]);
      c00 = ai.fma(b0, c00);
      c01 = ai.fma(b1, c01);
      c02 = ai.fma(b2, c02);
      ai = FloatVector.broadcast(S, a[ap + 1]);
      c10 = ai.fma(b0, c10);
      c11 = ai.fma(b1, c11);
      c12 = ai.fma(b2, c12);
      ai = FloatVector.broadcast(S, a[ap + 2]);
      c20 = ai.fma(b0, c20);
      c21 = ai.fma(b1, c21);
      c22 = ai.fma(b2, c22);
      ai = FloatVector.broadcast(S, a[ap + 3]);
      c30 = ai.fma(b0, c30);
      c31 = ai.fma(b1, c31);
      c32 = ai.fma(b2, c32);
      ai = FloatVector.broadcast(S, a[ap + 4]);
      c40 = ai.fma(b0, c40);
      c41 = ai.fma(b1, c41);
      c42 = ai.fma(b2, c42);
      ai = FloatVector.broadcast(S, a[ap + 5]);
      c50 = ai.fma(b0, c50);
      c51 = ai.fma(b1, c51);
      c52 = ai.fma(b2, c52);
      ai = FloatVector.broadcast(S, a[ap + 6]);
      c60 = ai.fma(b0, c60);
      c61 = ai.fma(b1, c61);
      c62 = ai.fma(b2, c62);
      ai = FloatVector.broadcast(S, a[ap + 7]);
      c70 = ai.fma(b0, c70);
      c71 = ai.fma(b1, c71);
      c72 = ai.fma(b2, c72);
      // p + 1
      b0 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + NR), ORDER);
      b1 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + NR + L), ORDER);
      b2 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + NR + 2 * L), ORDER);
      ai = FloatVector.broadcast(S, a[ap + MR + 0]);
      c00 = ai.fma(b0, c00);
      c01 = ai.fma(b1, c01);
      c02 = ai.fma(b2, c02);
      ai = FloatVector.broadcast(S, a[ap + MR + 1]);
      c10 = ai.fma(b0, c10);
      c11 = ai.fma(b1, c11);
      c12 = ai.fma(b2, c12);
      ai = FloatVector.broadcast(S, a[ap + MR + 2]);
      c20 = ai.fma(b0, c20);
      c21 = ai.fma(b1, c21);
      c22 = ai.fma(b2, c22);
      ai = FloatVector.broadcast(S, a[ap + MR + 3]);
      c30 = ai.fma(b0, c30);
      c31 = ai.fma(b1, c31);
      c32 = ai.fma(b2, c32);
      ai = FloatVector.broadcast(S, a[ap + MR + 4]);
      c40 = ai.fma(b0, c40);
      c41 = ai.fma(b1, c41);
      c42 = ai.fma(b2, c42);
      ai = FloatVector.broadcast(S, a[ap + MR + 5]);
      c50 = ai.fma(b0, c50);
      c51 = ai.fma(b1, c51);
      c52 = ai.fma(b2, c52);
      ai = FloatVector.broadcast(S, a[ap + MR + 6]);
      c60 = ai.fma(b0, c60);
      c61 = ai.fma(b1, c61);
      c62 = ai.fma(b2, c62);
      ai = FloatVector.broadcast(S, a[ap + MR + 7]);
      c70 = ai.fma(b0, c70);
      c71 = ai.fma(b1, c71);
      c72 = ai.fma(b2, c72);
    }
    for (int p = trips * UNROLL; p < kc; p++) {
      int ap = aOffset + p * MR;
      int bp = bOffset + p * NR;
      MemorySegment bn = asNative(b);
      b0 = FloatVector.fromMemorySegment(S, bn, 4L * bp, ORDER);
      b1 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + L), ORDER);
      b2 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + 2 * L), ORDER);
      ai = FloatVector.broadcast(S, a[ap + 0]);
      c00 = ai.fma(b0, c00);
      c01 = ai.fma(b1, c01);
      c02 = ai.fma(b2, c02);
      ai = FloatVector.broadcast(S, a[ap + 1]);
      c10 = ai.fma(b0, c10);
      c11 = ai.fma(b1, c11);
      c12 = ai.fma(b2, c12);
      ai = FloatVector.broadcast(S, a[ap + 2]);
      c20 = ai.fma(b0, c20);
      c21 = ai.fma(b1, c21);
      c22 = ai.fma(b2, c22);
      ai = FloatVector.broadcast(S, a[ap + 3]);
      c30 = ai.fma(b0, c30);
      c31 = ai.fma(b1, c31);
      c32 = ai.fma(b2, c32);
      ai = FloatVector.broadcast(S, a[ap + 4]);
      c40 = ai.fma(b0, c40);
      c41 = ai.fma(b1, c41);
      c42 = ai.fma(b2, c42);
      ai = FloatVector.broadcast(S, a[ap + 5]);
      c50 = ai.fma(b0, c50);
      c51 = ai.fma(b1, c51);
      c52 = ai.fma(b2, c52);
      ai = FloatVector.broadcast(S, a[ap + 6]);
      c60 = ai.fma(b0, c60);
      c61 = ai.fma(b1, c61);
      c62 = ai.fma(b2, c62);
      ai = FloatVector.broadcast(S, a[ap + 7]);
      c70 = ai.fma(b0, c70);
      c71 = ai.fma(b1, c71);
      c72 = ai.fma(b2, c72);
    }
    c00.intoArray(tile, 0 * NR);
    c01.intoArray(tile, 0 * NR + L);
    c02.intoArray(tile, 0 * NR + 2 * L);
    c10.intoArray(tile, 1 * NR);
    c11.intoArray(tile, 1 * NR + L);
    c12.intoArray(tile, 1 * NR + 2 * L);
    c20.intoArray(tile, 2 * NR);
    c21.intoArray(tile, 2 * NR + L);
    c22.intoArray(tile, 2 * NR + 2 * L);
    c30.intoArray(tile, 3 * NR);
    c31.intoArray(tile, 3 * NR + L);
    c32.intoArray(tile, 3 * NR + 2 * L);
    c40.intoArray(tile, 4 * NR);
    c41.intoArray(tile, 4 * NR + L);
    c42.intoArray(tile, 4 * NR + 2 * L);
    c50.intoArray(tile, 5 * NR);
    c51.intoArray(tile, 5 * NR + L);
    c52.intoArray(tile, 5 * NR + 2 * L);
    c60.intoArray(tile, 6 * NR);
    c61.intoArray(tile, 6 * NR + L);
    c62.intoArray(tile, 6 * NR + 2 * L);
    c70.intoArray(tile, 7 * NR);
    c71.intoArray(tile, 7 * NR + L);
    c72.intoArray(tile, 7 * NR + 2 * L);
  }
}
