package io.crosscoder.crosscoder.train;

import io.crosscoder.crosscoder.ActivationBatch;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * An independent f64 reference of the crosscoder losses, written from METHOD.md with plain loops
 * (no kernels): parameters in the flat layout {@code [W_enc (2d x F) | b_enc | W_dec (F x 2d) |
 * b_dec]}.
 */
final class CrosscoderOracle {
  final int d;
  final int f;
  final int shared;
  final boolean topK;
  final double lambda;
  final double sharedFactor;
  final int k;
  final int auxK;
  final double auxWeight;

  CrosscoderOracle(int d, int f, int shared, boolean topK, double lambda, double sharedFactor, int k,
      int auxK, double auxWeight) {
    this.d = d;
    this.f = f;
    this.shared = shared;
    this.topK = topK;
    this.lambda = lambda;
    this.sharedFactor = sharedFactor;
    this.k = k;
    this.auxK = auxK;
    this.auxWeight = auxWeight;
  }

  int size() {
    return 4 * d * f + f + 2 * d;
  }

  int wDec(int latent, int r) {
    return 2 * d * f + f + latent * 2 * d + r;
  }

  /**
   * The twin of parameter {@code j} in a designated shared latent, whose two decoder halves are
   * tied: {@code j + d} for the first half, -2 for the second (checked through the first), -1 for
   * every untied parameter.
   */
  int tiedTwin(int j) {
    int start = wDec(0, 0);
    int end = wDec(shared, 0);
    if (j < start || j >= end) {
      return -1;
    }
    return (j - start) % (2 * d) < d ? j + d : -2;
  }

  /**
   * The central difference {@code (L(p + h e_j) - L(p - h e_j)) / 2h} of {@link Result#total} with
   * {@code auxWeight}, moving the tied twin of {@code j} along with it (see {@link #tiedTwin}).
   */
  double centralDifference(double[] p, double[][] x, boolean[] dead, double[][] e0, double spread0,
      double auxWeight, int j, double h) {
    int twin = tiedTwin(j);
    double[] plus = p.clone();
    double[] minus = p.clone();
    plus[j] += h;
    minus[j] -= h;
    if (twin >= 0) {
      plus[twin] += h;
      minus[twin] -= h;
    }
    return (evaluate(plus, x, dead, e0, spread0).total(auxWeight)
        - evaluate(minus, x, dead, e0, spread0).total(auxWeight)) / (2 * h);
  }

  /** Everything one evaluation computes. */
  static final class Result {
    double recon;
    double sparsity;
    double aux;
    double minKept = Double.NaN;
    double l0;
    double evBase;
    double evTarget;
    double[][] residual; // e = x - x^
    double residualSpread; // sum_b |e_b - mean(e)|^2
    boolean[] fired;

    double total(double auxWeight) {
      return recon + sparsity + auxWeight * aux;
    }
  }

  /** Joins a batch into rows {@code [x_A, x_B]}. */
  static double[][] rows(ActivationBatch batch) {
    int d = batch.d();
    double[][] x = new double[batch.rows()][2 * d];
    for (int t = 0; t < batch.rows(); t++) {
      for (int j = 0; j < d; j++) {
        x[t][j] = batch.base()[t * d + j];
        x[t][d + j] = batch.target()[t * d + j];
      }
    }
    return x;
  }

  /**
   * The losses at {@code p}. For the auxiliary loss, {@code dead} says which latents are dead and
   * {@code e0}, {@code spread0} are the detached residual and its spread (null: no auxiliary loss).
   */
  Result evaluate(double[] p, double[][] x, boolean[] dead, double[][] e0, double spread0) {
    int b = x.length;
    int d2 = 2 * d;
    int bEnc = d2 * f;
    int wDec = bEnc + f;
    int bDec = wDec + f * d2;
    double[][] acts = new double[b][f];
    for (int t = 0; t < b; t++) {
      for (int i = 0; i < f; i++) {
        double s = p[bEnc + i];
        for (int r = 0; r < d2; r++) {
          s += x[t][r] * p[r * f + i];
        }
        acts[t][i] = Math.max(0, s);
      }
    }
    double[] nA = new double[f];
    double[] nB = new double[f];
    for (int i = 0; i < f; i++) {
      for (int j = 0; j < d; j++) {
        nA[i] += sq(p[wDec + i * d2 + j]);
        nB[i] += sq(p[wDec + i * d2 + d + j]);
      }
      nA[i] = Math.sqrt(nA[i]);
      nB[i] = Math.sqrt(nB[i]);
    }
    Result res = new Result();
    double[][] kept = acts;
    if (topK) {
      kept = new double[b][f];
      List<double[]> positions = new ArrayList<>();
      for (int t = 0; t < b; t++) {
        for (int i = 0; i < f; i++) {
          positions.add(new double[] {acts[t][i] * (nA[i] + nB[i]), t * f + i});
        }
      }
      positions.sort(Comparator.<double[]>comparingDouble(a -> -a[0]).thenComparingDouble(a -> a[1]));
      int keep = Math.min(k * b, b * f);
      for (int q = 0; q < keep; q++) {
        int pos = (int) positions.get(q)[1];
        kept[pos / f][pos % f] = acts[pos / f][pos % f];
        res.minKept = positions.get(q)[0];
      }
    }
    res.fired = new boolean[f];
    res.residual = new double[b][d2];
    double[][] xhat = new double[b][d2];
    int active = 0;
    for (int t = 0; t < b; t++) {
      for (int r = 0; r < d2; r++) {
        double s = p[bDec + r];
        for (int i = 0; i < f; i++) {
          s += kept[t][i] * p[wDec + i * d2 + r];
        }
        xhat[t][r] = s;
        res.residual[t][r] = x[t][r] - s;
        res.recon += sq(x[t][r] - s);
      }
      for (int i = 0; i < f; i++) {
        if (kept[t][i] > 0) {
          res.fired[i] = true;
          active++;
          res.sparsity += kept[t][i] * (i < shared ? sharedFactor : 1) * (nA[i] + nB[i]);
        }
      }
    }
    res.l0 = active / (double) b;
    res.recon /= b;
    res.sparsity = topK ? 0 : lambda * res.sparsity / b;
    double[] mean = new double[d2];
    for (double[] row : res.residual) {
      for (int r = 0; r < d2; r++) {
        mean[r] += row[r] / b;
      }
    }
    for (double[] row : res.residual) {
      for (int r = 0; r < d2; r++) {
        res.residualSpread += sq(row[r] - mean[r]);
      }
    }
    res.evBase = explained(x, xhat, 0);
    res.evTarget = explained(x, xhat, d);
    if (topK && dead != null && e0 != null) {
      int numDead = 0;
      for (boolean dd : dead) {
        numDead += dd ? 1 : 0;
      }
      int ka = Math.min(auxK, numDead);
      double sum = 0;
      for (int t = 0; t < b; t++) {
        final double[] v = new double[f];
        Integer[] order = new Integer[f];
        for (int i = 0; i < f; i++) {
          v[i] = dead[i] ? acts[t][i] : 0;
          order[i] = i;
        }
        java.util.Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -v[i]).thenComparingInt(i -> i));
        for (int r = 0; r < d2; r++) {
          double ehat = 0;
          for (int q = 0; q < ka; q++) {
            int i = order[q];
            ehat += v[i] * p[wDec + i * d2 + r];
          }
          sum += sq(e0[t][r] - ehat);
        }
      }
      res.aux = numDead > 0 && spread0 > 0 ? sum / spread0 : 0;
    }
    return res;
  }

  private double explained(double[][] x, double[][] xhat, int off) {
    int b = x.length;
    double err = 0;
    double var = 0;
    for (int j = 0; j < d; j++) {
      double mean = 0;
      for (double[] row : x) {
        mean += row[off + j] / b;
      }
      for (int t = 0; t < b; t++) {
        err += sq(x[t][off + j] - xhat[t][off + j]);
        var += sq(x[t][off + j] - mean);
      }
    }
    return 1 - err / var;
  }

  /** The flat parameters of {@code w} in f64. */
  static double[] flat(TrainedWeights w) {
    int n = w.wEnc().length;
    double[] p = new double[2 * n + w.bEnc().length + w.bDec().length];
    int at = 0;
    for (float v : w.wEnc()) {
      p[at++] = v;
    }
    for (float v : w.bEnc()) {
      p[at++] = v;
    }
    for (float v : w.wDec()) {
      p[at++] = v;
    }
    for (float v : w.bDec()) {
      p[at++] = v;
    }
    return p;
  }

  static double sq(double v) {
    return v * v;
  }
}
