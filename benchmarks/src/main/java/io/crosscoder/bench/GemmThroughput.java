package io.crosscoder.bench;

import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.Kernels;
import io.crosscoder.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * SGEMM throughput of any backend's {@link Kernels#sgemm} at the shapes of one crosscoder training
 * step, in TFLOP/s: a plain {@code main} (no JMH), so that it runs wherever a JVM and the module
 * jars are, a GPU machine included. For a batch of {@code B} tokens, width {@code 2d} (both
 * models) and {@code F} latents, the five products of {@link
 * io.crosscoder.crosscoder.train.CrosscoderTrainer}'s step are
 *
 * <pre>
 * enc-fwd    P = X W_enc              m = B,  n = F,  k = 2d   (NN)
 * dec-fwd    X^ = a W_dec             m = B,  n = 2d, k = F    (NN)
 * dec-wgrad  dW_dec = a^T G           m = F,  n = 2d, k = B    (TN)
 * lat-grad   dL/da = G W_dec^T        m = B,  n = F,  k = 2d   (NT)
 * enc-wgrad  dW_enc = X^T dL/dP       m = 2d, n = F,  k = B    (TN)
 * </pre>
 *
 * each costing {@code 2 m n k} floating-point operations. Each product is run with F32 operands
 * (type {@code f32}, or {@code tf32} when {@code -Dcrosscoder.cuda.tf32=true} is set on the cuda
 * backend, which then lets cuBLAS use TF32 tensor cores) and with BF16 A and B operands (type
 * {@code bf16}; C is always F32). The {@code step} row adds the five products' times: the time a
 * step spends in dense products at best (its {@code m n k} columns show {@code B F 2d}).
 *
 * <p><b>Timing.</b> For each product: {@code --warmup} calls, a {@linkplain
 * BenchBackend#synchronize() synchronising call}, then {@code --iters} calls timed with {@link
 * System#nanoTime()} up to a second synchronising call, so an asynchronous backend is charged for
 * all of its work; {@code ms/call} is that time over {@code --iters}. Inputs are uniform on
 * {@code [-1, 1)}, uploaded once per {@code F} in chunks of 1 Mi elements (the host holds no full
 * matrix); the three F32 inputs, their BF16 copies (made with {@link Kernels#copy} while the bf16
 * rows run) and the three F32 outputs are the only device memory: {@code 8 (B F + 2d F + B 2d)}
 * bytes plus {@code 2 (B F + 2d F + B 2d)} for the copies, about 2.5 GB at {@code d = 1536, F =
 * 32768, B = 4096}, freed before the next {@code F}.
 *
 * <pre>
 * java $(bin/jvm-flags) [-Dcrosscoder.cuda.tf32=true] \
 *     -cp ... io.crosscoder.bench.GemmThroughput [--backend cpu|cuda] [--d 1536] [--f 16384,32768] \
 *     [--batch 4096] [--iters 20] [--warmup 3] [--dtype f32|bf16|both]
 * </pre>
 *
 * Output: one row per product and operand type, {@code name m n k type ms/call TFLOP/s}, the
 * format {@code benchmarks/python/crosscoder_step.py} prints for {@code torch.matmul}.
 */
public final class GemmThroughput {
  /** The system property the cuda backend reads to allow TF32 tensor cores for f32 products. */
  static final String TF32_PROPERTY = "crosscoder.cuda.tf32";

  private GemmThroughput() {}

  /** One product of the step: its name, transposes and dimensions. */
  private record Product(String name, boolean transA, boolean transB, int m, int n, int k) {
    double flops() {
      return 2.0 * m * n * k;
    }
  }

  /** Runs the measurement with the options of the class comment; prints the table to standard output. */
  public static void main(String[] args) {
    String backendName = null;
    int d = 1536;
    List<Integer> fs = List.of(16384, 32768);
    int batch = 4096;
    int iters = 20;
    int warmup = 3;
    String dtypes = "both";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--backend" -> backendName = args[++i];
        case "--d" -> d = Integer.parseInt(args[++i]);
        case "--f" -> {
          List<Integer> list = new ArrayList<>();
          for (String s : args[++i].split(",")) {
            list.add(Integer.parseInt(s.trim()));
          }
          fs = list;
        }
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--iters" -> iters = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--dtype" -> dtypes = args[++i];
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (d < 1 || batch < 1 || iters < 1 || warmup < 0 || fs.stream().anyMatch(v -> v < 1)) {
      throw new IllegalArgumentException("--d, --f, --batch and --iters must be positive, --warmup non-negative");
    }
    if (!dtypes.equals("f32") && !dtypes.equals("bf16") && !dtypes.equals("both")) {
      throw new IllegalArgumentException("--dtype is f32, bf16 or both, not " + dtypes);
    }
    int d2 = 2 * d;
    for (int f : fs) {
      if ((long) batch * f > Integer.MAX_VALUE - 8 || (long) d2 * f > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException("B x F and 2d x F must stay below 2^31 elements, got F " + f);
      }
    }
    boolean tf32 = Boolean.getBoolean(TF32_PROPERTY);
    try (BenchBackend backend = BenchBackend.open(backendName)) {
      Kernels kernels = backend.kernels();
      String f32Label = tf32 && backend.name().equals("cuda") ? "tf32" : "f32";
      System.out.printf(Locale.ROOT, "backend %s: %s%nkernels: %s%n-D%s=%s; d %d (2d = %d), batch %d, "
          + "%d warm-up + %d timed calls per product%n", backend.name(), backend.description(),
          kernels.description(), TF32_PROPERTY, tf32 ? "true" : System.getProperty(TF32_PROPERTY, "unset"), d, d2,
          batch, warmup, iters);
      System.out.printf(Locale.ROOT, "%-10s %6s %6s %6s  %-5s %12s %10s%n", "product", "m", "n", "k", "type",
          "ms/call", "TFLOP/s");
      for (int f : fs) {
        List<Product> products = List.of(
            new Product("enc-fwd", false, false, batch, f, d2),
            new Product("dec-fwd", false, false, batch, d2, f),
            new Product("dec-wgrad", true, false, f, d2, batch),
            new Product("lat-grad", false, true, batch, f, d2),
            new Product("enc-wgrad", true, false, d2, f, batch));
        runShape(backend, products, batch, d2, f, dtypes, f32Label, iters, warmup);
      }
    }
  }

  /** Allocates the buffers for one {@code F}, times every product for each operand type, frees them. */
  private static void runShape(BenchBackend backend, List<Product> products, int batch, int d2, int f,
      String dtypes, String f32Label, int iters, int warmup) {
    Kernels kernels = backend.kernels();
    List<DeviceBuffer> owned = new ArrayList<>();
    try {
      // Inputs: X (B x 2d, also the error G), W (2d x F, also read as W_dec F x 2d), A (B x F, latents
      // and their gradient). Outputs: one per output shape.
      DeviceBuffer x = own(owned, kernels.allocate(DType.F32, (long) batch * d2));
      DeviceBuffer w = own(owned, kernels.allocate(DType.F32, (long) d2 * f));
      DeviceBuffer a = own(owned, kernels.allocate(DType.F32, (long) batch * f));
      DeviceBuffer outBf = own(owned, kernels.allocate(DType.F32, (long) batch * f));
      DeviceBuffer outW = own(owned, kernels.allocate(DType.F32, (long) d2 * f));
      DeviceBuffer outX = own(owned, kernels.allocate(DType.F32, (long) batch * d2));
      SplittableRandom rng = new SplittableRandom(7);
      fillUniform(kernels, x, rng);
      fillUniform(kernels, w, rng);
      fillUniform(kernels, a, rng);
      List<String> types = dtypes.equals("both") ? List.of("f32", "bf16") : List.of(dtypes);
      for (String type : types) {
        boolean bf16 = type.equals("bf16");
        double stepMs = 0;
        DeviceBuffer xs = x;
        DeviceBuffer ws = w;
        DeviceBuffer as = a;
        if (bf16) {
          xs = own(owned, kernels.allocate(DType.BF16, x.size()));
          ws = own(owned, kernels.allocate(DType.BF16, w.size()));
          as = own(owned, kernels.allocate(DType.BF16, a.size()));
          kernels.copy(x, xs);
          kernels.copy(w, ws);
          kernels.copy(a, as);
        }
        String label = bf16 ? "bf16" : f32Label;
        for (Product p : products) {
          double ms = time(backend, p, iters, warmup, xs, ws, as, outBf, outW, outX, d2, f);
          stepMs += ms;
          System.out.printf(Locale.ROOT, "%-10s %6d %6d %6d  %-5s %9.3f ms %10.3f TFLOP/s%n", p.name(), p.m(),
              p.n(), p.k(), label, ms, p.flops() / (ms * 1e-3) / 1e12);
        }
        if (bf16) {
          // Free the copies before the next type (keeps memory bounded).
          for (DeviceBuffer buf : List.of(xs, ws, as)) {
            buf.close();
            owned.remove(buf);
          }
        }
        double stepFlops = products.stream().mapToDouble(Product::flops).sum();
        System.out.printf(Locale.ROOT, "%-10s %6d %6d %6d  %-5s %9.3f ms %10.3f TFLOP/s%n", "step", batch, f, d2,
            label, stepMs, stepFlops / (stepMs * 1e-3) / 1e12);
      }
    } finally {
      for (DeviceBuffer buf : owned) {
        buf.close();
      }
    }
  }

  /**
   * Milliseconds per call of one product: {@code warmup} calls, a synchronisation, then {@code
   * iters} calls up to a second synchronisation.
   */
  private static double time(BenchBackend backend, Product p, int iters, int warmup, DeviceBuffer x, DeviceBuffer w,
      DeviceBuffer a, DeviceBuffer outBf, DeviceBuffer outW, DeviceBuffer outX, int d2, int f) {
    for (int i = 0; i < warmup; i++) {
      call(backend.kernels(), p, x, w, a, outBf, outW, outX, d2, f);
    }
    backend.synchronize();
    long t0 = System.nanoTime();
    for (int i = 0; i < iters; i++) {
      call(backend.kernels(), p, x, w, a, outBf, outW, outX, d2, f);
    }
    backend.synchronize();
    return (System.nanoTime() - t0) / 1e6 / iters;
  }

  /** One call of a product with the operands and leading dimensions the trainer uses. */
  private static void call(Kernels k, Product p, DeviceBuffer x, DeviceBuffer w, DeviceBuffer a,
      DeviceBuffer outBf, DeviceBuffer outW, DeviceBuffer outX, int d2, int f) {
    switch (p.name()) {
      // X (B x 2d) . W_enc (2d x F) -> B x F
      case "enc-fwd" -> k.sgemm(false, false, p.m(), p.n(), p.k(), 1f, x, d2, w, f, 0f, outBf, f);
      // a (B x F) . W_dec (F x 2d) -> B x 2d
      case "dec-fwd" -> k.sgemm(false, false, p.m(), p.n(), p.k(), 1f, a, f, w, d2, 0f, outX, d2);
      // a^T (F x B) . G (B x 2d) -> F x 2d
      case "dec-wgrad" -> k.sgemm(true, false, p.m(), p.n(), p.k(), 1f, a, f, x, d2, 0f, outW, d2);
      // G (B x 2d) . W_dec^T (2d x F) -> B x F
      case "lat-grad" -> k.sgemm(false, true, p.m(), p.n(), p.k(), 1f, x, d2, w, d2, 0f, outBf, f);
      // X^T (2d x B) . dP (B x F) -> 2d x F
      case "enc-wgrad" -> k.sgemm(true, false, p.m(), p.n(), p.k(), 1f, x, d2, a, f, 0f, outW, f);
      default -> throw new IllegalStateException(p.name());
    }
  }

  /** Uniform values on {@code [-1, 1)} uploaded a chunk at a time. */
  private static void fillUniform(Kernels kernels, DeviceBuffer buf, SplittableRandom rng) {
    float[] chunk = new float[(int) Math.min(buf.size(), 1 << 20)];
    for (long off = 0; off < buf.size(); off += chunk.length) {
      int n = (int) Math.min(chunk.length, buf.size() - off);
      for (int i = 0; i < n; i++) {
        chunk[i] = (float) (2 * rng.nextDouble() - 1);
      }
      kernels.upload(chunk, 0, buf, off, n);
    }
  }

  private static DeviceBuffer own(List<DeviceBuffer> owned, DeviceBuffer buf) {
    owned.add(buf);
    return buf;
  }
}
