package io.crosscoder.model.decoder;

import io.crosscoder.InvalidInputException;
import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.Kernels;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A decoder's weights on a backend, named as Hugging Face names them ({@code
 * model.layers.N.self_attn.q_proj.weight}, ...). Every tensor the config calls for is checked
 * (present, a plain F32/F16/BF16 tensor, the shape the config implies) before any backend memory
 * is taken. Matrices in F32 or BF16 are {@linkplain Kernels#wrapReadOnly wrapped} where they lie
 * in the mapping (no copy on the CPU); F16 matrices are widened to F32 backend buffers (twice the
 * file's bytes), the one case that copies. Norm gains and biases (vectors) are copied to F32. The
 * embedding stays in the mapping and is gathered row by row on the host, except where it doubles
 * as the output head. Owned by {@link DecoderModel}; {@link #close()} frees the backend buffers,
 * not the checkpoint.
 */
final class DecoderWeights implements AutoCloseable {
  /** One block's weights; biases and the Qwen3 head norms are null where the config has none. */
  record Layer(DeviceBuffer inputNorm, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer o,
      DeviceBuffer qBias, DeviceBuffer kBias, DeviceBuffer vBias, DeviceBuffer oBias,
      DeviceBuffer qNorm, DeviceBuffer kNorm, DeviceBuffer postNorm,
      DeviceBuffer gate, DeviceBuffer up, DeviceBuffer down,
      DeviceBuffer gateBias, DeviceBuffer upBias, DeviceBuffer downBias) {}

  private static final int CHUNK = 1 << 16;

  final TensorView embedding;
  final List<Layer> layers;
  final DeviceBuffer finalNorm;
  final DeviceBuffer outputHead;
  /** The storage types of the matrices, for the description (e.g. "BF16"). */
  final String dtypes;
  private final List<DeviceBuffer> owned;

  private DecoderWeights(TensorView embedding, List<Layer> layers, DeviceBuffer finalNorm, DeviceBuffer outputHead,
      String dtypes, List<DeviceBuffer> owned) {
    this.embedding = embedding;
    this.layers = layers;
    this.finalNorm = finalNorm;
    this.outputHead = outputHead;
    this.dtypes = dtypes;
    this.owned = owned;
  }

  /**
   * Checks every tensor of {@code config} in {@code checkpoint}, then puts them on {@code kernels}.
   *
   * @throws InvalidInputException naming the file and the tensor when one is missing, not a plain
   *     float tensor, or of another shape than the config implies
   */
  static DecoderWeights load(DecoderConfig config, Checkpoint checkpoint, Kernels kernels) {
    Map<String, long[]> expected = expectedShapes(config);
    Map<String, TensorView> found = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : expected.entrySet()) {
      found.put(e.getKey(), check(checkpoint, config, e.getKey(), e.getValue()));
    }
    List<DeviceBuffer> owned = new ArrayList<>();
    try {
      Loader l = new Loader(kernels, found, owned);
      List<Layer> layers = new ArrayList<>();
      for (int i = 0; i < config.layers(); i++) {
        String p = "model.layers." + i + ".";
        String a = p + "self_attn.";
        String m = p + "mlp.";
        boolean qkv = config.qkvBias();
        boolean mlp = config.mlpBias();
        layers.add(new Layer(l.vector(p + "input_layernorm.weight"),
            l.matrix(a + "q_proj.weight"), l.matrix(a + "k_proj.weight"), l.matrix(a + "v_proj.weight"),
            l.matrix(a + "o_proj.weight"),
            qkv ? l.vector(a + "q_proj.bias") : null, qkv ? l.vector(a + "k_proj.bias") : null,
            qkv ? l.vector(a + "v_proj.bias") : null, config.outputBias() ? l.vector(a + "o_proj.bias") : null,
            config.qkNorm() ? l.vector(a + "q_norm.weight") : null, config.qkNorm() ? l.vector(a + "k_norm.weight") : null,
            l.vector(p + "post_attention_layernorm.weight"),
            l.matrix(m + "gate_proj.weight"), l.matrix(m + "up_proj.weight"), l.matrix(m + "down_proj.weight"),
            mlp ? l.vector(m + "gate_proj.bias") : null, mlp ? l.vector(m + "up_proj.bias") : null,
            mlp ? l.vector(m + "down_proj.bias") : null));
      }
      DeviceBuffer norm = l.vector("model.norm.weight");
      DeviceBuffer head = l.matrix(config.tiedEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight");
      String dtypes = String.join("+", found.values().stream().filter(t -> t.shape().length == 2)
          .map(t -> t.dtype().name()).distinct().sorted().toList());
      return new DecoderWeights(found.get("model.embed_tokens.weight"), List.copyOf(layers), norm, head, dtypes,
          owned);
    } catch (RuntimeException e) {
      owned.forEach(DeviceBuffer::close);
      throw e;
    }
  }

  /** Every tensor name the config calls for, with its shape, in file order of a Hugging Face checkpoint. */
  static Map<String, long[]> expectedShapes(DecoderConfig c) {
    long d = c.hiddenSize();
    long qWidth = (long) c.heads() * c.headDim();
    long kvWidth = (long) c.keyValueHeads() * c.headDim();
    long inter = c.intermediateSize();
    Map<String, long[]> s = new LinkedHashMap<>();
    s.put("model.embed_tokens.weight", new long[] {c.vocabularySize(), d});
    for (int i = 0; i < c.layers(); i++) {
      String p = "model.layers." + i + ".";
      String a = p + "self_attn.";
      String m = p + "mlp.";
      s.put(p + "input_layernorm.weight", new long[] {d});
      s.put(a + "q_proj.weight", new long[] {qWidth, d});
      s.put(a + "k_proj.weight", new long[] {kvWidth, d});
      s.put(a + "v_proj.weight", new long[] {kvWidth, d});
      s.put(a + "o_proj.weight", new long[] {d, qWidth});
      if (c.qkvBias()) {
        s.put(a + "q_proj.bias", new long[] {qWidth});
        s.put(a + "k_proj.bias", new long[] {kvWidth});
        s.put(a + "v_proj.bias", new long[] {kvWidth});
      }
      if (c.outputBias()) {
        s.put(a + "o_proj.bias", new long[] {d});
      }
      if (c.qkNorm()) {
        s.put(a + "q_norm.weight", new long[] {c.headDim()});
        s.put(a + "k_norm.weight", new long[] {c.headDim()});
      }
      s.put(p + "post_attention_layernorm.weight", new long[] {d});
      s.put(m + "gate_proj.weight", new long[] {inter, d});
      s.put(m + "up_proj.weight", new long[] {inter, d});
      s.put(m + "down_proj.weight", new long[] {d, inter});
      if (c.mlpBias()) {
        s.put(m + "gate_proj.bias", new long[] {inter});
        s.put(m + "up_proj.bias", new long[] {inter});
        s.put(m + "down_proj.bias", new long[] {d});
      }
    }
    s.put("model.norm.weight", new long[] {d});
    if (!c.tiedEmbeddings()) {
      s.put("lm_head.weight", new long[] {c.vocabularySize(), d});
    }
    return s;
  }

  private static TensorView check(Checkpoint checkpoint, DecoderConfig config, String name, long[] shape) {
    TensorView t = checkpoint.find(name).orElse(null);
    if (t == null) {
      String why = name.equals("lm_head.weight")
          ? " (config.json has tie_word_embeddings false, so the output head must be its own tensor)"
          : name.endsWith(".bias") ? " (" + config.architecture().className() + " with this config has biases there)"
          : name.contains("_norm.weight") && name.contains("self_attn") ? " (Qwen3 normalises each query and key head)"
          : "";
      throw new InvalidInputException(checkpoint.path(), name, "missing: " + config.source().getFileName()
          + " calls for it" + why);
    }
    Path file = t.source() != null ? t.source() : checkpoint.path();
    // Plain F32/BF16 matrices are used where they lie; anything else the view can read as floats in
    // the Hugging Face layout (F16, block-quantized GGUF types, rows stored permuted) is dequantized
    // into backend F32 once, at load.
    boolean floats = t.dtype() == DType.F32 || t.dtype() == DType.F16 || t.dtype() == DType.BF16;
    if (t.transposed() || !(floats || t.isQuantized())) {
      throw new InvalidInputException(file, name, "is " + t.dtype() + (t.quantization().isPresent() ? " quantized" : "")
          + (t.transposed() ? " transposed" : "") + "; the decoder reads F32, F16 or BF16 weights, or block-quantized"
          + " ones (dequantized to F32 when loaded)");
    }
    if (!Arrays.equals(t.shape(), shape)) {
      throw new InvalidInputException(file, name, "has shape " + TensorView.formatShape(t.shape()) + " but "
          + config.source().getFileName() + " implies " + TensorView.formatShape(shape) + " ("
          + shapeReason(config, name) + ")");
    }
    return t;
  }

  private static String shapeReason(DecoderConfig c, String name) {
    if (name.contains("embed_tokens") || name.startsWith("lm_head")) {
      return "vocab_size " + c.vocabularySize() + " x hidden_size " + c.hiddenSize();
    }
    if (name.contains("q_proj") || name.contains("o_proj")) {
      return "num_attention_heads " + c.heads() + " x head_dim " + c.headDim() + ", hidden_size " + c.hiddenSize();
    }
    if (name.contains("k_proj") || name.contains("v_proj")) {
      return "num_key_value_heads " + c.keyValueHeads() + " x head_dim " + c.headDim() + ", hidden_size " + c.hiddenSize();
    }
    if (name.contains("mlp.")) {
      return "intermediate_size " + c.intermediateSize() + ", hidden_size " + c.hiddenSize();
    }
    if (name.contains("q_norm") || name.contains("k_norm")) {
      return "head_dim " + c.headDim();
    }
    return "hidden_size " + c.hiddenSize();
  }

  /** Puts checked tensors on the backend, recording every buffer it makes. */
  private record Loader(Kernels kernels, Map<String, TensorView> tensors, List<DeviceBuffer> owned) {
    DeviceBuffer matrix(String name) {
      TensorView t = tensors.get(name);
      long n = t.elementCount();
      DeviceBuffer b;
      if (t.isPlainFloat() && (t.dtype() == DType.F32 || t.dtype() == DType.BF16)) {
        b = kernels.wrapReadOnly(t.data(), t.dtype(), n);
        owned.add(b);
        return b;
      }
      b = kernels.allocate(DType.F32, n);
      owned.add(b);
      float[] chunk = new float[(int) Math.min(n, CHUNK)];
      for (long at = 0; at < n; at += CHUNK) {
        int count = (int) Math.min(CHUNK, n - at);
        t.readFloats(at, chunk, 0, count);
        kernels.upload(chunk, 0, b, at, count);
      }
      return b;
    }

    DeviceBuffer vector(String name) {
      TensorView t = tensors.get(name);
      float[] values = new float[Math.toIntExact(t.elementCount())];
      t.readFloats(0, values, 0, values.length);
      DeviceBuffer b = kernels.upload(values);
      owned.add(b);
      return b;
    }
  }

  @Override
  public void close() {
    owned.forEach(DeviceBuffer::close);
  }
}
