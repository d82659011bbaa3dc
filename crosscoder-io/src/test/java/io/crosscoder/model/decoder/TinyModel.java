package io.crosscoder.model.decoder;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.io.safetensors.SafetensorsWriter;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.FloatFormats;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A tiny random decoder written by a test as a Hugging Face folder ({@code config.json} and
 * safetensors through the project's {@link SafetensorsWriter}), with an independent plain float64
 * forward pass over the same (dtype-rounded) weights as the oracle. The reference is written from
 * the Hugging Face modelling code's definitions, not from {@link DecoderModel}: its own RoPE
 * frequencies and scaling, its own masks, everything in f64.
 */
final class TinyModel {
  /** What to write; the fields are {@code config.json}'s, null meaning "leave the field out". */
  static final class Spec implements Cloneable {
    String architecture = "LlamaForCausalLM";
    String modelType = "llama";
    int hidden = 24;
    int intermediate = 40;
    int layers = 2;
    int heads = 4;
    int kvHeads = 2;
    Integer headDim;
    int vocab = 50;
    int maxPositions = 64;
    double eps = 1e-5;
    double theta = 10000;
    Map<String, Object> ropeScaling;
    boolean tied = true;
    Boolean attentionBias;
    Boolean mlpBias;
    Integer slidingWindow;
    Boolean useSlidingWindow;
    Integer maxWindowLayers;
    DType dtype = DType.F32;

    Spec arch(String className, String type) {
      Spec s = copy();
      s.architecture = className;
      s.modelType = type;
      return s;
    }

    Spec copy() {
      try {
        Spec s = (Spec) clone();
        s.ropeScaling = ropeScaling == null ? null : new LinkedHashMap<>(ropeScaling);
        return s;
      } catch (CloneNotSupportedException e) {
        throw new AssertionError(e);
      }
    }

    int headDimension() {
      return headDim != null ? headDim : hidden / heads;
    }

    boolean is(String className) {
      return architecture.equals(className);
    }

    boolean qkvBias() {
      return is("Qwen2ForCausalLM") || (is("LlamaForCausalLM") || is("Qwen3ForCausalLM")) && Boolean.TRUE.equals(attentionBias);
    }

    boolean outputBias() {
      return (is("LlamaForCausalLM") || is("Qwen3ForCausalLM")) && Boolean.TRUE.equals(attentionBias);
    }

    boolean mlpBiases() {
      return is("LlamaForCausalLM") && Boolean.TRUE.equals(mlpBias);
    }

    int window(int layer) {
      if (slidingWindow == null || is("LlamaForCausalLM")) {
        return 0;
      }
      if (is("MistralForCausalLM")) {
        return slidingWindow;
      }
      int from = maxWindowLayers == null ? 28 : maxWindowLayers;
      return Boolean.TRUE.equals(useSlidingWindow) && layer >= from ? slidingWindow : 0;
    }
  }

  final Spec spec;
  final Path folder;
  /** Every tensor's values as stored (rounded to the dtype), by Hugging Face name. */
  final Map<String, double[]> weights = new LinkedHashMap<>();
  private final Map<String, long[]> shapes = new LinkedHashMap<>();

  private TinyModel(Spec spec, Path folder) {
    this.spec = spec;
    this.folder = folder;
  }

  /** Writes a model of {@code spec} with weights drawn from {@code seed} into {@code folder}. */
  static TinyModel write(Path folder, Spec spec, long seed, boolean sharded) {
    TinyModel m = new TinyModel(spec.copy(), folder);
    m.draw(new Random(seed));
    m.writeFiles(sharded);
    return m;
  }

  private void draw(Random r) {
    int d = spec.hidden;
    int hd = spec.headDimension();
    int qw = spec.heads * hd;
    int kvw = spec.kvHeads * hd;
    int in = spec.intermediate;
    put(r, "model.embed_tokens.weight", 1.0, 0, spec.vocab, d);
    for (int i = 0; i < spec.layers; i++) {
      String p = "model.layers." + i + ".";
      put(r, p + "input_layernorm.weight", 0.2, 1, d);
      put(r, p + "self_attn.q_proj.weight", 1 / Math.sqrt(d), 0, qw, d);
      put(r, p + "self_attn.k_proj.weight", 1 / Math.sqrt(d), 0, kvw, d);
      put(r, p + "self_attn.v_proj.weight", 1 / Math.sqrt(d), 0, kvw, d);
      put(r, p + "self_attn.o_proj.weight", 1 / Math.sqrt(qw), 0, d, qw);
      if (spec.qkvBias()) {
        put(r, p + "self_attn.q_proj.bias", 0.3, 0, qw);
        put(r, p + "self_attn.k_proj.bias", 0.3, 0, kvw);
        put(r, p + "self_attn.v_proj.bias", 0.3, 0, kvw);
      }
      if (spec.outputBias()) {
        put(r, p + "self_attn.o_proj.bias", 0.3, 0, d);
      }
      if (spec.is("Qwen3ForCausalLM")) {
        put(r, p + "self_attn.q_norm.weight", 0.2, 1, hd);
        put(r, p + "self_attn.k_norm.weight", 0.2, 1, hd);
      }
      put(r, p + "post_attention_layernorm.weight", 0.2, 1, d);
      put(r, p + "mlp.gate_proj.weight", 1 / Math.sqrt(d), 0, in, d);
      put(r, p + "mlp.up_proj.weight", 1 / Math.sqrt(d), 0, in, d);
      put(r, p + "mlp.down_proj.weight", 1 / Math.sqrt(in), 0, d, in);
      if (spec.mlpBiases()) {
        put(r, p + "mlp.gate_proj.bias", 0.3, 0, in);
        put(r, p + "mlp.up_proj.bias", 0.3, 0, in);
        put(r, p + "mlp.down_proj.bias", 0.3, 0, d);
      }
    }
    put(r, "model.norm.weight", 0.2, 1, d);
    if (!spec.tied) {
      put(r, "lm_head.weight", 1 / Math.sqrt(d), 0, spec.vocab, d);
    }
  }

  private void put(Random r, String name, double sd, double mean, long... shape) {
    long n = 1;
    for (long s : shape) {
      n *= s;
    }
    double[] v = new double[(int) n];
    for (int i = 0; i < v.length; i++) {
      v[i] = round(mean + sd * r.nextGaussian());
    }
    weights.put(name, v);
    shapes.put(name, shape);
  }

  private double round(double v) {
    return switch (spec.dtype) {
      case F32 -> (float) v;
      case BF16 -> FloatFormats.bf16ToFloat(FloatFormats.floatToBf16((float) v));
      case F16 -> FloatFormats.f16ToFloat(FloatFormats.floatToF16((float) v));
      default -> throw new IllegalArgumentException(spec.dtype.toString());
    };
  }

  private void writeFiles(boolean sharded) {
    ValueLayout.OfFloat f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    ValueLayout.OfShort f16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    try (Arena arena = Arena.ofConfined()) {
      Files.createDirectories(folder);
      List<TensorView> views = new ArrayList<>();
      for (Map.Entry<String, double[]> e : weights.entrySet()) {
        double[] v = e.getValue();
        MemorySegment s = arena.allocate((long) v.length * spec.dtype.byteSize());
        for (int i = 0; i < v.length; i++) {
          switch (spec.dtype) {
            case F32 -> s.setAtIndex(f32, i, (float) v[i]);
            case BF16 -> s.setAtIndex(f16, i, FloatFormats.floatToBf16((float) v[i]));
            case F16 -> s.setAtIndex(f16, i, FloatFormats.floatToF16((float) v[i]));
            default -> throw new IllegalArgumentException(spec.dtype.toString());
          }
        }
        views.add(TensorView.of(e.getKey(), spec.dtype, shapes.get(e.getKey()), s, null));
      }
      if (sharded) {
        SafetensorsWriter.writeSharded(folder, Map.of("format", "pt"), views, 8_000);
      } else {
        SafetensorsWriter.write(folder.resolve("model.safetensors"), Map.of("format", "pt"), views);
      }
      Files.writeString(folder.resolve("config.json"), config().toPrettyString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The {@code config.json} of the spec. */
  ObjectNode config() {
    ObjectNode c = new ObjectMapper().createObjectNode();
    c.putArray("architectures").add(spec.architecture);
    c.put("model_type", spec.modelType);
    c.put("hidden_size", spec.hidden);
    c.put("intermediate_size", spec.intermediate);
    c.put("num_hidden_layers", spec.layers);
    c.put("num_attention_heads", spec.heads);
    c.put("num_key_value_heads", spec.kvHeads);
    if (spec.headDim != null) {
      c.put("head_dim", spec.headDim);
    }
    c.put("vocab_size", spec.vocab);
    c.put("max_position_embeddings", spec.maxPositions);
    c.put("rms_norm_eps", spec.eps);
    c.put("rope_theta", spec.theta);
    if (spec.ropeScaling != null) {
      c.set("rope_scaling", new ObjectMapper().valueToTree(spec.ropeScaling));
    } else {
      c.putNull("rope_scaling");
    }
    c.put("hidden_act", "silu");
    c.put("tie_word_embeddings", spec.tied);
    if (spec.attentionBias != null) {
      c.put("attention_bias", spec.attentionBias);
    }
    if (spec.mlpBias != null) {
      c.put("mlp_bias", spec.mlpBias);
    }
    if (spec.slidingWindow != null) {
      c.put("sliding_window", spec.slidingWindow);
    }
    if (spec.useSlidingWindow != null) {
      c.put("use_sliding_window", spec.useSlidingWindow);
    }
    if (spec.maxWindowLayers != null) {
      c.put("max_window_layers", spec.maxWindowLayers);
    }
    c.put("bos_token_id", 1);
    c.put("eos_token_id", 2);
    c.put("torch_dtype", spec.dtype == DType.F32 ? "float32" : spec.dtype == DType.BF16 ? "bfloat16" : "float16");
    return c;
  }

  // ---------------------------------------------------------------- the f64 reference

  /**
   * The residual stream of one sequence: {@code [layers + 1][positions * hidden]}, entry 0 the
   * embedding output, entry {@code L + 1} the output of block {@code L} (no final norm).
   */
  double[][] residuals(int[] ids) {
    int d = spec.hidden;
    int n = ids.length;
    double[][] out = new double[spec.layers + 1][];
    double[] x = new double[n * d];
    double[] embed = weights.get("model.embed_tokens.weight");
    for (int t = 0; t < n; t++) {
      System.arraycopy(embed, ids[t] * d, x, t * d, d);
    }
    out[0] = x.clone();
    for (int l = 0; l < spec.layers; l++) {
      block(x, n, l);
      out[l + 1] = x.clone();
    }
    return out;
  }

  private void block(double[] x, int n, int layer) {
    int d = spec.hidden;
    int hd = spec.headDimension();
    int heads = spec.heads;
    int kvHeads = spec.kvHeads;
    String p = "model.layers." + layer + ".";
    double[] h = rmsNorm(x, n, d, weights.get(p + "input_layernorm.weight"));
    double[] q = linear(h, n, d, p + "self_attn.q_proj", heads * hd);
    double[] k = linear(h, n, d, p + "self_attn.k_proj", kvHeads * hd);
    double[] v = linear(h, n, d, p + "self_attn.v_proj", kvHeads * hd);
    if (spec.is("Qwen3ForCausalLM")) {
      q = rmsNorm(q, n * heads, hd, weights.get(p + "self_attn.q_norm.weight"));
      k = rmsNorm(k, n * kvHeads, hd, weights.get(p + "self_attn.k_norm.weight"));
    }
    rope(q, n, heads, hd);
    rope(k, n, kvHeads, hd);
    int window = spec.window(layer);
    double[] attn = new double[n * heads * hd];
    for (int head = 0; head < heads; head++) {
      int g = head / (heads / kvHeads);
      for (int t = 0; t < n; t++) {
        double[] score = new double[n];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j <= t; j++) {
          if (window > 0 && t - j >= window) {
            score[j] = Double.NEGATIVE_INFINITY;
            continue;
          }
          double s = 0;
          for (int i = 0; i < hd; i++) {
            s += q[(t * heads + head) * hd + i] * k[(j * kvHeads + g) * hd + i];
          }
          score[j] = s / Math.sqrt(hd);
          max = Math.max(max, score[j]);
        }
        double sum = 0;
        for (int j = 0; j <= t; j++) {
          score[j] = Math.exp(score[j] - max);
          sum += score[j];
        }
        for (int j = 0; j <= t; j++) {
          for (int i = 0; i < hd; i++) {
            attn[(t * heads + head) * hd + i] += score[j] / sum * v[(j * kvHeads + g) * hd + i];
          }
        }
      }
    }
    addInto(x, linear(attn, n, heads * hd, p + "self_attn.o_proj", d));
    h = rmsNorm(x, n, d, weights.get(p + "post_attention_layernorm.weight"));
    int in = spec.intermediate;
    double[] gate = linear(h, n, d, p + "mlp.gate_proj", in);
    double[] up = linear(h, n, d, p + "mlp.up_proj", in);
    for (int i = 0; i < gate.length; i++) {
      gate[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
    }
    addInto(x, linear(gate, n, in, p + "mlp.down_proj", d));
  }

  /** Next-token logits of {@code rows} residual rows: the final norm, then the head (the embedding when tied). */
  double[] logits(double[] x, int rows) {
    int d = spec.hidden;
    double[] h = rmsNorm(x, rows, d, weights.get("model.norm.weight"));
    double[] head = weights.get(spec.tied ? "model.embed_tokens.weight" : "lm_head.weight");
    double[] out = new double[rows * spec.vocab];
    for (int r = 0; r < rows; r++) {
      for (int o = 0; o < spec.vocab; o++) {
        double s = 0;
        for (int c = 0; c < d; c++) {
          s += h[r * d + c] * head[o * d + c];
        }
        out[r * spec.vocab + o] = s;
      }
    }
    return out;
  }

  private double[] rmsNorm(double[] x, int rows, int cols, double[] gain) {
    double[] out = new double[rows * cols];
    for (int r = 0; r < rows; r++) {
      double ms = 0;
      for (int c = 0; c < cols; c++) {
        ms += x[r * cols + c] * x[r * cols + c];
      }
      double s = 1 / Math.sqrt(ms / cols + spec.eps);
      for (int c = 0; c < cols; c++) {
        out[r * cols + c] = x[r * cols + c] * s * gain[c];
      }
    }
    return out;
  }

  private double[] linear(double[] x, int rows, int in, String name, int outWidth) {
    double[] w = weights.get(name + ".weight");
    double[] b = weights.get(name + ".bias");
    double[] out = new double[rows * outWidth];
    for (int r = 0; r < rows; r++) {
      for (int o = 0; o < outWidth; o++) {
        double s = b == null ? 0 : b[o];
        for (int i = 0; i < in; i++) {
          s += x[r * in + i] * w[o * in + i];
        }
        out[r * outWidth + o] = s;
      }
    }
    return out;
  }

  /** Hugging Face's rotate-half RoPE: pair i with i + hd/2, angle position * inv_freq[i]. */
  private void rope(double[] x, int n, int heads, int hd) {
    int half = hd / 2;
    for (int t = 0; t < n; t++) {
      for (int h = 0; h < heads; h++) {
        int at = (t * heads + h) * hd;
        for (int i = 0; i < half; i++) {
          double angle = t * inverseFrequency(i, hd);
          double a = x[at + i];
          double b = x[at + half + i];
          x[at + i] = a * Math.cos(angle) - b * Math.sin(angle);
          x[at + half + i] = b * Math.cos(angle) + a * Math.sin(angle);
        }
      }
    }
  }

  /** {@code theta^(-2i/hd)}, then {@code modeling_rope_utils}' linear or llama3 adjustment. */
  double inverseFrequency(int i, int hd) {
    double base = Math.pow(spec.theta, -2.0 * i / hd);
    if (spec.ropeScaling == null) {
      return base;
    }
    String type = (String) spec.ropeScaling.getOrDefault("rope_type", spec.ropeScaling.get("type"));
    double factor = ((Number) spec.ropeScaling.get("factor")).doubleValue();
    if (type.equals("linear")) {
      return base / factor;
    }
    double low = ((Number) spec.ropeScaling.get("low_freq_factor")).doubleValue();
    double high = ((Number) spec.ropeScaling.get("high_freq_factor")).doubleValue();
    double original = ((Number) spec.ropeScaling.get("original_max_position_embeddings")).doubleValue();
    double wavelength = 2 * Math.PI / base;
    if (wavelength < original / high) {
      return base; // high frequency: kept
    }
    if (wavelength > original / low) {
      return base / factor; // low frequency: interpolated fully
    }
    double smooth = (original / wavelength - low) / (high - low);
    return (1 - smooth) * base / factor + smooth * base;
  }

  private static void addInto(double[] x, double[] y) {
    for (int i = 0; i < x.length; i++) {
      x[i] += y[i];
    }
  }
}
