package io.crosscoder.cpu;

import static io.crosscoder.cpu.kernels.SegmentClasses.NATIVE;
import static io.crosscoder.cpu.kernels.SegmentClasses.asNative;
import static jdk.incubator.vector.VectorOperators.GE;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.MAX;
import static jdk.incubator.vector.VectorOperators.NE;
import static jdk.incubator.vector.VectorOperators.S2I;

import io.crosscoder.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API kernel: reads plain f32, f16 and bf16 straight from the (mapped) segments,
 * widens narrow floats to f32 in integer lanes, and accumulates with lanewise fused multiply-adds.
 * Each sum has two accumulator vectors that trade places after every step, so step {@code k}
 * lands in lanes {@code (k mod 2) L + j} and {@link #lanes()} is twice the preferred f32 lane
 * count {@code L}: the same interleaving as the scalar kernel, and two independent dependency
 * chains per sum. A tail shorter than one vector goes through {@link BlockSums#finishPlain}, the
 * scalar lane update.
 *
 * <p>The same-type loops only run on native segments, which they first cast to the JDK's class of
 * native segments ({@link io.crosscoder.cpu.kernels.SegmentClasses#asNative}; mapped segments are a
 * subclass). A vector load from a segment calls the segment's {@code unsafeGetBase()} and {@code
 * unsafeGetOffset()} inside the JDK, which heap and native segments implement differently; without
 * the cast the JIT can only bind those calls from the receiver profile of the JDK's load method,
 * and in a fresh process that profile is often empty (the method ran only in code compiled without
 * profiling while the compiler queue was long), so C2 compiled each load with two virtual calls and
 * the pass ran at half speed: the 6 GB diff's scan took 1.9-2.1 s instead of 1.1-1.3 s in 8 of 12
 * fresh processes ({@code
 * -XX:CompileCommand=PrintInlining,io.crosscoder.cpu.VectorPairKernel::bf16}: {@code unsafeGetBase
 * ... failed to inline: virtual call}, and {@code -XX:+LogCompilation}: the call site's {@code
 * count='-1'}). After the cast the class hierarchy alone binds both calls, whatever the profile.
 * Heap segments (tests, empty files) are widened into arrays first.
 *
 * <p>The loops are shaped for the JIT: one vector per step and no vector ever passed to a helper
 * that might not be inlined (such a vector is boxed, and a boxed loop accumulator can cost an
 * allocation per step). Unrolling is left to the JIT. {@code max |d|} is kept as the integer
 * maximum of the bit patterns of {@code |d|}: for floats without a sign bit the two orders agree,
 * and an integer maximum is one instruction where a float maximum with Java's NaN and signed-zero
 * rules is a sequence that made the loop's longest dependency chain (it halved throughput). A NaN
 * difference may then be ordered differently, but it only arises in blocks that {@link
 * ExactBlock} recomputes.
 *
 * <p>Only loaded, by name, after {@link Vectorization} has found {@code jdk.incubator.vector} in
 * the boot layer, so a JVM without the module never links this class. The constructor throws
 * {@link UnsupportedOperationException} when the preferred vector is narrower than 128 bits.
 * Stateless and thread-safe.
 */
final class VectorPairKernel implements PairKernel {
  private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
  private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
  /** Half the width, so that one load of shorts widens to one vector of ints. */
  private static final VectorSpecies<Short> SHORTS =
      VectorSpecies.of(short.class, VectorShape.forBitSize(Math.max(64, FLOATS.vectorBitSize() / 2)));
  private static final int L = FLOATS.length();
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

  VectorPairKernel() {
    if (FLOATS.vectorBitSize() < 128) {
      throw new UnsupportedOperationException(
          "the preferred vector is " + FLOATS.vectorBitSize() + " bits, narrower than the 128 the kernel needs");
    }
    if (INTS.length() != L || SHORTS.length() != L) {
      throw new UnsupportedOperationException("vector species of unequal lane counts: " + FLOATS + ", " + INTS + ", " + SHORTS);
    }
  }

  @Override
  public int lanes() {
    return 2 * L;
  }

  @Override
  public String description() {
    return "Vector API, " + FLOATS.vectorBitSize() + "-bit lanes";
  }

  /**
   * Same-type pairs on native segments run a loop specialised to their type, so that each loop
   * holds only its own widening (one loop for all types would be too large for the JIT to compile
   * whole). Mixed pairs and heap segments are widened into two L1-sized f32 blocks first.
   */
  @Override
  public void plainBlock(MemorySegment a, int kindA, long ia, MemorySegment b, int kindB, long ib, int n, BlockSums out) {
    if (kindA == kindB && NATIVE.isInstance(a) && NATIVE.isInstance(b)) {
      switch (kindA) {
        case F32 -> f32Block(a, ia, b, ib, n, out);
        case BF16 -> bf16Block(a, ia, b, ib, n, out);
        default -> f16Block(a, ia, b, ib, n, out);
      }
      return;
    }
    float[] x = out.stageA();
    float[] y = out.stageB();
    widen(a, kindA, ia, n, x);
    widen(b, kindB, ib, n, y);
    arrayBlock(x, y, n, out);
  }

  private static void f32Block(MemorySegment a, long ia, MemorySegment b, long ib, int n, BlockSums out) {
    FloatVector dot0 = FloatVector.zero(FLOATS);
    FloatVector dot1 = dot0;
    FloatVector base0 = dot0;
    FloatVector base1 = dot0;
    FloatVector target0 = dot0;
    FloatVector target1 = dot0;
    FloatVector diff0 = dot0;
    FloatVector diff1 = dot0;
    IntVector maxBits = IntVector.zero(INTS);
    long changed = 0;
    long oa = ia * 4;
    long ob = ib * 4;
    int i = 0;
    for (; i <= n - L; i += L) {
      FloatVector x = FloatVector.fromMemorySegment(FLOATS, asNative(a), oa + 4L * i, LE);
      FloatVector y = FloatVector.fromMemorySegment(FLOATS, asNative(b), ob + 4L * i, LE);
      FloatVector d = y.sub(x);
      FloatVector t = dot1;
      dot1 = x.fma(y, dot0);
      dot0 = t;
      t = base1;
      base1 = x.fma(x, base0);
      base0 = t;
      t = target1;
      target1 = y.fma(y, target0);
      target0 = t;
      t = diff1;
      diff1 = d.fma(d, diff0);
      diff0 = t;
      maxBits = maxBits.max(d.abs().reinterpretAsInts());
      changed += x.reinterpretAsInts().compare(NE, y.reinterpretAsInts()).trueCount();
    }
    store(out, i, dot0, dot1, base0, base1, target0, target1, diff0, diff1, maxBits, changed);
    out.finishPlain(a, F32, ia, b, F32, ib, i, n);
  }

  private static void bf16Block(MemorySegment a, long ia, MemorySegment b, long ib, int n, BlockSums out) {
    FloatVector dot0 = FloatVector.zero(FLOATS);
    FloatVector dot1 = dot0;
    FloatVector base0 = dot0;
    FloatVector base1 = dot0;
    FloatVector target0 = dot0;
    FloatVector target1 = dot0;
    FloatVector diff0 = dot0;
    FloatVector diff1 = dot0;
    IntVector maxBits = IntVector.zero(INTS);
    long changed = 0;
    long oa = ia * 2;
    long ob = ib * 2;
    int i = 0;
    for (; i <= n - L; i += L) {
      FloatVector x = bf16(asNative(a), oa + 2L * i);
      FloatVector y = bf16(asNative(b), ob + 2L * i);
      FloatVector d = y.sub(x);
      FloatVector t = dot1;
      dot1 = x.fma(y, dot0);
      dot0 = t;
      t = base1;
      base1 = x.fma(x, base0);
      base0 = t;
      t = target1;
      target1 = y.fma(y, target0);
      target0 = t;
      t = diff1;
      diff1 = d.fma(d, diff0);
      diff0 = t;
      maxBits = maxBits.max(d.abs().reinterpretAsInts());
      changed += x.reinterpretAsInts().compare(NE, y.reinterpretAsInts()).trueCount();
    }
    store(out, i, dot0, dot1, base0, base1, target0, target1, diff0, diff1, maxBits, changed);
    out.finishPlain(a, BF16, ia, b, BF16, ib, i, n);
  }

  private static void f16Block(MemorySegment a, long ia, MemorySegment b, long ib, int n, BlockSums out) {
    FloatVector dot0 = FloatVector.zero(FLOATS);
    FloatVector dot1 = dot0;
    FloatVector base0 = dot0;
    FloatVector base1 = dot0;
    FloatVector target0 = dot0;
    FloatVector target1 = dot0;
    FloatVector diff0 = dot0;
    FloatVector diff1 = dot0;
    IntVector maxBits = IntVector.zero(INTS);
    long changed = 0;
    long oa = ia * 2;
    long ob = ib * 2;
    int i = 0;
    for (; i <= n - L; i += L) {
      FloatVector x = f16(asNative(a), oa + 2L * i);
      FloatVector y = f16(asNative(b), ob + 2L * i);
      FloatVector d = y.sub(x);
      FloatVector t = dot1;
      dot1 = x.fma(y, dot0);
      dot0 = t;
      t = base1;
      base1 = x.fma(x, base0);
      base0 = t;
      t = target1;
      target1 = y.fma(y, target0);
      target0 = t;
      t = diff1;
      diff1 = d.fma(d, diff0);
      diff0 = t;
      maxBits = maxBits.max(d.abs().reinterpretAsInts());
      changed += x.reinterpretAsInts().compare(NE, y.reinterpretAsInts()).trueCount();
    }
    store(out, i, dot0, dot1, base0, base1, target0, target1, diff0, diff1, maxBits, changed);
    out.finishPlain(a, F16, ia, b, F16, ib, i, n);
  }

  @Override
  public void arrayBlock(float[] a, float[] b, int n, BlockSums out) {
    FloatVector dot0 = FloatVector.zero(FLOATS);
    FloatVector dot1 = dot0;
    FloatVector base0 = dot0;
    FloatVector base1 = dot0;
    FloatVector target0 = dot0;
    FloatVector target1 = dot0;
    FloatVector diff0 = dot0;
    FloatVector diff1 = dot0;
    IntVector maxBits = IntVector.zero(INTS);
    long changed = 0;
    int i = 0;
    for (; i <= n - L; i += L) {
      FloatVector x = FloatVector.fromArray(FLOATS, a, i);
      FloatVector y = FloatVector.fromArray(FLOATS, b, i);
      FloatVector d = y.sub(x);
      FloatVector t = dot1;
      dot1 = x.fma(y, dot0);
      dot0 = t;
      t = base1;
      base1 = x.fma(x, base0);
      base0 = t;
      t = target1;
      target1 = y.fma(y, target0);
      target0 = t;
      t = diff1;
      diff1 = d.fma(d, diff0);
      diff0 = t;
      maxBits = maxBits.max(d.abs().reinterpretAsInts());
      changed += x.reinterpretAsInts().compare(NE, y.reinterpretAsInts()).trueCount();
    }
    store(out, i, dot0, dot1, base0, base1, target0, target1, diff0, diff1, maxBits, changed);
    out.finishArray(a, b, i, n);
  }

  /**
   * Stores the two accumulator sets of a block's vector loop into {@code out}'s lanes, after
   * {@code i} elements: after an even number of steps set 0 holds lanes [0, L) again; after an odd
   * one, set 1 does. Called once per block, outside the loop.
   */
  private static void store(BlockSums out, int i, FloatVector dot0, FloatVector dot1, FloatVector base0,
      FloatVector base1, FloatVector target0, FloatVector target1, FloatVector diff0, FloatVector diff1,
      IntVector maxBits, long changed) {
    int lanes0 = (i / L) % 2 == 0 ? 0 : L;
    int lanes1 = L - lanes0;
    dot0.intoArray(out.dotLanes, lanes0);
    dot1.intoArray(out.dotLanes, lanes1);
    base0.intoArray(out.baseLanes, lanes0);
    base1.intoArray(out.baseLanes, lanes1);
    target0.intoArray(out.targetLanes, lanes0);
    target1.intoArray(out.targetLanes, lanes1);
    diff0.intoArray(out.diffLanes, lanes0);
    diff1.intoArray(out.diffLanes, lanes1);
    out.runningMax = Float.intBitsToFloat(maxBits.reduceLanes(MAX));
    out.runningChanged = changed;
  }

  private static void widen(MemorySegment m, int kind, long index, int n, float[] dst) {
    if (kind == F32) {
      MemorySegment.copy(m, TensorView.Layouts.F32, index * 4, dst, 0, n);
      return;
    }
    int i = 0;
    if (kind == BF16) {
      for (; i <= n - L; i += L) {
        bf16(m, (index + i) * 2).intoArray(dst, i);
      }
    } else {
      for (; i <= n - L; i += L) {
        f16(m, (index + i) * 2).intoArray(dst, i);
      }
    }
    for (; i < n; i++) {
      dst[i] = ScalarPairKernel.load(m, kind, index + i);
    }
  }

  /** bfloat16 is the upper half of an f32: widen and shift into place. */
  static FloatVector bf16(MemorySegment m, long byteOffset) {
    IntVector h = (IntVector) ShortVector.fromMemorySegment(SHORTS, m, byteOffset, LE).convertShape(S2I, INTS, 0);
    return h.lanewise(LSHL, 16).reinterpretAsFloats();
  }

  /**
   * IEEE binary16 to f32 in integer lanes. The 15 magnitude bits shifted left by 13 line the f16
   * exponent and mantissa up with f32's; read as an f32 that is the value times {@code 2^-112}
   * (subnormals included, since an f16 subnormal lands on an f32 subnormal with the same
   * significand), so one exact multiplication by {@code 2^112} rebases the exponent. The all-ones
   * exponent (infinity, NaN; a shifted magnitude of at least {@code 0x1f << 23}) is first raised
   * to f32's all-ones exponent, so the multiplication leaves infinities alone and quiets
   * signalling NaNs, keeping their payload, as the JDK's (intrinsic) {@link Float#float16ToFloat}
   * does. The sign comes last from bit 31, which the sign-extending widening has filled.
   */
  static FloatVector f16(MemorySegment m, long byteOffset) {
    IntVector h = (IntVector) ShortVector.fromMemorySegment(SHORTS, m, byteOffset, LE).convertShape(S2I, INTS, 0);
    IntVector magnitude = h.and(0x7fff).lanewise(LSHL, 13);
    IntVector widened = magnitude.blend(magnitude.or(0x7000_0000), magnitude.compare(GE, 0x0f80_0000));
    IntVector rebased = widened.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
    return rebased.or(h.and(0x8000_0000)).reinterpretAsFloats();
  }

  /**
   * Decodes {@code count} f16 elements from element {@code index} into {@code dst} with the vector
   * conversion; {@code count} must be a multiple of the lane count. For tests.
   */
  static void decodeF16(MemorySegment m, long index, int count, float[] dst) {
    if (count % L != 0) {
      throw new IllegalArgumentException("count " + count + " is not a multiple of " + L + " lanes");
    }
    for (int i = 0; i < count; i += L) {
      f16(m, (index + i) * 2).intoArray(dst, i);
    }
  }
}
