package io.crosscoder.cpu.kernels;

import java.lang.foreign.MemorySegment;

/**
 * Streaming f32 loops over element ranges of native segments, in a plain-Java form ({@link
 * ScalarElementwise}) and a Vector API form ({@code VectorElementwise}). {@link CpuKernels} cuts
 * each call into ranges for its threads; these methods run on one thread. Indices are in elements
 * (f32), ranges are {@code [from, to)}.
 */
interface ElementwiseOps {
  /** Elements per f32 partial sum before it is added into the f64 total. */
  int SUM_BLOCK = 4096;

  void fill(MemorySegment x, long from, long to, float value);

  /** {@code y = alpha * x + y}. */
  void axpy(float alpha, MemorySegment x, long xFrom, MemorySegment y, long yFrom, long count);

  /** {@code sum_{i < count} x[xFrom + i] * y[yFrom + i]} in f32 (the rows of a sampled product are short enough). */
  float dot(MemorySegment x, long xFrom, MemorySegment y, long yFrom, long count);

  /** {@code x = alpha * x}. */
  void scale(float alpha, MemorySegment x, long from, long to);

  /** {@code out = x + y}. */
  void add(MemorySegment x, MemorySegment y, MemorySegment out, long from, long to);

  /** {@code out = x - y}. */
  void subtract(MemorySegment x, MemorySegment y, MemorySegment out, long from, long to);

  /** {@code out = x * y}. */
  void multiply(MemorySegment x, MemorySegment y, MemorySegment out, long from, long to);

  /** {@code out = activation > 0 ? grad : 0}. */
  void reluBackward(MemorySegment grad, MemorySegment activation, MemorySegment out, long from, long to);

  /** {@code out[at + c] = x[at + c] + bias[c]} for {@code c < cols}, then ReLU when asked. */
  void biasAddRow(MemorySegment x, MemorySegment bias, MemorySegment out, long at, int cols, boolean relu);

  /** The number of {@code x[i] > 0} (NaN and both zeros are not). */
  long countPositive(MemorySegment x, long from, long to);

  /** {@code sum x[i]}, f32 blocks of {@link #SUM_BLOCK} added in f64. */
  double sum(MemorySegment x, long from, long to);

  /** {@code sum x[i]^2}, as {@link #sum}. */
  double sumOfSquares(MemorySegment x, long from, long to);

  /** {@code acc[c] += x[at + c]} for {@code c < cols}. */
  void addRowInto(MemorySegment x, long at, float[] acc, int cols);

  /** One Adam step over {@code [from, to)}; see {@link io.crosscoder.backend.Kernels#adam}. */
  void adam(MemorySegment p, MemorySegment g, MemorySegment m, MemorySegment v, long from, long to,
      float beta1, float beta2, float stepSize, float rsqrtBc2, float eps);

  /** {@code out[at + c] = (x[at + c] * scale) * weight[c]} for {@code c < cols}: RMSNorm once the row's scale is known. */
  void scaleRowByWeight(MemorySegment x, MemorySegment weight, MemorySegment out, long at, int cols, float scale);

  /**
   * Rotate-half RoPE of one head in place: with {@code a = x[at + i]}, {@code b = x[at + half + i]},
   * {@code c = cos[tableAt + i]}, {@code s = sin[tableAt + i]}, writes {@code a c - b s} and {@code b c + a s}.
   */
  void rotateHalf(MemorySegment x, long at, MemorySegment cos, MemorySegment sin, long tableAt, int half);

  /** The largest of {@code x[from .. to)}, {@code to > from}. */
  float max(MemorySegment x, long from, long to);

  /** {@code x[i] = exp(x[i] - shift)} over the range; returns their sum, f32 blocks added in f64. */
  double expShiftSum(MemorySegment x, long from, long to, float shift);

  /** {@code out = silu(gate) * up}, {@code silu(g) = g / (1 + exp(-g))}. */
  void siluMultiply(MemorySegment gate, MemorySegment up, MemorySegment out, long from, long to);

  /**
   * The first column {@code j} in {@code [from, cols)} of the row at {@code at} whose scaled score
   * {@code x[at + j] * scale[j]} (an f32 product) is at least {@code bound} or NaN; {@code cols}
   * when there is none. For {@link BatchTopK}'s candidate scan, where few scores pass.
   */
  int nextAtOrAbove(MemorySegment x, long at, float[] scale, int from, int cols, float bound);
}
