package io.crosscoder.metric;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.ModelDiffer;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.tensor.DType;
import io.crosscoder.testing.InMemoryCheckpoint;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * One {@link ModelDiffer} (and one backend) used from several threads at once on the same two
 * checkpoints gives, in every thread, the report that sequential use gives: the JSON is the same
 * byte for byte once the wall-clock time is left out.
 */
class ModelDifferConcurrencyTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void concurrentComparisonsGiveTheSequentialReport() throws Exception {
    SplittableRandom r = new SplittableRandom(9);
    try (var base = new InMemoryCheckpoint("base"); var target = new InMemoryCheckpoint("target");
        ComputeBackend cpu = ComputeBackends.select("cpu").create()) {
      for (int layer = 0; layer < 6; layer++) {
        for (String kind : new String[] {"self_attn.q_proj.weight", "mlp.up_proj.weight", "input_layernorm.weight"}) {
          int rows = kind.startsWith("input") ? 1 : 48 + 16 * layer;
          int cols = 64;
          float[] a = new float[rows * cols];
          float[] b = new float[a.length];
          for (int i = 0; i < a.length; i++) {
            a[i] = (float) (0.02 * r.nextGaussian());
            b[i] = a[i] + (float) (0.002 * layer * r.nextGaussian());
          }
          long[] shape = rows == 1 ? new long[] {cols} : new long[] {rows, cols};
          String name = "model.layers." + layer + "." + kind;
          base.add(name, DType.F32, shape, a);
          target.add(name, DType.F32, shape, b);
        }
      }
      ModelDiffer differ = ModelDiffer.builder().backend(cpu).threads(2).build();
      String sequential = withoutTime(differ.compare(base, target));
      assertThat(withoutTime(differ.compare(base, target))).isEqualTo(sequential);
      int threads = 6;
      CyclicBarrier start = new CyclicBarrier(threads);
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      try {
        List<Future<String>> runs = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          runs.add(pool.submit(() -> {
            start.await();
            String last = null;
            for (int i = 0; i < 3; i++) {
              last = withoutTime(differ.compare(base, target));
              assertThat(last).isEqualTo(sequential);
            }
            return last;
          }));
        }
        for (Future<String> f : runs) {
          assertThat(f.get()).isEqualTo(sequential);
        }
      } finally {
        pool.shutdownNow();
      }
    }
  }

  private static String withoutTime(DiffReport report) throws Exception {
    ObjectNode n = (ObjectNode) JSON.readTree(report.render(ReportFormat.JSON));
    // The wall-clock time and the throughput derived from it are the only fields that may differ.
    ObjectNode run = (ObjectNode) n.get("run");
    run.remove("seconds");
    run.remove("gb_per_second");
    return n.toString();
  }
}
