package io.crosscoder.bench;

import io.crosscoder.backend.Kernels;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.crosscoder.train.CrosscoderTrainer;
import io.crosscoder.crosscoder.train.TrainedWeights;
import io.crosscoder.crosscoder.train.TrainingConfig;
import io.crosscoder.crosscoder.train.TrainingData;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.commons.math3.distribution.NormalDistribution;

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
 * <p><b>Two L1 states.</b> The row {@code L1} is the step at initialisation, where about half the
 * latents fire and the step runs dense. The row {@code L1@L0} ({@code --l1-l0 N}, default 128; 0
 * leaves it out) is the step at a trained state's sparsity: the same initialisation with the
 * encoder bias set to {@code b_i = -z sigma_i}, where {@code sigma_i^2 = |e_i^A + 0.9 e_i^B|^2 +
 * 0.16 |e_i^B|^2} is the variance of latent {@code i}'s pre-activation under this harness's
 * activations ({@code e_i} the encoder column, the target {@code 0.9 base + 0.4 noise}) and {@code
 * z} the standard normal quantile of {@code 1 - N / F}, so that about {@code N} latents fire per
 * token; the L0 the measured steps actually had is printed. {@code
 * benchmarks/python/crosscoder_step.py --l1-l0 N} sets PyTorch's bias by the same rule. {@code
 * --l1-dense} runs the L1 rows with {@code sparseDecoding(false)} (the dense reference) and {@code
 * --sparse-limit X} sets {@link TrainingConfig#sparseDensityLimit()}, to find where the sparse
 * and the dense L1 step cost the same: {@code --variant crossover --crossover 256,512,1024
 * --sparse-limit 0.25} runs, for each L0 of the list, the L1 step on sparse rows and the dense one.
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
 *     [--backend cpu|cuda] [--pool 2] [--l1-l0 128] [--l1-dense] [--sparse-limit 0.05]
 *     [--variant crossover --crossover 256,512,1024]
 * </pre>
 */
public final class CrosscoderTrainingThroughput {
  /**
   * PyTorch's (benchmarks/python/crosscoder_step.py), so that both keep the state they start in
   * over a few steps; the trainer's default for a run this short would be 100 times larger.
   */
  private static final float LEARNING_RATE = 5e-5f;

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
    int l1L0 = 128;
    boolean l1Dense = false;
    double sparseLimit = TrainingConfig.DEFAULT_SPARSE_DENSITY_LIMIT;
    String crossover = "256,512,1024";
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
        case "--l1-l0" -> l1L0 = Integer.parseInt(args[++i]);
        case "--l1-dense" -> l1Dense = true;
        case "--sparse-limit" -> sparseLimit = Double.parseDouble(args[++i]);
        case "--crossover" -> crossover = args[++i];
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    // Each case: the row's name, whether it is L1, whether it may run sparse, the target L0 (0: at
    // initialisation).
    List<Case> run = new ArrayList<>();
    if (!variants.equals("batchtopk")) {
      run.add(new Case("L1", true, !l1Dense, 0));
      if (l1L0 > 0) {
        run.add(new Case("L1@L0", true, !l1Dense, l1L0));
      }
    }
    if (!variants.equals("l1")) {
      run.add(new Case("BatchTopK", false, true, 0));
    }
    if (variants.equals("all")) {
      run.add(new Case("BatchTopK-dense", false, false, 0));
    }
    if (variants.equals("crossover")) {
      // The sparse-versus-dense L1 step at each --crossover L0: where they cost the same.
      run.clear();
      for (String v : crossover.split(",")) {
        int target = Integer.parseInt(v.trim());
        run.add(new Case("L1@L0-sparse", true, true, target));
        run.add(new Case("L1@L0-dense", true, false, target));
      }
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
      for (Case c : run) {
        String name = c.name();
        boolean l1 = c.l1();
        KernelTimer timer = new KernelTimer();
        Kernels kernels = backend.synchronous() ? timer.wrap(backend.kernels()) : backend.kernels();
        TrainingConfig config = TrainingConfig.builder()
            .sparsity(l1 ? Sparsity.l1(2) : Sparsity.batchTopK(Math.min(k, f))).dictionarySize(f).batchSize(batch)
            .steps(warmup + steps).warmupSteps(0).learningRate(LEARNING_RATE).deadTokens(batch).sparseDecoding(c.sparse())
            .sparseDensityLimit(sparseLimit).build();
        try (CrosscoderTrainer t = start(kernels, config, data, d, c.targetL0())) {
          for (int s = 0; s < warmup; s++) {
            t.trainStep();
          }
          backend.synchronize();
          timer.reset();
          double l0 = 0;
          long t0 = System.nanoTime();
          for (int s = 0; s < steps; s++) {
            l0 += t.trainStep().l0();
          }
          backend.synchronize();
          double seconds = (System.nanoTime() - t0) / 1e9;
          if (l1) {
            System.out.printf(Locale.ROOT, "%s state: %s, measured L0 %.1f of F %d (mean of the measured steps),"
                + " sparseDecoding %s, sparseDensityLimit %s%n", name,
                c.targetL0() > 0 ? "encoder bias set for L0 " + c.targetL0() : "at initialisation",
                l0 / steps, f, c.sparse(), sparseLimit);
          }
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

  /** One row of the measurement. */
  private record Case(String name, boolean l1, boolean sparse, int targetL0) {}

  /**
   * A trainer at the seeded initialisation; with {@code targetL0 > 0} its encoder bias is then set
   * to {@code -z sigma_i} (see the class comment) so that about {@code targetL0} latents fire per
   * token of this harness's activations.
   */
  private static CrosscoderTrainer start(Kernels kernels, TrainingConfig config, TrainingData data, int d,
      int targetL0) {
    CrosscoderTrainer t = CrosscoderTrainer.start(kernels, config, data);
    if (targetL0 <= 0) {
      return t;
    }
    TrainedWeights w;
    try (t) {
      w = t.weights();
    }
    int f = config.dictionarySize();
    double z = new NormalDistribution().inverseCumulativeProbability(1 - targetL0 / (double) f);
    float[] bias = new float[f];
    float[] enc = w.wEnc();
    for (int i = 0; i < f; i++) {
      double variance = 0;
      for (int j = 0; j < d; j++) {
        double a = enc[j * f + i];
        double b = enc[(d + j) * f + i];
        variance += (a + 0.9 * b) * (a + 0.9 * b) + 0.16 * b * b;
      }
      bias[i] = (float) (-z * Math.sqrt(variance));
    }
    TrainedWeights biased = new TrainedWeights(w.d(), w.dictionarySize(), w.sharedLatents(), w.sparsity(), enc,
        w.wDec(), bias, w.bDec(), w.threshold());
    return CrosscoderTrainer.startFrom(kernels, config, data, biased);
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
