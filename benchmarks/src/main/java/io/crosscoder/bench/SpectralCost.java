package io.crosscoder.bench;

import io.crosscoder.metric.PairStatistics;
import io.crosscoder.spectral.MatrixSpectrum;
import io.crosscoder.spectral.SpectralAnalysis;
import io.crosscoder.spectral.SpectralOptions;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * The cost of {@code crosscoder diff --spectral} at the shape of Qwen2-1.5B: the spectral analysis
 * ({@link SpectralAnalysis}: randomised SVDs of {@code D = B - A}, {@code A} and {@code B} with the
 * default {@code l = 32}, {@code q = 2}) of one matrix pair of each shape the model has, then the
 * whole model (28 layers of q, k, v, o, gate, up, down, and the embedding), printed beside the same
 * computation in NumPy and NumPy's full SVD of {@code D} ({@code benchmarks/python/spectral_peer.py},
 * run from here with OpenBLAS's tuning variables unset), with the ratio, from one run.
 *
 * <p>Pairs are drawn as {@code A ~ N(0, 0.02^2)}, {@code B = A + N(0, 0.002^2)} in f32 (a full-rank
 * change, the expensive case for nothing: the cost does not depend on the values). Each shape is
 * timed {@code --rounds} times after one warm-up; the median is printed.
 */
public final class SpectralCost {
  private SpectralCost() {}

  record Shape(String name, int m, int n, int perModel) {}

  /** Qwen2-1.5B: hidden 1536, intermediate 8960, 2 key/value heads of 128, vocabulary 151936, 28 layers. */
  static final List<Shape> QWEN2_1_5B = List.of(
      new Shape("q_proj / o_proj", 1536, 1536, 56),
      new Shape("k_proj / v_proj", 256, 1536, 56),
      new Shape("gate_proj / up_proj", 8960, 1536, 56),
      new Shape("down_proj", 1536, 8960, 28),
      new Shape("embed_tokens", 151936, 1536, 1));

  /**
   * Options: {@code --backend NAME} (default: the best available, as the CLI chooses), {@code --rounds
   * N} (default 2), {@code --no-embedding} (leave the 151936 x 1536 embedding out), {@code --no-peer}, {@code --python
   * CMD} (default python3).
   */
  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--no-embedding") || a.equals("--no-peer")) {
        opt.put(a, "true");
      } else if (a.startsWith("--") && i + 1 < args.length) {
        opt.put(a, args[++i]);
      } else {
        throw new IllegalArgumentException("unknown argument " + a);
      }
    }
    int rounds = Integer.parseInt(opt.getOrDefault("--rounds", "2"));
    List<Shape> shapes = new ArrayList<>(QWEN2_1_5B);
    if (opt.containsKey("--no-embedding")) {
      shapes.removeIf(s -> s.name().equals("embed_tokens"));
    }
    SpectralOptions options = SpectralOptions.DEFAULTS;
    double[] ours = new double[shapes.size()];
    try (BenchBackend backend = BenchBackend.open(opt.get("--backend"))) {
      System.out.printf(Locale.ROOT, "# SpectralCost: Qwen2-1.5B shapes, l = %d, q = %d, k = %d, %d rounds%n",
          options.sketchSize(), options.powerIterations(), options.rank(), rounds);
      System.out.println("# ours: " + backend.description());
      for (int s = 0; s < shapes.size(); s++) {
        Shape sh = shapes.get(s);
        try (Arena arena = Arena.ofShared()) {
          TensorView a = draw(arena, "a", sh.m(), sh.n(), 1, null);
          TensorView b = draw(arena, "b", sh.m(), sh.n(), 2, a);
          PairStatistics stats = new PairStatistics((long) sh.m() * sh.n(), 0, 0, 0, 0, 0, 1, 0, null);
          MatrixSpectrum first = SpectralAnalysis.analyze(backend.kernels(), a, b, sh.name(), stats, options);
          double[] t = new double[rounds];
          for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            SpectralAnalysis.analyze(backend.kernels(), a, b, sh.name(), stats, options);
            t[r] = (System.nanoTime() - t0) / 1e6;
          }
          Arrays.sort(t);
          ours[s] = t[rounds / 2];
          System.out.printf(Locale.ROOT, "# %-20s %6d x %-5d ours %9.1f ms  (sigma_max %.4f, overlap %.4f)%n",
              sh.name(), sh.m(), sh.n(), ours[s], first.sigmaMax(), first.subspaceOverlap());
        }
      }
    }
    double[][] peer = opt.containsKey("--no-peer") ? null : peer(shapes, opt.getOrDefault("--python", "python3"), rounds);
    System.out.println();
    System.out.println("| shape | m x n | per model | ours ms | numpy rsvd ms | ours / numpy | numpy full SVD of D ms |");
    System.out.println("|---|---|---:|---:|---:|---:|---:|");
    double totalOurs = 0;
    double totalPeer = 0;
    boolean peerComplete = peer != null;
    for (int s = 0; s < shapes.size(); s++) {
      Shape sh = shapes.get(s);
      double p = peer == null || peer[s] == null ? Double.NaN : peer[s][0];
      double full = peer == null || peer[s] == null ? Double.NaN : peer[s][1];
      System.out.printf(Locale.ROOT, "| %s | %d x %d | %d | %.1f | %s | %s | %s |%n", sh.name(), sh.m(), sh.n(),
          sh.perModel(), ours[s], fmt(p), Double.isNaN(p) ? "n/a" : String.format(Locale.ROOT, "%.2f", ours[s] / p),
          Double.isNaN(full) ? "skipped" : fmt(full));
      totalOurs += sh.perModel() * ours[s];
      totalPeer += sh.perModel() * p;
      peerComplete &= !Double.isNaN(p);
    }
    System.out.printf(Locale.ROOT, "| **whole model** | %d matrices | | %.1f s | %s | %s | |%n",
        shapes.stream().mapToInt(Shape::perModel).sum(), totalOurs / 1e3,
        peerComplete ? String.format(Locale.ROOT, "%.1f s", totalPeer / 1e3) : "n/a",
        peerComplete ? String.format(Locale.ROOT, "%.2f", totalOurs / totalPeer) : "n/a");
  }

  private static String fmt(double v) {
    return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.1f", v);
  }

  /** A ~ N(0, 0.02^2), or B = A + N(0, 0.002^2), as an F32 view over off-heap memory. */
  private static TensorView draw(Arena arena, String name, int m, int n, long seed, TensorView base) {
    MemorySegment seg = arena.allocate(4L * m * n, 64);
    IntStream.range(0, m).parallel().forEach(i -> {
      SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + i);
      for (int j = 0; j < n; j++) {
        long at = 4L * ((long) i * n + j);
        double g = gaussian(rnd);
        float v = base == null ? (float) (0.02 * g)
            : (float) (base.data().get(TensorView.Layouts.F32, at) + 0.002 * g);
        seg.set(TensorView.Layouts.F32, at, v);
      }
    });
    return TensorView.of(name, DType.F32, new long[] {m, n}, seg, null);
  }

  private static double gaussian(SplittableRandom rnd) {
    double u1 = 1 - rnd.nextDouble();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rnd.nextDouble());
  }

  /** A number as Python prints it ({@code nan} for a skipped measurement). */
  private static double number(String v) {
    return v.equalsIgnoreCase("nan") ? Double.NaN : Double.parseDouble(v);
  }

  /** Runs the NumPy peer; its rows by shape (rsvd ms, full ms), or null entries when it fails. */
  private static double[][] peer(List<Shape> shapes, String python, int rounds) {
    Path script = Path.of("benchmarks/python/spectral_peer.py");
    double[][] out = new double[shapes.size()][];
    if (!Files.isRegularFile(script)) {
      System.out.println("# peer: " + script + " not found (run from the repository root); skipped");
      return out;
    }
    List<String> cmd = new ArrayList<>(List.of(python, script.toString(), "--rounds", Integer.toString(rounds),
        "--shapes", String.join(",", shapes.stream().map(s -> s.m() + "x" + s.n()).toList())));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    // The peer runs OpenBLAS with its own tuning, not the machine's pinned core type.
    pb.environment().remove("OPENBLAS_CORETYPE");
    pb.environment().remove("OPENBLAS_L2_SIZE");
    try {
      Process p = pb.start();
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          System.out.println("# peer: " + line);
          String[] f = line.trim().split("\\s+");
          if (f.length == 5 && f[0].equals("shape")) {
            int m = Integer.parseInt(f[1]);
            int n = Integer.parseInt(f[2]);
            for (int s = 0; s < shapes.size(); s++) {
              if (shapes.get(s).m() == m && shapes.get(s).n() == n) {
                out[s] = new double[] {number(f[3]), number(f[4])};
              }
            }
          }
        }
      }
      int status = p.waitFor();
      if (status != 0) {
        System.out.println("# peer: exited with status " + status);
      }
    } catch (Exception e) {
      System.out.println("# peer: could not run " + python + ": " + e.getMessage());
    }
    return out;
  }
}
