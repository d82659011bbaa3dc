package io.crosscoder.bench.kernels;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.commons.math3.stat.StatUtils;
import org.apache.commons.math3.stat.descriptive.rank.Median;

/**
 * Our SGEMM and OpenBLAS's on the same product, one call each in alternating order, so that a
 * machine whose speed drifts during the run (another tenant, a clock change) slows both sides
 * alike. JMH runs every configuration of one implementation before the next, and on a shared
 * 2-core VM the ratios of such a run moved by 10 points from one run to the next; here each round
 * times one call of each, the one going first alternating, and the summary gives the median of the
 * per-round ratios beside the medians and best calls of each side.
 *
 * <pre>
 * benchmarks/run-sgemm.sh [ROUNDS]          # the script unsets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
 * java $(bin/jvm-flags) -cp benchmarks/target/benchmarks.jar io.crosscoder.bench.kernels.SgemmAlternating \
 *     [--mkn 4096x3072x16384] [--threads 1,2] [--trans NN,TN,NT] [--rounds 5] [--warmup 1]
 * </pre>
 *
 * <p>The shape is {@code m x k x n}, as in {@link SgemmBenchmark}; {@code TN} is {@code A^T B} and
 * {@code NT} {@code A B^T}, the gradient products of a training step. Both sides get the same
 * operands (filled with the same seeds), and the middle element of C the two computed in the last
 * round is compared as a check that they did the same product.
 */
public final class SgemmAlternating {
  private SgemmAlternating() {}

  /**
   * Runs the rounds for every thread count and transpose asked for and prints them.
   *
   * @param args the options above
   */
  public static void main(String[] args) {
    try {
      run(args);
    } catch (RuntimeException e) {
      // A bad option, OpenBLAS not installed, a product that disagrees: one line and status 1.
      System.err.println("SgemmAlternating: " + e.getMessage());
      System.exit(1);
    }
  }

  private static void run(String[] args) {
    String mkn = "4096x3072x16384";
    int[] threads = {1, 2};
    String[] trans = {"NN", "TN", "NT"};
    int rounds = 5;
    int warmup = 1;
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--mkn" -> mkn = required(args[i], value);
        case "--threads" -> threads = Arrays.stream(required(args[i], value).split(",")).mapToInt(Integer::parseInt).toArray();
        case "--trans" -> trans = required(args[i], value).split(",");
        case "--rounds" -> rounds = Integer.parseInt(required(args[i], value));
        case "--warmup" -> warmup = Integer.parseInt(required(args[i], value));
        default -> throw new IllegalArgumentException("unknown option " + args[i]
            + " (--mkn MxKxN, --threads 1,2, --trans NN,TN,NT, --rounds N, --warmup N)");
      }
      i++;
    }
    if (rounds < 1 || warmup < 0) {
      throw new IllegalArgumentException("--rounds must be at least 1 and --warmup at least 0");
    }
    if (!mkn.matches("[1-9]\\d*x[1-9]\\d*x[1-9]\\d*")) {
      throw new IllegalArgumentException("--mkn must be M x K x N, as 4096x3072x16384, not " + mkn);
    }
    for (String tr : trans) {
      if (!tr.matches("[NT][NT]")) {
        throw new IllegalArgumentException("--trans takes NN, TN, NT or TT, not " + tr);
      }
    }
    List<String> summary = new ArrayList<>();
    for (int t : threads) {
      for (String tr : trans) {
        summary.add(pair(mkn, t, tr, rounds, warmup));
      }
    }
    System.out.println("summary (GFLOP/s; ours / OpenBLAS: median of the per-round ratios, and best call / best call):");
    summary.forEach(System.out::println);
  }

  private static String required(String option, String value) {
    if (value == null) {
      throw new IllegalArgumentException(option + " needs a value");
    }
    return value;
  }

  /** The rounds of one configuration; returns its summary line. */
  private static String pair(String mkn, int threads, String trans, int rounds, int warmup) {
    System.out.printf("== %s %s, %d thread%s%n", mkn, trans, threads, threads == 1 ? "" : "s");
    // The peer first: without OpenBLAS this fails before our operands are allocated.
    try (SgemmBenchmark.Gemm peer = new SgemmBenchmark.Gemm(mkn, "openblas", threads, trans);
        SgemmBenchmark.Gemm ours = new SgemmBenchmark.Gemm(mkn, "vector", threads, trans)) {
      double flop = 2.0 * ours.m * ours.n * ours.k;
      for (int w = 0; w < warmup; w++) {
        ours.run();
        peer.run();
      }
      double[] oursRate = new double[rounds];
      double[] peerRate = new double[rounds];
      double[] ratio = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        // The side that goes first alternates, so that neither always follows the other's cache state.
        if (r % 2 == 0) {
          oursRate[r] = flop / seconds(ours) / 1e9;
          peerRate[r] = flop / seconds(peer) / 1e9;
        } else {
          peerRate[r] = flop / seconds(peer) / 1e9;
          oursRate[r] = flop / seconds(ours) / 1e9;
        }
        ratio[r] = oursRate[r] / peerRate[r];
        System.out.printf("round %d: ours %.1f, OpenBLAS %.1f GFLOP/s, %.0f%%%n", r + 1, oursRate[r], peerRate[r],
            100 * ratio[r]);
      }
      float a = ours.middle();
      float b = peer.middle();
      // Rounding differs between the two by about k ulps of the terms (each in [-1, 1)); a different
      // product (a transpose taken wrongly) differs by the size of the element itself, about sqrt(k / 9).
      if (!(Math.abs(a - b) <= 1e-5 * ours.k + 1e-3 * Math.abs(b))) {
        throw new IllegalStateException("the two products differ at C's middle element: ours " + a + ", OpenBLAS " + b);
      }
      return String.format("  %s %s threads=%d: ours %.1f (best %.1f), OpenBLAS %.1f (best %.1f): %.0f%% (best %.0f%%)",
          mkn, trans, threads, median(oursRate), max(oursRate), median(peerRate), max(peerRate),
          100 * median(ratio), 100 * max(oursRate) / max(peerRate));
    }
  }

  private static double seconds(SgemmBenchmark.Gemm g) {
    long t0 = System.nanoTime();
    g.run();
    return (System.nanoTime() - t0) / 1e9;
  }

  private static double median(double[] v) {
    return new Median().evaluate(v);
  }

  private static double max(double[] v) {
    return StatUtils.max(v);
  }
}
