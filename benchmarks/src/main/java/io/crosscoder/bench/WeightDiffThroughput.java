package io.crosscoder.bench;

import io.crosscoder.ModelDiffer;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackendProvider;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.io.synthetic.SyntheticPair;
import io.crosscoder.report.DiffReport;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * End-to-end weight-diff throughput against a plain read of the same mapped bytes, measured in
 * the same run: generates (once) a Qwen2-1.5B-shaped bf16 pair (about 3.1 GB each), then
 * after warm-up rounds (JIT) alternates a plain multi-threaded read of every tensor's bytes of both checkpoints and a full
 * {@link ModelDiffer#compare} of the pair, and prints GB/s of weights read for each and their
 * ratio. Both run from the page cache after the first pass (the pair fits in memory), so the
 * ratio measures compute overhead, not the disk. The ratio is taken per round (read and diff run
 * back to back, under the same machine load) and its median reported.
 *
 * <p>{@code --backend NAME} picks the backend of the diff ({@code cpu}, {@code cuda}); without it
 * the default selection of {@link ComputeBackends#select} decides (cuda where available, else cpu).
 * One backend instance serves every round. The pair needs about 6.2 GB under {@code --folder}.
 *
 * <pre>
 * java -Xmx256m --add-modules jdk.incubator.vector -cp benchmarks/target/benchmarks.jar \
 *     io.crosscoder.bench.WeightDiffThroughput [--folder DIR] [--threads N] [--rounds R] [--warmup W] [--shape tiny|1.5b] \
 *     [--backend cpu|cuda]
 * </pre>
 */
public final class WeightDiffThroughput {
  private WeightDiffThroughput() {}

  /** Runs the measurement with the options of the class comment; prints to standard output. */
  public static void main(String[] args) throws Exception {
    Path folder = Path.of("benchmarks/target/qwen2-1.5b-pair");
    int threads = Runtime.getRuntime().availableProcessors();
    int rounds = 5;
    int warmup = 2;
    SyntheticPair.Shape shape = SyntheticPair.QWEN2_1_5B;
    String backendName = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--folder" -> folder = Path.of(args[++i]);
        case "--threads" -> threads = Integer.parseInt(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--shape" -> shape = args[++i].equals("tiny") ? SyntheticPair.TINY : SyntheticPair.QWEN2_1_5B;
        case "--backend" -> backendName = args[++i];
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    long t0 = System.nanoTime();
    SyntheticPair.Pair pair = SyntheticPair.write(folder, shape, DType.BF16, 1);
    System.out.printf(Locale.ROOT, "pair ready in %.1f s: %s, %s%n", (System.nanoTime() - t0) / 1e9, pair.base(),
        pair.target());
    System.out.printf(Locale.ROOT, "threads %d, max heap %d MiB, %d warm-up and %d measured rounds%n", threads,
        Runtime.getRuntime().maxMemory() >> 20, warmup, rounds);

    double[] read = new double[rounds];
    double[] diff = new double[rounds];
    double[] ratio = new double[rounds];
    ComputeBackendProvider provider = ComputeBackends.select(backendName);
    try (ComputeBackend backend = provider.create();
        Checkpoint base = CheckpointFormats.open(pair.base()); Checkpoint target = CheckpointFormats.open(pair.target())) {
      System.out.printf(Locale.ROOT, "backend %s: %s%n", provider.name(), backend.description());
      ModelDiffer differ = ModelDiffer.builder().threads(threads).backend(backend).build();
      long bytes = base.dataBytes() + target.dataBytes();
      plainRead(base, target, threads); // warm the page cache
      for (int w = 0; w < warmup; w++) { // let the JIT compile both paths before measuring
        plainRead(base, target, threads);
        differ.compare(base, target);
      }
      for (int r = 0; r < rounds; r++) {
        long s = System.nanoTime();
        long sink = plainRead(base, target, threads);
        read[r] = bytes / ((System.nanoTime() - s) / 1e9) / 1e9;
        s = System.nanoTime();
        DiffReport report = differ.compare(base, target);
        diff[r] = report.bytesRead() / ((System.nanoTime() - s) / 1e9) / 1e9;
        ratio[r] = diff[r] / read[r];
        System.out.printf(Locale.ROOT, "round %d: plain read %.2f GB/s, diff %.2f GB/s (%d tensor pairs, %s; sink %d)%n",
            r + 1, read[r], diff[r], report.tensors().size(), report.backend(), sink & 1);
      }
    }
    Arrays.sort(read);
    Arrays.sort(diff);
    Arrays.sort(ratio);
    System.out.printf(Locale.ROOT, "median: plain read %.2f GB/s, diff %.2f GB/s; median of per-round diff/read = %.0f%%%n",
        read[rounds / 2], diff[rounds / 2], 100 * ratio[rounds / 2]);
  }

  /** Sums every 8-byte word of every tensor of both checkpoints, split over threads. */
  static long plainRead(Checkpoint a, Checkpoint b, int threads) throws Exception {
    List<MemorySegment> segs = new ArrayList<>();
    for (Checkpoint c : List.of(a, b)) {
      for (TensorView t : c.tensors().values()) {
        MemorySegment d = t.data();
        for (long off = 0; off < d.byteSize(); off += 8 << 20) {
          segs.add(d.asSlice(off, Math.min(8 << 20, d.byteSize() - off)));
        }
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Long>> fs = new ArrayList<>();
      for (MemorySegment s : segs) {
        fs.add(pool.submit(() -> {
          long sum = 0;
          long n = s.byteSize() & ~7L;
          for (long i = 0; i < n; i += 8) {
            sum += s.get(ValueLayout.JAVA_LONG_UNALIGNED, i);
          }
          for (long i = n; i < s.byteSize(); i++) {
            sum += s.get(ValueLayout.JAVA_BYTE, i);
          }
          return sum;
        }));
      }
      long total = 0;
      for (Future<Long> f : fs) {
        total += f.get();
      }
      return total;
    } finally {
      pool.shutdown();
    }
  }
}
