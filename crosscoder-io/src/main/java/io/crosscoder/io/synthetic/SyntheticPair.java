package io.crosscoder.io.synthetic;

import io.crosscoder.CrosscoderException;
import io.crosscoder.align.ParameterName;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.io.safetensors.SafetensorsFormat;
import io.crosscoder.io.safetensors.SafetensorsWriter;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.FloatFormats;
import io.crosscoder.tensor.TensorSpec;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.LongStream;

/**
 * A generated pair of Qwen2-shaped checkpoints, a base and a target with a planted change whose
 * profile is known, written as safetensors. Used as the command line's offline default, by tests
 * and by the throughput benchmark.
 *
 * <p>The base's matrices are uniform with standard deviation {@value #WEIGHT_STD}; norm weights
 * are {@code 1 + U(-0.05, 0.05)}. The target adds independent noise of standard deviation
 * {@code r * }{@value #WEIGHT_STD}, so that a tensor's relative change {@code |B-A|/|A|} is about
 * {@code r} (before rounding to the storage type) where {@link #plantedRelativeChange} gives
 * {@code r}:
 *
 * <ul>
 *   <li>layers of the late third ({@code layer >= ceil(2L/3)}): {@value #LATE_MLP} on MLP
 *       matrices, {@value #LATE_ATTENTION} on attention matrices and biases;
 *   <li>all other layers: {@value #BACKGROUND} on matrices and biases;
 *   <li>norm weights: unchanged (bit-identical);
 *   <li>the input embedding: rows {@code [}{@value #MOVED_TOKENS_FROM}{@code , }{@value
 *       #MOVED_TOKENS_TO}{@code )} redrawn independently (cosine near 0), all other rows unchanged.
 * </ul>
 *
 * <p>Values come from a counter-based generator (SplitMix64 of seed, tensor and element index),
 * so any element can be computed independently and a run is reproducible for a seed.
 */
public final class SyntheticPair {
  /** Standard deviation of the base's matrix and bias elements. */
  public static final double WEIGHT_STD = 0.02;
  /** Planted relative change of the MLP matrices of the late third of the layers. */
  public static final double LATE_MLP = 0.08;
  /** Planted relative change of the attention matrices and biases of the late third of the layers. */
  public static final double LATE_ATTENTION = 0.03;
  /** Planted relative change of the matrices and biases of every other layer. */
  public static final double BACKGROUND = 0.01;
  /** First embedding row (token id) redrawn in the target. */
  public static final int MOVED_TOKENS_FROM = 100;
  /** End (exclusive) of the embedding rows redrawn in the target. */
  public static final int MOVED_TOKENS_TO = 110;

  /**
   * Dimensions of a Qwen2-style decoder.
   *
   * @param name the shape's name, recorded in the files to tell them apart
   * @param hidden the residual width, a multiple of {@code heads}
   * @param intermediate the MLP's width
   * @param layers the number of blocks
   * @param vocab the vocabulary size, above {@value #MOVED_TOKENS_TO}
   * @param heads query heads, a multiple of {@code kvHeads}
   * @param kvHeads key-value heads
   * @param tiedEmbeddings whether the output head is the embedding (no {@code lm_head.weight})
   */
  public record Shape(String name, int hidden, int intermediate, int layers, int vocab, int heads, int kvHeads,
      boolean tiedEmbeddings) {
    /**
     * Checks the dimensions.
     *
     * @throws IllegalArgumentException if a dimension is not positive, the vocabulary does not
     *     reach the moved rows, or the heads do not divide
     */
    public Shape {
      Objects.requireNonNull(name, "name");
      if (hidden <= 0 || intermediate <= 0 || layers <= 0 || vocab <= MOVED_TOKENS_TO || heads <= 0 || kvHeads <= 0
          || hidden % heads != 0 || heads % kvHeads != 0) {
        throw new IllegalArgumentException("inconsistent model shape " + name);
      }
    }

    /** {@return the width of the key and value projections: {@code kvHeads * hidden / heads}} */
    public int kvWidth() {
      return kvHeads * (hidden / heads);
    }
  }

  /** A small Qwen2-shaped model (about 3.4 M parameters): the command line's default. */
  public static final Shape TINY = new Shape("qwen2-tiny", 256, 704, 12, 4096, 4, 2, true);

  /** The shape of Qwen2-1.5B (1.54 G parameters, 3.1 GB in bf16). */
  public static final Shape QWEN2_1_5B = new Shape("qwen2-1.5b", 1536, 8960, 28, 151936, 12, 2, true);

  /**
   * Where a generated pair lives.
   *
   * @param base the base checkpoint, {@code FOLDER/base.safetensors}
   * @param target the target checkpoint, {@code FOLDER/target.safetensors}
   */
  public record Pair(Path base, Path target) {}

  private SyntheticPair() {}

  /**
   * Lays out one checkpoint.
   *
   * @param s the model's shape
   * @param dtype the storage type of every tensor
   * @return the tensors of one checkpoint of shape {@code s}, in Hugging Face names, in file order
   */
  public static List<TensorSpec> specs(Shape s, DType dtype) {
    List<TensorSpec> out = new ArrayList<>();
    out.add(new TensorSpec("model.embed_tokens.weight", dtype, new long[] {s.vocab(), s.hidden()}));
    for (int l = 0; l < s.layers(); l++) {
      String p = "model.layers." + l + ".";
      out.add(new TensorSpec(p + "input_layernorm.weight", dtype, new long[] {s.hidden()}));
      out.add(new TensorSpec(p + "self_attn.q_proj.weight", dtype, new long[] {s.hidden(), s.hidden()}));
      out.add(new TensorSpec(p + "self_attn.q_proj.bias", dtype, new long[] {s.hidden()}));
      out.add(new TensorSpec(p + "self_attn.k_proj.weight", dtype, new long[] {s.kvWidth(), s.hidden()}));
      out.add(new TensorSpec(p + "self_attn.k_proj.bias", dtype, new long[] {s.kvWidth()}));
      out.add(new TensorSpec(p + "self_attn.v_proj.weight", dtype, new long[] {s.kvWidth(), s.hidden()}));
      out.add(new TensorSpec(p + "self_attn.v_proj.bias", dtype, new long[] {s.kvWidth()}));
      out.add(new TensorSpec(p + "self_attn.o_proj.weight", dtype, new long[] {s.hidden(), s.hidden()}));
      out.add(new TensorSpec(p + "post_attention_layernorm.weight", dtype, new long[] {s.hidden()}));
      out.add(new TensorSpec(p + "mlp.gate_proj.weight", dtype, new long[] {s.intermediate(), s.hidden()}));
      out.add(new TensorSpec(p + "mlp.up_proj.weight", dtype, new long[] {s.intermediate(), s.hidden()}));
      out.add(new TensorSpec(p + "mlp.down_proj.weight", dtype, new long[] {s.hidden(), s.intermediate()}));
    }
    out.add(new TensorSpec("model.norm.weight", dtype, new long[] {s.hidden()}));
    if (!s.tiedEmbeddings()) {
      out.add(new TensorSpec("lm_head.weight", dtype, new long[] {s.vocab(), s.hidden()}));
    }
    return out;
  }

  /**
   * {@return the first layer of the late third: {@code ceil(2L/3)}}
   *
   * @param s the model's shape
   */
  public static int firstLateLayer(Shape s) {
    return (2 * s.layers() + 2) / 3;
  }

  /**
   * The planted relative change of a tensor (0 for norms; NaN for the embedding, whose change is
   * confined to the moved token rows).
   *
   * @param s the model's shape
   * @param name the tensor's Hugging Face name
   * @return {@value #LATE_MLP}, {@value #LATE_ATTENTION} or {@value #BACKGROUND} for a tensor of a
   *     layer, 0 for a norm weight, NaN for any other tensor outside the layers
   */
  public static double plantedRelativeChange(Shape s, String name) {
    ParameterName pn = ParameterName.parse(name);
    if (pn.kind().contains("norm")) {
      return 0;
    }
    if (pn.layer().isEmpty()) {
      return Double.NaN;
    }
    boolean late = pn.layer().getAsInt() >= firstLateLayer(s);
    if (!late) {
      return BACKGROUND;
    }
    return pn.kind().startsWith("mlp.") ? LATE_MLP : LATE_ATTENTION;
  }

  /**
   * Writes {@code base.safetensors} and {@code target.safetensors} of {@code shape} into {@code
   * folder}, unless files made with the same shape, dtype and seed are already there.
   *
   * @param folder where the pair goes (made if missing)
   * @param shape the model's shape
   * @param dtype F32, F16 or BF16
   * @param seed the seed of every value
   * @return the two files
   * @throws IllegalArgumentException if {@code dtype} is not a float type
   */
  public static Pair write(Path folder, Shape shape, DType dtype, long seed) {
    if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.F16) {
      throw new IllegalArgumentException("synthetic checkpoints are F32, F16 or BF16, not " + dtype);
    }
    Path base = folder.resolve("base.safetensors");
    Path target = folder.resolve("target.safetensors");
    try {
      Files.createDirectories(folder);
    } catch (IOException e) {
      throw new CrosscoderException("cannot create " + folder + ": " + e.getMessage(), e);
    }
    String id = shape.name() + "/" + dtype + "/" + seed;
    if (!upToDate(base, id) || !upToDate(target, id)) {
      List<TensorSpec> specs = specs(shape, dtype);
      writeSide(base, shape, specs, seed, id, false);
      writeSide(target, shape, specs, seed, id, true);
    }
    return new Pair(base, target);
  }

  private static boolean upToDate(Path file, String id) {
    if (!Files.isRegularFile(file)) {
      return false;
    }
    try (Checkpoint c = new SafetensorsFormat().open(file)) {
      return id.equals(c.metadata().get("synthetic"));
    } catch (RuntimeException e) {
      return false;
    }
  }

  private static void writeSide(Path file, Shape shape, List<TensorSpec> specs, long seed, String id, boolean target) {
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("format", "pt");
    meta.put("synthetic", id);
    meta.put("side", target ? "target" : "base");
    try (SafetensorsWriter w = SafetensorsWriter.create(file, meta, specs)) {
      for (int t = 0; t < specs.size(); t++) {
        TensorSpec spec = specs.get(t);
        fill(w.segment(spec.name()), spec, shape, seed, t, target);
      }
    }
  }

  private static void fill(MemorySegment seg, TensorSpec spec, Shape shape, long seed, int tensorIndex, boolean target) {
    String name = spec.name();
    boolean norm = name.contains("norm");
    boolean embedding = name.equals("model.embed_tokens.weight");
    double planted = plantedRelativeChange(shape, name);
    long cols = spec.shape().length == 2 ? spec.shape()[1] : spec.elementCount();
    long n = spec.elementCount();
    DType dtype = spec.dtype();
    long blocks = (n + 65535) / 65536;
    LongStream.range(0, blocks).parallel().forEach(blk -> {
      long end = Math.min(n, (blk + 1) * 65536);
      for (long i = blk * 65536; i < end; i++) {
        double v = norm ? 1 + 0.1 * (uniform(seed, tensorIndex, i, 0) - 0.5)
            : WEIGHT_STD * centred(seed, tensorIndex, i, 0);
        if (target) {
          if (embedding) {
            long row = i / cols;
            if (row >= MOVED_TOKENS_FROM && row < MOVED_TOKENS_TO) {
              v = WEIGHT_STD * centred(seed, tensorIndex, i, 2);
            }
          } else if (planted > 0) {
            // Norm weights (0) and an untied lm_head.weight (NaN: outside the layers) stay as the base's.
            v += planted * WEIGHT_STD * centred(seed, tensorIndex, i, 1);
          }
        }
        store(seg, dtype, i, (float) v);
      }
    });
  }

  private static void store(MemorySegment seg, DType dtype, long i, float v) {
    switch (dtype) {
      case F32 -> seg.set(TensorView.Layouts.F32, 4 * i, v);
      case BF16 -> seg.set(TensorView.Layouts.I16, 2 * i, FloatFormats.floatToBf16(v));
      case F16 -> seg.set(TensorView.Layouts.I16, 2 * i, FloatFormats.floatToF16(v));
      default -> throw new IllegalStateException(dtype.toString());
    }
  }

  /** Uniform on {@code [-sqrt 3, sqrt 3)}: mean 0, variance 1. */
  private static double centred(long seed, int tensor, long index, int stream) {
    return (uniform(seed, tensor, index, stream) - 0.5) * 2 * Math.sqrt(3);
  }

  /** Uniform on [0, 1) from SplitMix64 of (seed, tensor, element, stream). */
  static double uniform(long seed, int tensor, long index, int stream) {
    long z = seed * 0x9E3779B97F4A7C15L + ((long) tensor << 40) + index * 4 + stream;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z = z ^ (z >>> 31);
    return (z >>> 11) * 0x1.0p-53;
  }
}
