package io.crosscoder.cpu.gemm;

import static io.crosscoder.cpu.kernels.SegmentClasses.asNative;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API micro-kernel for vectors narrower than 512 bits (AVX2, NEON, SSE): a 4 x (2 x
 * lanes) tile, 4 x 16 on AVX2, in 8 accumulators. Eight independent accumulators are enough to
 * cover the latency of two fused multiply-adds per cycle, and with 16 ymm registers C2's
 * allocator keeps them all in registers; the textbook 6 x 16 tile (12 accumulators) made it
 * spill three of them into the loop, which ran at 40 GFLOP/s against 86 for this tile (Zen 4 with
 * {@code -XX:UseAVX=2}).
 *
 * <p>Each step of {@code p} loads two vectors of packed B, broadcasts {@code A(i, p)} from the
 * packed sliver for each row, and issues {@code 2 * MR} fused multiply-adds into accumulators
 * held in registers for the whole depth {@code kc}; C is read and written once per call, through
 * the scratch tile. Loaded only through {@link MicroKernels#vector()}, after {@code
 * jdk.incubator.vector} was found readable.
 */
final class VectorMicroKernel4x2 implements MicroKernel {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final ByteOrder ORDER = ByteOrder.nativeOrder();
  private static final int L = S.length();
  static final int MR = 4;
  private static final int UNROLL = 4;
  private static final int NR = 2 * L;

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
    for (int i = 0; i < MR; i++, row += step) {
      FloatVector.fromMemorySegment(S, c, row, ORDER).reinterpretAsInts().and(keep).or(drop).reinterpretAsFloats()
          .fma(vb, FloatVector.fromArray(S, tile, i * NR).mul(alpha)).intoMemorySegment(c, row, ORDER);
      FloatVector.fromMemorySegment(S, c, row + 4L * L, ORDER).reinterpretAsInts().and(keep).or(drop).reinterpretAsFloats()
          .fma(vb, FloatVector.fromArray(S, tile, i * NR + L).mul(alpha)).intoMemorySegment(c, row + 4L * L, ORDER);
    }
  }

  /**
   * The tile's sums into {@code tile} ({@link #multiply} adds the write-back), four steps of
   * {@code p} per trip with B's index computed as a {@code long} from the trip count. B comes
   * from a native segment (see {@link MicroKernel}); with an {@code int} index (one step per trip,
   * or four), C2 kept a bounds check at every load of B, and on 256-bit vectors (this Ice Lake with
   * {@code -XX:MaxVectorSize=32}) whole products ran at 48-53 GFLOP/s against 66-70 when B was an
   * array; with the {@code long} index the checks leave the loop, 65-70 again. (The 512-bit
   * kernel keeps an {@code int} index: in its 8 x 32 form a {@code long} one made C2 unroll the
   * loop a second time and spill accumulators, and its checks per trip come with many more fused
   * multiply-adds.)
   */
  private static void accumulate(int kc, float[] a, int aOffset, MemorySegment b, int bOffset, float[] tile) {
    FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
    FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
    FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
    FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
    int trips = kc / UNROLL;
    for (int t = 0; t < trips; t++) {
      int ap = aOffset + t * (UNROLL * MR);
      long bp = bOffset + (long) t * (UNROLL * NR);
      MemorySegment bn = asNative(b);
      FloatVector b0;
      FloatVector b1;
      FloatVector ai;
      b0 = FloatVector.fromMemorySegment(S, bn, 4L * bp, ORDER);
      b1 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + L), ORDER);
      ai = FloatVector.broadcast(S, a[ap + 0]);
      c00 = ai.fma(b0, c00);
      c01 = ai.fma(b1, c01);
      ai = FloatVector.broadcast(S, a[ap + 1]);
      c10 = ai.fma(b0, c10);
      c11 = ai.fma(b1, c11);
      ai = FloatVector.broadcast(S, a[ap + 2]);
      c20 = ai.fma(b0, c20);
      c21 = ai.fma(b1, c21);
      ai = FloatVector.broadcast(S, a[ap + 3]);
      c30 = ai.fma(b0, c30);
      c31 = ai.fma(b1, c31);
      b0 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + 1 * NR), ORDER);
      b1 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + 1 * NR + L), ORDER);
      ai = FloatVector.broadcast(S, a[ap + 1 * MR + 0]);
      c00 = ai.fma(b0, c00);
      c01 = ai.fma(b1, c01);
      ai = FloatVector.broadcast(S, a[ap + 1 * MR + 1]);
      c10 = ai.fma(b0, c10);
      c11 = ai.fma(b1, c11);
      ai = FloatVector.broadcast(S, a[ap + 1 * MR + 2]);
      c20 = ai.fma(b0, c20);
      c21 = ai.fma(b1, c21);
      ai = FloatVector.broadcast(S, a[ap + 1 * MR + 3]);
      c30 = ai.fma(b0, c30);
      c31 = ai.fma(b1, c31);
      b0 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + 2 * NR), ORDER);
      b1 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + 2 * NR + L), ORDER);
      ai = FloatVector.broadcast(S, a[ap + 2 * MR + 0]);
      c00 = ai.fma(b0, c00);
      c01 = ai.fma(b1, c01);
      ai = FloatVector.broadcast(S, a[ap + 2 * MR + 1]);
      c10 = ai.fma(b0, c10);
      c11 = ai.fma(b1, c11);
      ai = FloatVector.broadcast(S, a[ap + 2 * MR + 2]);
      c20 = ai.fma(b0, c20);
      c21 = ai.fma(b1, c21);
      ai = FloatVector.broadcast(S, a[ap + 2 * MR + 3]);
      c30 = ai.fma(b0, c30);
      c31 = ai.fma(b1, c31);
      b0 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + 3 * NR), ORDER);
      b1 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + 3 * NR + L), ORDER);
      ai = FloatVector.broadcast(S, a[ap + 3 * MR + 0]);
      c00 = ai.fma(b0, c00);
      c01 = ai.fma(b1, c01);
      ai = FloatVector.broadcast(S, a[ap + 3 * MR + 1]);
      c10 = ai.fma(b0, c10);
      c11 = ai.fma(b1, c11);
      ai = FloatVector.broadcast(S, a[ap + 3 * MR + 2]);
      c20 = ai.fma(b0, c20);
      c21 = ai.fma(b1, c21);
      ai = FloatVector.broadcast(S, a[ap + 3 * MR + 3]);
      c30 = ai.fma(b0, c30);
      c31 = ai.fma(b1, c31);
    }
    for (int p = trips * UNROLL; p < kc; p++) {
      int ap = aOffset + p * MR;
      int bp = bOffset + p * NR;
      MemorySegment bn = asNative(b);
      FloatVector b0 = FloatVector.fromMemorySegment(S, bn, 4L * bp, ORDER);
      FloatVector b1 = FloatVector.fromMemorySegment(S, bn, 4L * (bp + L), ORDER);
      FloatVector a0 = FloatVector.broadcast(S, a[ap + 0]);
      c00 = a0.fma(b0, c00);
      c01 = a0.fma(b1, c01);
      FloatVector a1 = FloatVector.broadcast(S, a[ap + 1]);
      c10 = a1.fma(b0, c10);
      c11 = a1.fma(b1, c11);
      FloatVector a2 = FloatVector.broadcast(S, a[ap + 2]);
      c20 = a2.fma(b0, c20);
      c21 = a2.fma(b1, c21);
      FloatVector a3 = FloatVector.broadcast(S, a[ap + 3]);
      c30 = a3.fma(b0, c30);
      c31 = a3.fma(b1, c31);
    }
    // The accumulators go through the scratch tile (stores that stay in L1) rather than straight
    // into C: sixteen write-backs written out here, or a helper taking each accumulator, make the
    // method too large for C2 to inline them (NodeCountInliningCutoff), and each accumulator was
    // then boxed on the heap for a call.
    c00.intoArray(tile, 0 * NR);
    c01.intoArray(tile, 0 * NR + L);
    c10.intoArray(tile, 1 * NR);
    c11.intoArray(tile, 1 * NR + L);
    c20.intoArray(tile, 2 * NR);
    c21.intoArray(tile, 2 * NR + L);
    c30.intoArray(tile, 3 * NR);
    c31.intoArray(tile, 3 * NR + L);
  }
}
