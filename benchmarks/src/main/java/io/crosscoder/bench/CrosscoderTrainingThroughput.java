package io.crosscoder.bench;

import io.crosscoder.backend.Kernels;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.crosscoder.train.CrosscoderTrainer;
import io.crosscoder.crosscoder.train.TrainingConfig;
import io.crosscoder.crosscoder.train.TrainingData;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Crosscoder training throughput on any backend's kernels: tokens per second of {@link
 * CrosscoderTrainer#trainStep()} for the L1 and the BatchTopK objective on random activations, and
 * on the CPU where the time goes (each kernel's share of the measured steps, through {@link
 * KernelTimer}; an asynchronous backend such as cuda would charge the time to its synchronising
 * calls, so no breakdown is printed there).
 *
 * <p>Defaults are a realistic single-site size: {@code d = 768} per model ({@code 2d = 1536}), {@code
 * F = 16384}, batch 4096; a step's five main products (encoder, decoder, and the gradients of the
 * decoder, the latents and the encoder) cost {@code 5 * 2 * B * 2d * F} = 1.03 TFLOP there,
 * so shrink it on a small machine. A latent silent for one batch counts as dead, so the BatchTopK
 * auxiliary loss (one more dense product and two sparse ones) is in the measurement whenever a
 * latent is silent. {@code --variant all} adds BatchTopK with dense decoding for comparison. The
 * GFLOP/s column divides the five products' dense cost by the step time, whatever path ran.
 *
 * <p>The activations are a pool of {@code --pool} Gaussian batches (default 2) drawn once before
 * the trainer starts and handed out in turn, so the measurement is the trainer's step (the
 * interleaving of the two models' rows and the upload of the batch included), not the random
 * number generator. The timed steps end with a {@linkplain BenchBackend#synchronize() synchronising
 * call}, so an asynchronous backend is charged for all of its work.
 *
 * <p>{@code --backend NAME} picks the backend ({@code cpu}, {@code cuda}); without it the default
 * selection of {@link io.crosscoder.backend.ComputeBackends#select} decides (cuda where available,
 * else cpu). {@code --threads} and {@code --openblas} apply to the cpu only. On cuda, {@code
 * -Dcrosscoder.cuda.tf32=true} lets the cuda backend run its f32 products on TF32 tensor cores.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp benchmarks/target/benchmarks.jar \
 *     io.crosscoder.bench.CrosscoderTrainingThroughput [--d 768] [--f 16384] [--batch 4096] \
 *     [--steps 5] [--warmup 1] [--threads N] [--openblas] [--k 100] [--variant l1|batchtopk|both|all] \
 *     [--backend cpu|cuda] [--pool 2]
 * </pre>
 */
public final class CrosscoderTrainingThroughput {
  private CrosscoderTrainingThroughput() {}

  /** Runs the measurement with the options of the class comment; prints to standard output. */
  public static void main(String[] args) {
    int d = 768;
    int f = 16384;
    int batch = 4096;
    int steps = 5;
    int warmup = 1;
    int k = 100;
    int threads = Runtime.getRuntime().availableProcessors();
    boolean openBlas = false;
    String variants = "both";
    String backendName = null;
    int pool = 2;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--d" -> d = Integer.parseInt(args[++i]);
        case "--f" -> f = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--steps" -> steps = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--k" -> k = Integer.parseInt(args[++i]);
        case "--threads" -> threads = Integer.parseInt(args[++i]);
        case "--openblas" -> openBlas = true;
        case "--variant" -> variants = args[++i];
        case "--backend" -> backendName = args[++i];
        case "--pool" -> pool = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    // Each case: variant and whether BatchTopK decodes through sparse rows.
    List<Object[]> run = new ArrayList<>();
    if (!variants.equals("batchtopk")) {
      run.add(new Object[] {"l1", false});
    }
    if (!variants.equals("l1")) {
      run.add(new Object[] {"batchtopk", true});
    }
    if (variants.equals("all")) {
      run.add(new Object[] {"batchtopk", false});
    }
    TrainingData data = pooledData(d, batch, Math.max(1, pool));
    try (BenchBackend backend = BenchBackend.open(backendName, threads, openBlas)) {
      if (!backend.name().equals("cpu")) {
        System.out.printf(Locale.ROOT, "backend %s: %s (-Dcrosscoder.cuda.tf32=%s)%n", backend.name(),
            backend.description(), System.getProperty("crosscoder.cuda.tf32", "unset"));
      }
      System.out.printf(Locale.ROOT, "%s%nd %d (2d = %d), F %d, batch %d, %d warm-up + %d measured steps%n",
          backend.kernels().description(), d, 2 * d, f, batch, warmup, steps);
      double flopsPerStep = 5.0 * 2 * batch * (2.0 * d) * f;
      for (Object[] c : run) {
        boolean l1 = c[0].equals("l1");
        boolean sparse = (Boolean) c[1];
        String name = l1 ? "L1" : sparse ? "BatchTopK" : "BatchTopK-dense";
        KernelTimer timer = new KernelTimer();
        Kernels kernels = backend.synchronous() ? timer.wrap(backend.kernels()) : backend.kernels();
        TrainingConfig config = TrainingConfig.builder()
            .sparsity(l1 ? Sparsity.l1(2) : Sparsity.batchTopK(Math.min(k, f))).dictionarySize(f).batchSize(batch)
            .steps(warmup + steps).warmupSteps(0).deadTokens(batch).sparseDecoding(sparse).build();
        try (CrosscoderTrainer t = CrosscoderTrainer.start(kernels, config, data)) {
          for (int s = 0; s < warmup; s++) {
            t.trainStep();
          }
          backend.synchronize();
          timer.reset();
          long t0 = System.nanoTime();
          for (int s = 0; s < steps; s++) {
            t.trainStep();
          }
          backend.synchronize();
          double seconds = (System.nanoTime() - t0) / 1e9;
          Map<String, Long> nanos = timer.nanos();
          long total = nanos.values().stream().mapToLong(Long::longValue).sum();
          long gemm = nanos.getOrDefault("sgemm", 0L);
          if (backend.synchronous()) {
            System.out.printf(Locale.ROOT, "%-15s %8.0f tokens/s  %7.3f s/step  %.1f dense-equivalent GFLOP/s  "
                + "sgemm %.1f%% of the step (kernels %.1f%%)%n", name, steps * (double) batch / seconds,
                seconds / steps, flopsPerStep * steps / seconds / 1e9, 100.0 * gemm / (seconds * 1e9),
                100.0 * total / (seconds * 1e9));
            nanos.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(8)
                .forEach(e -> System.out.printf(Locale.ROOT, "    %-14s %6.1f%%  %5d calls%n", e.getKey(),
                    100.0 * e.getValue() / (seconds * 1e9), timer.calls(e.getKey())));
          } else {
            System.out.printf(Locale.ROOT, "%-15s %8.0f tokens/s  %7.3f s/step  %.1f dense-equivalent GFLOP/s%n",
                name, steps * (double) batch / seconds, seconds / steps, flopsPerStep * steps / seconds / 1e9);
          }
        }
      }
    }
  }

  /**
   * {@code poolSize} batches of Gaussian activations for both models (the target a noisy copy of
   * the base), drawn once and handed out in turn.
   */
  private static TrainingData pooledData(int d, int rows, int poolSize) {
    List<ActivationBatch> batches = new ArrayList<>();
    TrainingData source = randomData(d);
    for (int i = 0; i < poolSize; i++) {
      batches.add(source.next(rows));
    }
    return new TrainingData() {
      private int next;

      @Override
      public int d() {
        return d;
      }

      @Override
      public ActivationBatch next(int n) {
        if (n != rows) {
          throw new IllegalArgumentException("the pool holds batches of " + rows + " rows, not " + n);
        }
        ActivationBatch b = batches.get(next);
        next = (next + 1) % batches.size();
        return b;
      }
    };
  }

  /** Gaussian activations for both models (the target a noisy copy of the base). */
  private static TrainingData randomData(int d) {
    SplittableRandom rng = new SplittableRandom(42);
    return new TrainingData() {
      @Override
      public int d() {
        return d;
      }

      @Override
      public ActivationBatch next(int rows) {
        float[] base = new float[rows * d];
        float[] target = new float[rows * d];
        for (int i = 0; i < base.length; i++) {
          base[i] = (float) rng.nextGaussian();
          target[i] = 0.9f * base[i] + 0.4f * (float) rng.nextGaussian();
        }
        return new ActivationBatch(rows, d, base, target);
      }
    };
  }
}
