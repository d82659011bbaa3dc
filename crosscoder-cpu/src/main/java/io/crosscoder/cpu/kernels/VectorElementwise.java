package io.crosscoder.cpu.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API {@link ElementwiseOps}: {@link FloatVector#SPECIES_PREFERRED} lanes over the
 * bulk of each range, the plain loop over the tail. Loaded only after {@link VectorSupport} found
 * the module readable.
 */
final class VectorElementwise implements ElementwiseOps {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final int L = S.length();
  private static final ByteOrder ORDER = ByteOrder.nativeOrder();
  private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

  private final ScalarElementwise tail = new ScalarElementwise();

  /** The preferred species' width, for {@link VectorSupport}'s probe. */
  static int preferredBits() {
    return S.vectorBitSize();
  }

  private static FloatVector load(MemorySegment s, long i) {
    return FloatVector.fromMemorySegment(S, s, i * 4, ORDER);
  }

  private static void store(FloatVector v, MemorySegment s, long i) {
    v.intoMemorySegment(s, i * 4, ORDER);
  }

  private static long bound(long from, long to) {
    return from + (to - from) / L * L;
  }

  @Override
  public void fill(MemorySegment x, long from, long to, float value) {
    FloatVector v = FloatVector.broadcast(S, value);
    long end = bound(from, to);
    long i = from;
    for (; i < end; i += L) {
      store(v, x, i);
    }
    tail.fill(x, i, to, value);
  }

  @Override
  public void axpy(float alpha, MemorySegment x, long xFrom, MemorySegment y, long yFrom, long count) {
    FloatVector a = FloatVector.broadcast(S, alpha);
    long end = count / L * L;
    long i = 0;
    for (; i < end; i += L) {
      store(load(x, xFrom + i).fma(a, load(y, yFrom + i)), y, yFrom + i);
    }
    tail.axpy(alpha, x, xFrom + i, y, yFrom + i, count - i);
  }

  @Override
  public float dot(MemorySegment x, long xFrom, MemorySegment y, long yFrom, long count) {
    // Two accumulators: a dot of a few thousand elements is bound by the FMA latency otherwise.
    FloatVector s0 = FloatVector.zero(S);
    FloatVector s1 = FloatVector.zero(S);
    long end2 = count / (2L * L) * (2L * L);
    long i = 0;
    for (; i < end2; i += 2L * L) {
      s0 = load(x, xFrom + i).fma(load(y, yFrom + i), s0);
      s1 = load(x, xFrom + i + L).fma(load(y, yFrom + i + L), s1);
    }
    long end = count / L * L;
    for (; i < end; i += L) {
      s0 = load(x, xFrom + i).fma(load(y, yFrom + i), s0);
    }
    float s = laneSum(s0.add(s1));
    return s + tail.dot(x, xFrom + i, y, yFrom + i, count - i);
  }

  @Override
  public void scale(float alpha, MemorySegment x, long from, long to) {
    long end = bound(from, to);
    long i = from;
    for (; i < end; i += L) {
      store(load(x, i).mul(alpha), x, i);
    }
    tail.scale(alpha, x, i, to);
  }

  @Override
  public void add(MemorySegment x, MemorySegment y, MemorySegment out, long from, long to) {
    long end = bound(from, to);
    long i = from;
    for (; i < end; i += L) {
      store(load(x, i).add(load(y, i)), out, i);
    }
    tail.add(x, y, out, i, to);
  }

  @Override
  public void subtract(MemorySegment x, MemorySegment y, MemorySegment out, long from, long to) {
    long end = bound(from, to);
    long i = from;
    for (; i < end; i += L) {
      store(load(x, i).sub(load(y, i)), out, i);
    }
    tail.subtract(x, y, out, i, to);
  }

  @Override
  public void multiply(MemorySegment x, MemorySegment y, MemorySegment out, long from, long to) {
    long end = bound(from, to);
    long i = from;
    for (; i < end; i += L) {
      store(load(x, i).mul(load(y, i)), out, i);
    }
    tail.multiply(x, y, out, i, to);
  }

  @Override
  public void reluBackward(MemorySegment grad, MemorySegment activation, MemorySegment out, long from, long to) {
    FloatVector zero = FloatVector.zero(S);
    long end = bound(from, to);
    long i = from;
    for (; i < end; i += L) {
      VectorMask<Float> on = load(activation, i).compare(VectorOperators.GT, 0f);
      store(zero.blend(load(grad, i), on), out, i);
    }
    tail.reluBackward(grad, activation, out, i, to);
  }

  @Override
  public void biasAddRow(MemorySegment x, MemorySegment bias, MemorySegment out, long at, int cols, boolean relu) {
    FloatVector zero = FloatVector.zero(S);
    int end = cols / L * L;
    int c = 0;
    for (; c < end; c += L) {
      FloatVector s = load(x, at + c).add(load(bias, c));
      if (relu) {
        // Keep lanes where s > 0 (false for NaN), zero elsewhere, as the scalar form does.
        s = zero.blend(s, s.compare(VectorOperators.GT, 0f));
      }
      store(s, out, at + c);
    }
    for (; c < cols; c++) {
      float s = x.getAtIndex(F, at + c) + bias.getAtIndex(F, c);
      out.setAtIndex(F, at + c, relu ? (s > 0f ? s : 0f) : s);
    }
  }

  @Override
  public long countPositive(MemorySegment x, long from, long to) {
    long end = bound(from, to);
    long count = 0;
    long i = from;
    for (; i < end; i += L) {
      count += load(x, i).compare(VectorOperators.GT, 0f).trueCount();
    }
    return count + tail.countPositive(x, i, to);
  }

  @Override
  public double sum(MemorySegment x, long from, long to) {
    return blockSums(x, from, to, false);
  }

  @Override
  public double sumOfSquares(MemorySegment x, long from, long to) {
    return blockSums(x, from, to, true);
  }

  /**
   * Sums (or sums of squares) of f32 blocks of {@link #SUM_BLOCK} elements added in f64. Four
   * accumulators per block, so the loop runs at load throughput rather than at the latency of
   * one add chain.
   */
  private static double blockSums(MemorySegment x, long from, long to, boolean squares) {
    double total = 0;
    for (long b = from; b < to; b += SUM_BLOCK) {
      long e = Math.min(to, b + SUM_BLOCK);
      long end4 = b + (e - b) / (4L * L) * (4L * L);
      FloatVector s0 = FloatVector.zero(S);
      FloatVector s1 = FloatVector.zero(S);
      FloatVector s2 = FloatVector.zero(S);
      FloatVector s3 = FloatVector.zero(S);
      long i = b;
      if (squares) {
        for (; i < end4; i += 4L * L) {
          FloatVector v0 = load(x, i);
          FloatVector v1 = load(x, i + L);
          FloatVector v2 = load(x, i + 2L * L);
          FloatVector v3 = load(x, i + 3L * L);
          s0 = v0.fma(v0, s0);
          s1 = v1.fma(v1, s1);
          s2 = v2.fma(v2, s2);
          s3 = v3.fma(v3, s3);
        }
      } else {
        for (; i < end4; i += 4L * L) {
          s0 = s0.add(load(x, i));
          s1 = s1.add(load(x, i + L));
          s2 = s2.add(load(x, i + 2L * L));
          s3 = s3.add(load(x, i + 3L * L));
        }
      }
      float s = laneSum(s0.add(s1).add(s2.add(s3)));
      for (; i < e; i++) {
        float v = x.getAtIndex(F, i);
        s += squares ? v * v : v;
      }
      total += s;
    }
    return total;
  }

  /**
   * The lanes of {@code v} added in lane order. Not {@code reduceLanes(ADD)}: its order of float
   * additions is unspecified and differs between the intrinsic and the Java fallback, so a run's
   * sums (and a crosscoder trained from them) changed with the JIT's timing.
   */
  private static float laneSum(FloatVector v) {
    float s = 0f;
    for (int k = 0; k < L; k++) {
      s += v.lane(k);
    }
    return s;
  }

  @Override
  public void addRowInto(MemorySegment x, long at, float[] acc, int cols) {
    int end = S.loopBound(cols);
    int c = 0;
    for (; c < end; c += L) {
      FloatVector.fromArray(S, acc, c).add(load(x, at + c)).intoArray(acc, c);
    }
    for (; c < cols; c++) {
      acc[c] += x.getAtIndex(F, at + c);
    }
  }

  @Override
  public void adam(MemorySegment p, MemorySegment g, MemorySegment m, MemorySegment v, long from, long to,
      float beta1, float beta2, float stepSize, float rsqrtBc2, float eps) {
    float c1 = 1f - beta1;
    float c2 = 1f - beta2;
    long end = bound(from, to);
    long i = from;
    for (; i < end; i += L) {
      FloatVector gi = load(g, i);
      FloatVector mi = load(m, i).mul(beta1).add(gi.mul(c1));
      FloatVector vi = load(v, i).mul(beta2).add(gi.mul(gi).mul(c2));
      store(mi, m, i);
      store(vi, v, i);
      FloatVector denom = vi.sqrt().mul(rsqrtBc2).add(eps);
      store(load(p, i).sub(mi.mul(stepSize).div(denom)), p, i);
    }
    tail.adam(p, g, m, v, i, to, beta1, beta2, stepSize, rsqrtBc2, eps);
  }

  @Override
  public void scaleRowByWeight(MemorySegment x, MemorySegment weight, MemorySegment out, long at, int cols, float scale) {
    int end = cols / L * L;
    int c = 0;
    for (; c < end; c += L) {
      store(load(x, at + c).mul(scale).mul(load(weight, c)), out, at + c);
    }
    for (; c < cols; c++) {
      out.setAtIndex(F, at + c, (x.getAtIndex(F, at + c) * scale) * weight.getAtIndex(F, c));
    }
  }

  @Override
  public void rotateHalf(MemorySegment x, long at, MemorySegment cos, MemorySegment sin, long tableAt, int half) {
    int end = half / L * L;
    int i = 0;
    for (; i < end; i += L) {
      FloatVector a = load(x, at + i);
      FloatVector b = load(x, at + half + i);
      FloatVector c = load(cos, tableAt + i);
      FloatVector s = load(sin, tableAt + i);
      store(a.mul(c).sub(b.mul(s)), x, at + i);
      store(b.mul(c).add(a.mul(s)), x, at + half + i);
    }
    for (; i < half; i++) {
      float a = x.getAtIndex(F, at + i);
      float b = x.getAtIndex(F, at + half + i);
      float c = cos.getAtIndex(F, tableAt + i);
      float s = sin.getAtIndex(F, tableAt + i);
      x.setAtIndex(F, at + i, a * c - b * s);
      x.setAtIndex(F, at + half + i, b * c + a * s);
    }
  }

  @Override
  public float max(MemorySegment x, long from, long to) {
    long end = bound(from, to);
    long i = from;
    float m = Float.NEGATIVE_INFINITY;
    if (end > from) {
      FloatVector acc = load(x, i);
      for (i += L; i < end; i += L) {
        acc = acc.max(load(x, i));
      }
      m = acc.reduceLanes(VectorOperators.MAX);
    }
    for (; i < to; i++) {
      m = Math.max(m, x.getAtIndex(F, i));
    }
    return m;
  }

  /**
   * The exponentials are scalar {@link Math#exp}, not {@code lanewise(EXP)}: the Vector API's EXP
   * is a vector math library call once C2 compiles the loop and {@code Math.exp} per lane before,
   * which differ in the last bit, so results would depend on the JIT's timing; {@code Math.exp} is
   * the same in the interpreter and in compiled code. Exponentials cost little beside the products
   * around them (a softmax row of T keys follows a T x head_dim product).
   */
  @Override
  public double expShiftSum(MemorySegment x, long from, long to, float shift) {
    return tail.expShiftSum(x, from, to, shift);
  }

  /** Scalar, for the reason given at {@link #expShiftSum}. */
  @Override
  public void siluMultiply(MemorySegment gate, MemorySegment up, MemorySegment out, long from, long to) {
    tail.siluMultiply(gate, up, out, from, to);
  }

  /**
   * A vector of scaled scores at a time, tested with one comparison and one NaN test; the lanes of
   * a passing vector are found with {@code firstTrue}. The product is the same f32 multiplication
   * as the scalar loop's, so both find the same column.
   */
  @Override
  public int nextAtOrAbove(MemorySegment x, long at, float[] scale, int from, int cols, float bound) {
    int j = from;
    for (; j <= cols - L; j += L) {
      FloatVector v = load(x, at + j).mul(FloatVector.fromArray(S, scale, j));
      VectorMask<Float> pass = v.compare(VectorOperators.GE, bound).or(v.test(VectorOperators.IS_NAN));
      if (pass.anyTrue()) {
        return j + pass.firstTrue();
      }
    }
    return tail.nextAtOrAbove(x, at, scale, j, cols, bound);
  }
}
