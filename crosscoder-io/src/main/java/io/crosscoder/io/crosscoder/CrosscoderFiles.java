package io.crosscoder.io.crosscoder;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.CrosscoderConfig;
import io.crosscoder.crosscoder.Normalisation;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.io.safetensors.SafetensorsFormat;
import io.crosscoder.io.safetensors.SafetensorsWriter;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorSpec;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reads and writes crosscoders as safetensors files in the {@link CrosscoderLayout}s. The layout
 * of a file is recognised by its tensor names (and our metadata). Every problem with a file
 * (missing tensor, wrong rank or shape, non-float dtype, NaN or infinite weight, malformed
 * metadata) is an {@link InvalidInputException} naming the file and the tensor or metadata key.
 * Loading copies the weights to the heap, so the file is closed when {@code load} returns.
 */
public final class CrosscoderFiles {
  /** Metadata key of the format version. */
  public static final String FORMAT_VERSION_KEY = "crosscoder.format_version";
  /** Metadata key of the configuration JSON. */
  public static final String CONFIG_KEY = "crosscoder.config";
  /** Metadata key of the normalisation JSON. */
  public static final String NORMALISATION_KEY = "crosscoder.normalisation";
  /** The format version written. */
  public static final String FORMAT_VERSION = "1";

  private static final ObjectMapper JSON = new ObjectMapper();

  private CrosscoderFiles() {}

  /**
   * Saves {@code coder} to {@code file} in this library's layout (atomic replace), with its
   * configuration and normalisation.
   *
   * @param file the safetensors file to write
   * @param coder the crosscoder
   */
  public static void save(Path file, Crosscoder coder) {
    save(file, coder, CrosscoderLayout.CROSSCODER);
  }

  /**
   * Saves {@code coder} to {@code file} in {@code layout} (atomic replace). The public layouts
   * keep the weights only: configuration (beyond a BatchTopK threshold and k in
   * {@link CrosscoderLayout#DICTIONARY_LEARNING}) and normalisation are lost, so fold the
   * normalisation first if it matters.
   *
   * @param file the safetensors file to write
   * @param coder the crosscoder
   * @param layout the tensor names and shapes to write
   */
  public static void save(Path file, Crosscoder coder, CrosscoderLayout layout) {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(coder, "coder");
    Objects.requireNonNull(layout, "layout");
    int d = coder.d();
    int f = coder.dictionarySize();
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put("format", "pt");
    boolean dl = layout == CrosscoderLayout.DICTIONARY_LEARNING;
    boolean topK = coder.config().sparsity() instanceof Sparsity.BatchTopK;
    List<TensorSpec> specs = new java.util.ArrayList<>(List.of(
        new TensorSpec(dl ? "encoder.weight" : "W_enc", DType.F32, new long[] {2, d, f}),
        new TensorSpec(dl ? "decoder.weight" : "W_dec", DType.F32, dl ? new long[] {2, f, d} : new long[] {f, 2, d}),
        new TensorSpec(dl ? "encoder.bias" : "b_enc", DType.F32, new long[] {f}),
        new TensorSpec(dl ? "decoder.bias" : "b_dec", DType.F32, new long[] {2, d})));
    if (layout == CrosscoderLayout.CROSSCODER) {
      metadata.put(FORMAT_VERSION_KEY, FORMAT_VERSION);
      metadata.put(CONFIG_KEY, configJson(coder.config()));
      metadata.put(NORMALISATION_KEY, normalisationJson(coder.normalisation(), d));
    }
    if (dl && topK) {
      specs.add(new TensorSpec("threshold", DType.F32, new long[0]));
      specs.add(new TensorSpec("k", DType.I64, new long[0]));
    }
    SafetensorsWriter w = SafetensorsWriter.create(file, metadata, specs);
    try {
      float[] wDec = coder.decoderWeights();
      if (dl) {
        float[] t = new float[wDec.length];
        for (int i = 0; i < f; i++) {
          for (int m = 0; m < 2; m++) {
            System.arraycopy(wDec, (i * 2 + m) * d, t, (m * f + i) * d, d);
          }
        }
        wDec = t;
      }
      fill(w.segment(specs.get(0).name()), coder.encoderWeights());
      fill(w.segment(specs.get(1).name()), wDec);
      fill(w.segment(specs.get(2).name()), coder.encoderBias());
      fill(w.segment(specs.get(3).name()), coder.decoderBias());
      if (dl && coder.config().sparsity() instanceof Sparsity.BatchTopK b) {
        w.segment("threshold").set(TensorView.Layouts.F32, 0, (float) b.threshold());
        w.segment("k").set(TensorView.Layouts.I64, 0, b.k());
      }
    } catch (RuntimeException e) {
      w.abort();
      throw e;
    }
    w.close();
  }

  private static void fill(MemorySegment s, float[] a) {
    MemorySegment.copy(a, 0, s, TensorView.Layouts.F32, 0, a.length);
  }

  /**
   * Recognises a crosscoder file's layout by its tensor names.
   *
   * @param file a safetensors file
   * @return its layout
   * @throws InvalidInputException if it is not a safetensors file or holds no crosscoder tensors
   */
  public static CrosscoderLayout detect(Path file) {
    try (Checkpoint c = new SafetensorsFormat().open(file)) {
      return detect(c);
    }
  }

  private static CrosscoderLayout detect(Checkpoint c) {
    Map<String, TensorView> t = c.tensors();
    if (t.containsKey("encoder.weight") || t.containsKey("decoder.weight")) {
      return CrosscoderLayout.DICTIONARY_LEARNING;
    }
    if (t.containsKey("W_enc") || t.containsKey("W_dec")) {
      return c.metadata().containsKey(FORMAT_VERSION_KEY) ? CrosscoderLayout.CROSSCODER : CrosscoderLayout.CKKISSANE;
    }
    throw new InvalidInputException(c.path(), null, "not a crosscoder: expected tensors W_enc, W_dec, b_enc, b_dec"
        + " or encoder.weight, encoder.bias, decoder.weight, decoder.bias; found " + names(t));
  }

  private static String names(Map<String, TensorView> t) {
    List<String> n = t.keySet().stream().limit(10).toList();
    return n + (t.size() > 10 ? " and " + (t.size() - 10) + " more" : "");
  }

  /**
   * Loads the crosscoder in {@code file}, whatever its {@link CrosscoderLayout}.
   *
   * @param file a safetensors crosscoder file
   * @return the crosscoder, in memory (the file is closed)
   * @throws InvalidInputException for anything wrong with the file
   */
  public static Crosscoder load(Path file) {
    Objects.requireNonNull(file, "file");
    try (Checkpoint c = new SafetensorsFormat().open(file)) {
      CrosscoderLayout layout = detect(c);
      boolean dl = layout == CrosscoderLayout.DICTIONARY_LEARNING;
      Path p = c.path();
      String encName = dl ? "encoder.weight" : "W_enc";
      String decName = dl ? "decoder.weight" : "W_dec";
      String bEncName = dl ? "encoder.bias" : "b_enc";
      String bDecName = dl ? "decoder.bias" : "b_dec";
      TensorView enc = require(c, encName);
      long[] es = enc.shape();
      if (es.length != 3 || es[0] != 2 || es[1] < 1 || es[2] < 1) {
        throw new InvalidInputException(p, encName, "expected shape [2, d, F] but found "
            + TensorView.formatShape(es));
      }
      if (es[1] * es[2] * 2 > Integer.MAX_VALUE - 8) {
        throw new InvalidInputException(p, encName, "shape " + TensorView.formatShape(es)
            + " is too large for an in-memory crosscoder (2 * d * F must stay below 2^31)");
      }
      int d = (int) es[1];
      int f = (int) es[2];
      checkHeap(p, encName, d, f, dl);
      TensorView dec = require(c, decName);
      expectShape(p, dec, dl ? new long[] {2, f, d} : new long[] {f, 2, d},
          dl ? "[2, F, d]" : "[F, 2, d]", d, f);
      TensorView bEnc = require(c, bEncName);
      expectShape(p, bEnc, new long[] {f}, "[F]", d, f);
      TensorView bDec = require(c, bDecName);
      expectShape(p, bDec, new long[] {2, d}, "[2, d]", d, f);
      float[] wEnc = floats(p, enc);
      float[] wDec = floats(p, dec);
      if (dl) {
        float[] t = new float[wDec.length];
        for (int m = 0; m < 2; m++) {
          for (int i = 0; i < f; i++) {
            System.arraycopy(wDec, (m * f + i) * d, t, (i * 2 + m) * d, d);
          }
        }
        wDec = t;
      }
      float[] be = floats(p, bEnc);
      float[] bd = floats(p, bDec);
      CrosscoderConfig config = switch (layout) {
        case CROSSCODER -> readConfig(c, d, f);
        case CKKISSANE -> CrosscoderConfig.l1(d, f, 0);
        case DICTIONARY_LEARNING -> dictionaryLearningConfig(c, d, f);
      };
      try {
        return Crosscoder.of(config, wEnc, wDec, be, bd);
      } catch (IllegalArgumentException e) {
        throw new InvalidInputException(p, decName, e.getMessage(), e);
      }
    }
  }

  /**
   * Loading copies the weights onto the heap: {@code W_enc} and {@code W_dec} ({@code 2 d F} floats
   * each, {@code W_dec} twice over for the dictionary_learning layout, which is transposed),
   * {@code b_enc} and {@code b_dec}, and {@link Crosscoder#of} copies them once more. A file that
   * declares more than this JVM can still allocate (a sparse file can declare gigabytes it does not
   * hold) is refused before anything is allocated.
   */
  private static void checkHeap(Path p, String tensor, int d, int f, boolean transposed) {
    long floats = (2L + (transposed ? 1 : 0)) * 2L * d * f + f + 2L * d;
    long needed = 2 * 4 * floats;
    Runtime rt = Runtime.getRuntime();
    long available = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    if (needed > available) {
      throw new InvalidInputException(p, tensor, "d = " + d + ", F = " + f + " needs about " + (needed >> 20)
          + " MiB of heap to load, more than the " + (available >> 20) + " MiB this JVM can still allocate"
          + " (raise -Xmx, or check that the file is the crosscoder you meant)");
    }
  }

  private static TensorView require(Checkpoint c, String name) {
    TensorView t = c.tensors().get(name);
    if (t == null) {
      throw new InvalidInputException(c.path(), name, "missing tensor; the file has " + names(c.tensors()));
    }
    return t;
  }

  private static void expectShape(Path p, TensorView t, long[] shape, String symbolic, int d, int f) {
    if (!Arrays.equals(t.shape(), shape)) {
      throw new InvalidInputException(p, t.name(), "expected shape " + symbolic + " = " + TensorView.formatShape(shape)
          + " (d = " + d + ", F = " + f + ") but found " + TensorView.formatShape(t.shape()));
    }
  }

  private static float[] floats(Path p, TensorView t) {
    DType dt = t.dtype();
    if (!(dt == DType.F32 || dt == DType.F16 || dt == DType.BF16 || dt == DType.F64) || t.quantization().isPresent()) {
      throw new InvalidInputException(p, t.name(), "expected a float tensor (F32, F16, BF16 or F64) but found " + dt);
    }
    int n = Math.toIntExact(t.elementCount());
    float[] out = new float[n];
    t.readFloats(0, out, 0, n);
    for (int k = 0; k < n; k++) {
      if (!Float.isFinite(out[k])) {
        throw new InvalidInputException(p, t.name(), "non-finite weight " + out[k] + " at flat index " + k
            + " of shape " + TensorView.formatShape(t.shape()));
      }
    }
    return out;
  }

  private static CrosscoderConfig dictionaryLearningConfig(Checkpoint c, int d, int f) {
    TensorView threshold = c.tensors().get("threshold");
    if (threshold == null) {
      return CrosscoderConfig.l1(d, f, 0);
    }
    if (threshold.elementCount() != 1) {
      throw new InvalidInputException(c.path(), "threshold", "expected one global threshold (shape [] or [1])"
          + " but found shape " + TensorView.formatShape(threshold.shape())
          + "; per-latent thresholds are not supported");
    }
    float[] v = floats(c.path(), threshold);
    int k = 1;
    TensorView kt = c.tensors().get("k");
    if (kt != null) {
      if (kt.elementCount() != 1) {
        throw new InvalidInputException(c.path(), "k", "expected a scalar but found shape "
            + TensorView.formatShape(kt.shape()));
      }
      float[] kv = new float[1];
      kt.readFloats(0, kv, 0, 1);
      if (!(kv[0] >= 1 && kv[0] <= f)) {
        throw new InvalidInputException(c.path(), "k", "expected 1 <= k <= F = " + f + " but found " + kv[0]);
      }
      k = (int) kv[0];
    }
    // dictionary_learning marks "threshold not estimated yet" with a negative value
    return CrosscoderConfig.l1(d, f, 0).withSparsity(new Sparsity.BatchTopK(k, Math.max(0, v[0])));
  }

  // ---- metadata JSON ----

  static String configJson(CrosscoderConfig c) {
    ObjectNode o = JSON.createObjectNode();
    o.put("d", c.d());
    o.put("dictionary_size", c.dictionarySize());
    ObjectNode s = o.putObject("sparsity");
    switch (c.sparsity()) {
      case Sparsity.L1 l1 -> s.put("kind", "l1").put("lambda", l1.lambda());
      case Sparsity.BatchTopK b -> s.put("kind", "batch_top_k").put("k", b.k()).put("threshold", b.threshold());
    }
    o.put("shared_latents", c.sharedLatents());
    return o.toString();
  }

  static String normalisationJson(Normalisation n, int d) {
    ObjectNode o = JSON.createObjectNode();
    o.put("kind", n.kind().name().toLowerCase(java.util.Locale.ROOT));
    if (n.kind() != Normalisation.Kind.NONE) {
      o.put("scale_a", n.scale(0));
      o.put("scale_b", n.scale(1));
    }
    if (n.kind() == Normalisation.Kind.MEAN_CENTRED) {
      for (int m = 0; m < 2; m++) {
        ArrayNode a = o.putArray(m == 0 ? "mean_a" : "mean_b");
        for (float v : n.mean(m, d)) {
          a.add(v);
        }
      }
    }
    return o.toString();
  }

  private static CrosscoderConfig readConfig(Checkpoint c, int d, int f) {
    Path p = c.path();
    String version = c.metadata().get(FORMAT_VERSION_KEY);
    if (!FORMAT_VERSION.equals(version)) {
      throw new InvalidInputException(p, FORMAT_VERSION_KEY, "unsupported format version '" + version
          + "'; this library reads version " + FORMAT_VERSION);
    }
    JsonNode cfg = parse(p, c.metadata(), CONFIG_KEY);
    JsonNode norm = parse(p, c.metadata(), NORMALISATION_KEY);
    try {
      int cd = intField(p, CONFIG_KEY, cfg, "d");
      int cf = intField(p, CONFIG_KEY, cfg, "dictionary_size");
      if (cd != d || cf != f) {
        throw new InvalidInputException(p, CONFIG_KEY, "says d = " + cd + ", F = " + cf + " but W_enc has d = " + d
            + ", F = " + f);
      }
      JsonNode s = cfg.get("sparsity");
      if (s == null || !s.isObject()) {
        throw new InvalidInputException(p, CONFIG_KEY, "missing object 'sparsity'");
      }
      String kind = s.path("kind").asText("");
      Sparsity sparsity = switch (kind) {
        case "l1" -> new Sparsity.L1(doubleField(p, CONFIG_KEY, s, "lambda"));
        case "batch_top_k" -> new Sparsity.BatchTopK(intField(p, CONFIG_KEY, s, "k"),
            doubleField(p, CONFIG_KEY, s, "threshold"));
        default -> throw new InvalidInputException(p, CONFIG_KEY, "unknown sparsity kind '" + kind
            + "' (expected l1 or batch_top_k)");
      };
      int shared = intField(p, CONFIG_KEY, cfg, "shared_latents");
      return new CrosscoderConfig(d, f, sparsity, shared, readNormalisation(p, norm, d));
    } catch (IllegalArgumentException e) {
      throw new InvalidInputException(p, CONFIG_KEY, e.getMessage(), e);
    }
  }

  private static Normalisation readNormalisation(Path p, JsonNode n, int d) {
    String kind = n.path("kind").asText("");
    return switch (kind) {
      case "none" -> Normalisation.none();
      case "scale" -> Normalisation.scale(doubleField(p, NORMALISATION_KEY, n, "scale_a"),
          doubleField(p, NORMALISATION_KEY, n, "scale_b"));
      case "mean_centred" -> Normalisation.meanCentred(floatArray(p, n, "mean_a", d), floatArray(p, n, "mean_b", d),
          doubleField(p, NORMALISATION_KEY, n, "scale_a"), doubleField(p, NORMALISATION_KEY, n, "scale_b"));
      default -> throw new InvalidInputException(p, NORMALISATION_KEY, "unknown kind '" + kind
          + "' (expected none, scale or mean_centred)");
    };
  }

  private static float[] floatArray(Path p, JsonNode n, String field, int d) {
    JsonNode a = n.get(field);
    if (a == null || !a.isArray() || a.size() != d) {
      throw new InvalidInputException(p, NORMALISATION_KEY, "'" + field + "' must be an array of d = " + d
          + " numbers");
    }
    float[] out = new float[d];
    for (int j = 0; j < d; j++) {
      if (!a.get(j).isNumber()) {
        throw new InvalidInputException(p, NORMALISATION_KEY, "'" + field + "'[" + j + "] is not a number");
      }
      out[j] = a.get(j).floatValue();
    }
    return out;
  }

  private static JsonNode parse(Path p, Map<String, String> metadata, String key) {
    String s = metadata.get(key);
    if (s == null) {
      throw new InvalidInputException(p, key, "missing metadata entry");
    }
    try {
      JsonNode n = JSON.readTree(s);
      if (n == null || !n.isObject()) {
        throw new InvalidInputException(p, key, "expected a JSON object");
      }
      return n;
    } catch (JsonProcessingException e) {
      throw new InvalidInputException(p, key, "malformed JSON: " + e.getOriginalMessage(), e);
    }
  }

  private static int intField(Path p, String key, JsonNode o, String field) {
    JsonNode v = o.get(field);
    if (v == null || !v.canConvertToInt() || !v.isIntegralNumber()) {
      throw new InvalidInputException(p, key, "'" + field + "' must be an integer");
    }
    return v.intValue();
  }

  private static double doubleField(Path p, String key, JsonNode o, String field) {
    JsonNode v = o.get(field);
    if (v == null || !v.isNumber()) {
      throw new InvalidInputException(p, key, "'" + field + "' must be a number");
    }
    return v.doubleValue();
  }
}
