package io.crosscoder.cpu.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The plain-Java {@link ElementwiseOps}: one element at a time (the JIT may still vectorize). */
final class ScalarElementwise implements ElementwiseOps {
  private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

  @Override
  public void fill(MemorySegment x, long from, long to, float value) {
    for (long i = from; i < to; i++) {
      x.setAtIndex(F, i, value);
    }
  }

  @Override
  public void axpy(float alpha, MemorySegment x, long xFrom, MemorySegment y, long yFrom, long count) {
    for (long i = 0; i < count; i++) {
      y.setAtIndex(F, yFrom + i, alpha * x.getAtIndex(F, xFrom + i) + y.getAtIndex(F, yFrom + i));
    }
  }

  @Override
  public float dot(MemorySegment x, long xFrom, MemorySegment y, long yFrom, long count) {
    float s = 0f;
    for (long i = 0; i < count; i++) {
      s = Math.fma(x.getAtIndex(F, xFrom + i), y.getAtIndex(F, yFrom + i), s);
    }
    return s;
  }

  @Override
  public void scale(float alpha, MemorySegment x, long from, long to) {
    for (long i = from; i < to; i++) {
      x.setAtIndex(F, i, alpha * x.getAtIndex(F, i));
    }
  }

  @Override
  public void add(MemorySegment x, MemorySegment y, MemorySegment out, long from, long to) {
    for (long i = from; i < to; i++) {
      out.setAtIndex(F, i, x.getAtIndex(F, i) + y.getAtIndex(F, i));
    }
  }

  @Override
  public void subtract(MemorySegment x, MemorySegment y, MemorySegment out, long from, long to) {
    for (long i = from; i < to; i++) {
      out.setAtIndex(F, i, x.getAtIndex(F, i) - y.getAtIndex(F, i));
    }
  }

  @Override
  public void multiply(MemorySegment x, MemorySegment y, MemorySegment out, long from, long to) {
    for (long i = from; i < to; i++) {
      out.setAtIndex(F, i, x.getAtIndex(F, i) * y.getAtIndex(F, i));
    }
  }

  @Override
  public void reluBackward(MemorySegment grad, MemorySegment activation, MemorySegment out, long from, long to) {
    for (long i = from; i < to; i++) {
      out.setAtIndex(F, i, activation.getAtIndex(F, i) > 0f ? grad.getAtIndex(F, i) : 0f);
    }
  }

  @Override
  public void biasAddRow(MemorySegment x, MemorySegment bias, MemorySegment out, long at, int cols, boolean relu) {
    for (int c = 0; c < cols; c++) {
      float s = x.getAtIndex(F, at + c) + bias.getAtIndex(F, c);
      // s > 0 is false for NaN, so ReLU never outputs NaN.
      out.setAtIndex(F, at + c, relu ? (s > 0f ? s : 0f) : s);
    }
  }

  @Override
  public long countPositive(MemorySegment x, long from, long to) {
    long count = 0;
    for (long i = from; i < to; i++) {
      count += x.getAtIndex(F, i) > 0f ? 1 : 0;
    }
    return count;
  }

  @Override
  public double sum(MemorySegment x, long from, long to) {
    double total = 0;
    for (long b = from; b < to; b += SUM_BLOCK) {
      long e = Math.min(to, b + SUM_BLOCK);
      float s = 0f;
      for (long i = b; i < e; i++) {
        s += x.getAtIndex(F, i);
      }
      total += s;
    }
    return total;
  }

  @Override
  public double sumOfSquares(MemorySegment x, long from, long to) {
    double total = 0;
    for (long b = from; b < to; b += SUM_BLOCK) {
      long e = Math.min(to, b + SUM_BLOCK);
      float s = 0f;
      for (long i = b; i < e; i++) {
        float v = x.getAtIndex(F, i);
        s += v * v;
      }
      total += s;
    }
    return total;
  }

  @Override
  public void addRowInto(MemorySegment x, long at, float[] acc, int cols) {
    for (int c = 0; c < cols; c++) {
      acc[c] += x.getAtIndex(F, at + c);
    }
  }

  @Override
  public void adam(MemorySegment p, MemorySegment g, MemorySegment m, MemorySegment v, long from, long to,
      float beta1, float beta2, float stepSize, float rsqrtBc2, float eps) {
    float c1 = 1f - beta1;
    float c2 = 1f - beta2;
    for (long i = from; i < to; i++) {
      float gi = g.getAtIndex(F, i);
      float mi = beta1 * m.getAtIndex(F, i) + c1 * gi;
      float vi = beta2 * v.getAtIndex(F, i) + (gi * gi) * c2;
      m.setAtIndex(F, i, mi);
      v.setAtIndex(F, i, vi);
      float denom = (float) Math.sqrt(vi) * rsqrtBc2 + eps;
      p.setAtIndex(F, i, p.getAtIndex(F, i) - stepSize * mi / denom);
    }
  }

  @Override
  public void scaleRowByWeight(MemorySegment x, MemorySegment weight, MemorySegment out, long at, int cols, float scale) {
    for (int c = 0; c < cols; c++) {
      out.setAtIndex(F, at + c, (x.getAtIndex(F, at + c) * scale) * weight.getAtIndex(F, c));
    }
  }

  @Override
  public void rotateHalf(MemorySegment x, long at, MemorySegment cos, MemorySegment sin, long tableAt, int half) {
    for (int i = 0; i < half; i++) {
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
    float m = x.getAtIndex(F, from);
    for (long i = from + 1; i < to; i++) {
      m = Math.max(m, x.getAtIndex(F, i));
    }
    return m;
  }

  @Override
  public double expShiftSum(MemorySegment x, long from, long to, float shift) {
    double total = 0;
    for (long b = from; b < to; b += SUM_BLOCK) {
      long e = Math.min(to, b + SUM_BLOCK);
      float s = 0f;
      for (long i = b; i < e; i++) {
        float v = (float) Math.exp(x.getAtIndex(F, i) - shift);
        x.setAtIndex(F, i, v);
        s += v;
      }
      total += s;
    }
    return total;
  }

  @Override
  public void siluMultiply(MemorySegment gate, MemorySegment up, MemorySegment out, long from, long to) {
    for (long i = from; i < to; i++) {
      float g = gate.getAtIndex(F, i);
      out.setAtIndex(F, i, g / (1f + (float) Math.exp(-g)) * up.getAtIndex(F, i));
    }
  }

  @Override
  public int nextAtOrAbove(MemorySegment x, long at, float[] scale, int from, int cols, float bound) {
    for (int j = from; j < cols; j++) {
      float v = x.getAtIndex(F, at + j) * scale[j];
      if (v >= bound || v != v) {
        return j;
      }
    }
    return cols;
  }
}
