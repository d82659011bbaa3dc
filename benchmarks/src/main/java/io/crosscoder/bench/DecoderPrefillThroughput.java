package io.crosscoder.bench;

import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.Kernels;
import io.crosscoder.io.safetensors.SafetensorsWriter;
import io.crosscoder.model.Site;
import io.crosscoder.model.TokenBatch;
import io.crosscoder.model.decoder.DecoderModel;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.FloatFormats;
import io.crosscoder.tensor.TensorSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Prefill throughput of {@link DecoderModel} at the shape of Qwen2-1.5B (hidden 1536, 12 query and
 * 2 key-value heads of 128, MLP 8960, vocabulary 151936, q/k/v biases, tied head) with BF16 weights,
 * beside what the same kernels' SGEMM allows. The weights are generated (uniform, scaled by the
 * fan-in so activations stay O(1)) into a temporary safetensors folder and mapped by the model as
 * a real checkpoint would be; {@code --layers} of the 28 blocks are generated (default 2: 0.66 GB
 * instead of 3.1 GB) and the full model's rate is extrapolated from them (the blocks are identical
 * in cost; the embedding gather is negligible), which the output says.
 *
 * <p>Measured: {@code --warmup} forwards, then {@code --passes} rounds of one forward of {@code
 * --batch} sequences of {@code --length} random tokens to {@code resid_post} of the last generated
 * block, each followed by the GEMM bound: the seven products of each block (q, k, v, o, gate, up,
 * down) alone, on the same kernels at the same rows with BF16 weights, which is the best the
 * forward could do if everything else were free. Each keeps its best round (so that on a shared
 * machine both see the same spells of contention). Printed: tokens per second, the rate of the
 * work the blocks' matrices do ({@code 2 x block parameters} FLOP per token, the "2 x parameters"
 * of a forward without the output head; attention's own products are extra work, not counted),
 * the bound's rate, and the share. On the CPU the best forward's time by kernel follows (through
 * {@link KernelTimer}). Last, {@link DecoderModel#logitLens} over {@code --lens-rows} rows (the output head
 * through the final norm, as a per-token KL over a corpus needs).
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp benchmarks/target/benchmarks.jar \
 *     io.crosscoder.bench.DecoderPrefillThroughput [--layers 2] [--batch 4] [--length 256] [--passes 3] \
 *     [--warmup 1] [--lens-rows 128] [--threads N] [--backend cpu|cuda] [--dir PATH]
 * </pre>
 */
public final class DecoderPrefillThroughput {
  private static final int HIDDEN = 1536;
  private static final int HEADS = 12;
  private static final int KV_HEADS = 2;
  private static final int HEAD_DIM = 128;
  private static final int INTERMEDIATE = 8960;
  private static final int VOCAB = 151936;
  private static final int FULL_LAYERS = 28;

  private DecoderPrefillThroughput() {}

  /** One linear layer of a block: {@code out x in}. */
  private record Linear(String name, int out, int in) {
    double flopsPerRow() {
      return 2.0 * out * in;
    }
  }

  private static final List<Linear> BLOCK = List.of(
      new Linear("q_proj", HEADS * HEAD_DIM, HIDDEN), new Linear("k_proj", KV_HEADS * HEAD_DIM, HIDDEN),
      new Linear("v_proj", KV_HEADS * HEAD_DIM, HIDDEN), new Linear("o_proj", HIDDEN, HEADS * HEAD_DIM),
      new Linear("gate_proj", INTERMEDIATE, HIDDEN), new Linear("up_proj", INTERMEDIATE, HIDDEN),
      new Linear("down_proj", HIDDEN, INTERMEDIATE));

  /** Runs the measurement with the options of the class comment; prints to standard output. */
  public static void main(String[] args) throws IOException {
    int layers = 2;
    int batch = 4;
    int length = 256;
    int passes = 3;
    int warmup = 1;
    int lensRows = 128;
    int threads = Runtime.getRuntime().availableProcessors();
    String backendName = null;
    Path dir = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--layers" -> layers = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--length" -> length = Integer.parseInt(args[++i]);
        case "--passes" -> passes = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--lens-rows" -> lensRows = Integer.parseInt(args[++i]);
        case "--threads" -> threads = Integer.parseInt(args[++i]);
        case "--backend" -> backendName = args[++i];
        case "--dir" -> dir = Path.of(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (layers < 1 || layers > FULL_LAYERS || batch < 1 || length < 1 || passes < 1 || warmup < 0 || lensRows < 0) {
      throw new IllegalArgumentException("--layers in [1, 28], --batch, --length, --passes positive, --warmup, --lens-rows >= 0");
    }
    boolean temporary = dir == null;
    Path folder = temporary ? Files.createTempDirectory("qwen2-shape-") : dir;
    try {
      long t0 = System.nanoTime();
      long bytes = generate(folder, layers);
      System.out.printf(Locale.ROOT, "model: Qwen2-1.5B shape (hidden %d, %d query / %d key-value heads of %d, MLP %d,"
          + " vocabulary %d), BF16, %d of %d blocks generated: %.2f GB in %s (%.1f s)%n", HIDDEN, HEADS, KV_HEADS,
          HEAD_DIM, INTERMEDIATE, VOCAB, layers, FULL_LAYERS, bytes / 1e9, folder, (System.nanoTime() - t0) / 1e9);
      run(folder, layers, batch, length, passes, warmup, lensRows, threads, backendName);
    } finally {
      if (temporary) {
        try (Stream<Path> files = Files.walk(folder)) {
          files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  private static void run(Path folder, int layers, int batch, int length, int passes, int warmup, int lensRows,
      int threads, String backendName) {
    try (BenchBackend backend = BenchBackend.open(backendName, threads, false)) {
      KernelTimer timer = new KernelTimer();
      Kernels kernels = backend.synchronous() ? timer.wrap(backend.kernels()) : backend.kernels();
      System.out.printf(Locale.ROOT, "kernels: %s%n", backend.kernels().description());
      int tokens = batch * length;
      try (DecoderModel model = DecoderModel.builder(folder, kernels).rowsPerPass(Math.max(tokens, length)).build()) {
        SplittableRandom rng = new SplittableRandom(1);
        int[][] seqs = new int[batch][length];
        for (int[] s : seqs) {
          for (int t = 0; t < length; t++) {
            s[t] = rng.nextInt(VOCAB);
          }
        }
        TokenBatch tb = TokenBatch.of(seqs, 0);
        Site site = Site.residPost(layers - 1);
        for (int i = 0; i < warmup; i++) {
          model.forward(tb, List.of(site));
        }
        // Forwards and the GEMM bound alternate, round by round, and each keeps its best round: on a
        // shared machine both then see the same spells of contention.
        GemmBound bound = new GemmBound(backend, tokens);
        double seconds = Double.MAX_VALUE;
        double gemmSeconds = Double.MAX_VALUE;
        long kernelNanos = 0;
        Map<String, Long> nanos = Map.of();
        float[] last = null;
        try {
          for (int i = 0; i < passes; i++) {
            backend.synchronize();
            timer.reset();
            long t0 = System.nanoTime();
            last = model.forward(tb, List.of(site)).get(site);
            backend.synchronize();
            double s = (System.nanoTime() - t0) / 1e9;
            if (s < seconds) {
              seconds = s;
              nanos = timer.nanos();
            }
            gemmSeconds = Math.min(gemmSeconds, bound.time(layers));
          }
        } finally {
          bound.close();
        }
        double blockFlopsPerToken = BLOCK.stream().mapToDouble(Linear::flopsPerRow).sum();
        double tokensPerSecond = tokens / seconds;
        double rate = blockFlopsPerToken * layers * tokens / seconds;
        double boundRate = blockFlopsPerToken * layers * tokens / gemmSeconds;
        System.out.printf(Locale.ROOT, "prefill: %d x %d = %d tokens to %s: best of %d forwards (after %d warm-up)"
            + " %.3f s%n", batch, length, tokens, site, passes, warmup, seconds);
        System.out.printf(Locale.ROOT, "  %.1f tokens/s on %d blocks; block matrices 2 x %.1fM parameters per token"
            + " per block: %.1f GFLOP/s%n", tokensPerSecond, layers, blockFlopsPerToken / 2e6, rate / 1e9);
        System.out.printf(Locale.ROOT, "sgemm alone, the %d blocks' 7 products each (m = %d, BF16 weights, same"
            + " kernels), best of %d: %.3f s = %.1f GFLOP/s, a bound of %.1f tokens/s%n", layers, tokens, passes,
            gemmSeconds, boundRate / 1e9, tokens / gemmSeconds);
        System.out.printf(Locale.ROOT, "share of the GEMM bound: %.1f%%%n", 100 * rate / boundRate);
        System.out.printf(Locale.ROOT, "extrapolated to all %d blocks: %.1f tokens/s (x %d/%d: cost is per block; the"
            + " embedding gather is negligible)%n", FULL_LAYERS, tokensPerSecond * layers / FULL_LAYERS, layers,
            FULL_LAYERS);
        if (backend.synchronous()) {
          Map<String, Long> byKernel = nanos;
          double forwardNanos = seconds * 1e9;
          long total = byKernel.values().stream().mapToLong(Long::longValue).sum();
          System.out.printf(Locale.ROOT, "  the best forward by kernel (%.1f%% of it in kernels):%n", 100.0 * total / forwardNanos);
          byKernel.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(8)
              .forEach(e -> System.out.printf(Locale.ROOT, "    %-16s %6.1f%%%n", e.getKey(), 100.0 * e.getValue() / forwardNanos));
        }
        if (lensRows > 0) {
          int rows = Math.min(lensRows, tokens);
          model.logitLens(last, Math.min(rows, 8));
          backend.synchronize();
          long l0 = System.nanoTime();
          float[] logits = model.logitLens(last, rows);
          backend.synchronize();
          double ls = (System.nanoTime() - l0) / 1e9;
          double lensFlops = 2.0 * rows * VOCAB * HIDDEN;
          System.out.printf(Locale.ROOT, "logit lens: %d rows x %d logits in %.3f s = %.1f rows/s, %.1f GFLOP/s"
              + " (first logit %.4f)%n", rows, VOCAB, ls, rows / ls, lensFlops / ls / 1e9, logits[0]);
        }
      }
    }
  }

  /** The seven products of a block on BF16 weights of their shapes at {@code rows} rows, on the benchmark's kernels. */
  private static final class GemmBound implements AutoCloseable {
    private final BenchBackend backend;
    private final int rows;
    private final List<DeviceBuffer> owned = new ArrayList<>();
    private final DeviceBuffer x;
    private final DeviceBuffer y;
    private final List<DeviceBuffer> weights = new ArrayList<>();

    GemmBound(BenchBackend backend, int rows) {
      this.backend = backend;
      this.rows = rows;
      Kernels k = backend.kernels();
      try {
        SplittableRandom rng = new SplittableRandom(2);
        x = own(owned, k.allocate(DType.F32, (long) rows * INTERMEDIATE));
        fill(k, x, rng, 1f);
        y = own(owned, k.allocate(DType.F32, (long) rows * INTERMEDIATE));
        for (Linear l : BLOCK) {
          DeviceBuffer w = own(owned, k.allocate(DType.BF16, (long) l.out() * l.in()));
          fill(k, w, rng, (float) (1 / Math.sqrt(l.in())));
          weights.add(w);
        }
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }

    /** Seconds for {@code blocks} blocks' products, as the forward runs them. */
    double time(int blocks) {
      Kernels k = backend.kernels();
      backend.synchronize();
      long t0 = System.nanoTime();
      for (int b = 0; b < blocks; b++) {
        for (int i = 0; i < BLOCK.size(); i++) {
          Linear l = BLOCK.get(i);
          k.sgemm(false, true, rows, l.out(), l.in(), 1f, x, l.in(), weights.get(i), l.in(), 0f, y, l.out());
        }
      }
      backend.synchronize();
      return (System.nanoTime() - t0) / 1e9;
    }

    @Override
    public void close() {
      owned.forEach(DeviceBuffer::close);
    }
  }

  private static DeviceBuffer own(List<DeviceBuffer> owned, DeviceBuffer b) {
    owned.add(b);
    return b;
  }

  private static void fill(Kernels k, DeviceBuffer b, SplittableRandom rng, float scale) {
    float[] chunk = new float[1 << 16];
    for (long at = 0; at < b.size(); at += chunk.length) {
      int n = (int) Math.min(chunk.length, b.size() - at);
      for (int i = 0; i < n; i++) {
        chunk[i] = (float) (rng.nextDouble() * 2 - 1) * scale;
      }
      k.upload(chunk, 0, b, at, n);
    }
  }

  /** Writes config.json and model.safetensors of the Qwen2-1.5B shape with {@code layers} blocks; returns the bytes of tensor data. */
  static long generate(Path folder, int layers) throws IOException {
    Files.createDirectories(folder);
    String config = String.format(Locale.ROOT, """
        {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu", "hidden_size": %d,
         "intermediate_size": %d, "max_position_embeddings": 131072, "max_window_layers": 21,
         "num_attention_heads": %d, "num_hidden_layers": %d, "num_key_value_heads": %d, "rms_norm_eps": 1e-06,
         "rope_theta": 1000000.0, "sliding_window": 131072, "use_sliding_window": false, "tie_word_embeddings": true,
         "torch_dtype": "bfloat16", "vocab_size": %d, "bos_token_id": 151643, "eos_token_id": 151643}
        """, HIDDEN, INTERMEDIATE, HEADS, layers, KV_HEADS, VOCAB);
    List<TensorSpec> specs = new ArrayList<>();
    specs.add(new TensorSpec("model.embed_tokens.weight", DType.BF16, new long[] {VOCAB, HIDDEN}));
    for (int l = 0; l < layers; l++) {
      String p = "model.layers." + l + ".";
      for (Linear lin : BLOCK) {
        String kind = List.of("gate_proj", "up_proj", "down_proj").contains(lin.name()) ? "mlp." : "self_attn.";
        specs.add(new TensorSpec(p + kind + lin.name() + ".weight", DType.BF16, new long[] {lin.out(), lin.in()}));
      }
      specs.add(new TensorSpec(p + "self_attn.q_proj.bias", DType.BF16, new long[] {HEADS * HEAD_DIM}));
      specs.add(new TensorSpec(p + "self_attn.k_proj.bias", DType.BF16, new long[] {KV_HEADS * HEAD_DIM}));
      specs.add(new TensorSpec(p + "self_attn.v_proj.bias", DType.BF16, new long[] {KV_HEADS * HEAD_DIM}));
      specs.add(new TensorSpec(p + "input_layernorm.weight", DType.BF16, new long[] {HIDDEN}));
      specs.add(new TensorSpec(p + "post_attention_layernorm.weight", DType.BF16, new long[] {HIDDEN}));
    }
    specs.add(new TensorSpec("model.norm.weight", DType.BF16, new long[] {HIDDEN}));
    ValueLayout.OfShort bf16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    long bytes = 0;
    SafetensorsWriter w = SafetensorsWriter.create(folder.resolve("model.safetensors"), Map.of("format", "pt"), specs);
    try {
      SplittableRandom rng = new SplittableRandom(3);
      for (TensorSpec s : specs) {
        MemorySegment seg = w.segment(s.name());
        long[] shape = s.shape();
        boolean norm = s.name().endsWith("layernorm.weight") || s.name().equals("model.norm.weight");
        boolean bias = s.name().endsWith(".bias");
        // Uniform with the variance of N(0, 1/fan_in); embeddings N(0, 1)-like; norm gains near 1.
        double scale = shape.length == 2 && !s.name().contains("embed") ? Math.sqrt(3.0 / shape[1]) : Math.sqrt(3.0);
        long n = s.elementCount();
        for (long i = 0; i < n; i++) {
          float v = norm ? 1f + 0.1f * (float) (rng.nextDouble() - 0.5)
              : bias ? 0.1f * (float) (rng.nextDouble() - 0.5) : (float) ((rng.nextDouble() * 2 - 1) * scale);
          seg.setAtIndex(bf16, i, FloatFormats.floatToBf16(v));
        }
        bytes += s.byteSize();
      }
    } catch (RuntimeException e) {
      w.abort();
      throw e;
    }
    w.close();
    try {
      Files.writeString(folder.resolve("config.json"), config);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes;
  }
}
