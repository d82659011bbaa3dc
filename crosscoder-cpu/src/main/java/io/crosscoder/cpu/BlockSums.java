package io.crosscoder.cpu;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The sums of one block of element pairs, and the f32 lane accumulators they are folded from. One
 * instance per thread and pass; not thread-safe.
 *
 * <p>After {@link #fold()} (or {@link ExactBlock#accumulate}) the public-in-package fields hold the
 * block's sums in f64: {@code dot = sum a b}, {@code baseSquares = sum a^2}, {@code targetSquares =
 * sum b^2}, {@code diffSquares = sum (b - a)^2}, {@code maxAbsDiff = max |b - a|}, {@code changed}
 * (pairs whose f32 bit patterns differ) and {@code nonFinite} (pairs left out of the sums).
 */
final class BlockSums {
  final int lanes;
  final float[] dotLanes;
  final float[] baseLanes;
  final float[] targetLanes;
  final float[] diffLanes;

  /** Running maximum of {@code |b - a|} and count of changed pairs while a kernel works. */
  float runningMax;
  long runningChanged;

  private float[] stageA;
  private float[] stageB;

  double dot;
  double baseSquares;
  double targetSquares;
  double diffSquares;
  double maxAbsDiff;
  long changed;
  long nonFinite;

  BlockSums(int lanes) {
    if (lanes <= 0 || Integer.bitCount(lanes) != 1) {
      throw new IllegalArgumentException("lane count must be a power of two, got " + lanes);
    }
    this.lanes = lanes;
    dotLanes = new float[lanes];
    baseLanes = new float[lanes];
    targetLanes = new float[lanes];
    diffLanes = new float[lanes];
  }

  /** A block of f32 scratch for widening the base, made on first use. */
  float[] stageA() {
    if (stageA == null) {
      stageA = new float[PairPass.BLOCK];
    }
    return stageA;
  }

  /** A block of f32 scratch for widening the target, made on first use. */
  float[] stageB() {
    if (stageB == null) {
      stageB = new float[PairPass.BLOCK];
    }
    return stageB;
  }

  /** Zeroes the lanes and the running values before a block. */
  void clear() {
    Arrays.fill(dotLanes, 0f);
    Arrays.fill(baseLanes, 0f);
    Arrays.fill(targetLanes, 0f);
    Arrays.fill(diffLanes, 0f);
    runningMax = 0f;
    runningChanged = 0;
  }

  /**
   * Adds elements {@code [from, n)} of a plain-float block (element {@code i} to lane {@code i mod
   * lanes}) and folds: the vector kernel's tail, shorter than one vector, widened into the
   * staging blocks first.
   */
  void finishPlain(MemorySegment a, int kindA, long ia, MemorySegment b, int kindB, long ib, int from, int n) {
    float[] x = stageA();
    float[] y = stageB();
    ScalarPairKernel.widen(a, kindA, ia + from, n - from, x, from);
    ScalarPairKernel.widen(b, kindB, ib + from, n - from, y, from);
    finishArray(x, y, from, n);
  }

  /**
   * Adds {@code a[from, n)} against {@code b[from, n)} (element {@code i} to lane {@code i mod
   * lanes}) and folds: the scalar kernel's whole block, the vector kernel's tail. Per pair: {@code
   * d = b - a} in f32, each lane sum updated with {@link Math#fma(float, float, float)} exactly as
   * the vector kernel's lanewise fused multiply-add does, the maximum of {@code |d|} and the count
   * of differing bit patterns kept in locals for the length of the loop.
   */
  void finishArray(float[] a, float[] b, int from, int n) {
    float[] dots = dotLanes;
    float[] bases = baseLanes;
    float[] targets = targetLanes;
    float[] diffs = diffLanes;
    float max = runningMax;
    long count = runningChanged;
    int mask = lanes - 1;
    for (int i = from; i < n; i++) {
      int j = i & mask;
      float x = a[i];
      float y = b[i];
      float d = y - x;
      dots[j] = Math.fma(x, y, dots[j]);
      bases[j] = Math.fma(x, x, bases[j]);
      targets[j] = Math.fma(y, y, targets[j]);
      diffs[j] = Math.fma(d, d, diffs[j]);
      // A predictable branch rather than Math.max, whose NaN-aware sequence would make a latency
      // chain of the loop; a NaN difference only comes from a non-finite element, and such a
      // block is recomputed by ExactBlock anyway.
      float ad = Math.abs(d);
      if (ad > max) {
        max = ad;
      }
      count += Float.floatToRawIntBits(x) != Float.floatToRawIntBits(y) ? 1 : 0;
    }
    runningMax = max;
    runningChanged = count;
    fold();
  }

  /**
   * Folds the lanes into the f64 block sums: lane {@code j} into partial sum {@code j mod 4}, the
   * partials then added pairwise. The order is fixed, so every kernel folds alike; four chains
   * instead of one keep the fold from costing as much as a short row.
   */
  void fold() {
    dot = sum(dotLanes);
    baseSquares = sum(baseLanes);
    targetSquares = sum(targetLanes);
    diffSquares = sum(diffLanes);
    maxAbsDiff = runningMax;
    changed = runningChanged;
    nonFinite = 0;
  }

  private static double sum(float[] lanes) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    int j = 0;
    for (; j + 4 <= lanes.length; j += 4) {
      s0 += lanes[j];
      s1 += lanes[j + 1];
      s2 += lanes[j + 2];
      s3 += lanes[j + 3];
    }
    for (; j < lanes.length; j++) {
      s0 += lanes[j];
    }
    return (s0 + s1) + (s2 + s3);
  }

  /**
   * Whether every sum and the maximum are finite. A non-finite value or an f32 overflow anywhere in
   * the block makes at least one of them infinite or NaN, since a non-finite element makes its own
   * square non-finite.
   */
  boolean finite() {
    return Double.isFinite(dot + baseSquares + targetSquares + diffSquares + maxAbsDiff);
  }

  /**
   * Sums of squares below which a block is recomputed exactly: {@code 2^-90}. Each fused
   * multiply-add into an f32 lane rounds to the f32 grid, whose spacing near zero is {@code
   * 2^-149}, so products of elements below about {@code 1e-19} (subnormal or normal) vanish or
   * keep a few bits: two unrelated tensors of such values would come out "both zero, cosine 1",
   * and values near {@code 1e-23} would get cosine 0. A block of at most {@link PairPass#BLOCK}
   * elements loses at most {@code 4096 * 2^-149 = 2^-137} this way, nothing next to sums of
   * {@code 2^-90} or more. All-zero blocks take the exact path too (their sums cannot tell zeros
   * from vanished products); it costs little.
   */
  static final double TINY = 0x1p-90;

  /**
   * Whether the fast f32 sums of this block cannot be used as they are: a sum is not finite (a NaN
   * or infinite element, or an f32 overflow), or a sum of squares is below {@link #TINY}. Such
   * blocks go to {@link ExactBlock}, whose products are formed in f64.
   */
  boolean needsExact() {
    return !finite() || !(Math.min(baseSquares, targetSquares) >= TINY);
  }
}
