package io.crosscoder.model.decoder;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.InputFiles;
import io.crosscoder.InvalidInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The shape and options of a Hugging Face decoder, read from its {@code config.json} with the
 * defaults of the matching {@code transformers} configuration class. Immutable.
 *
 * <p>Architectures ({@link Architecture}): {@code LlamaForCausalLM}, {@code Qwen2ForCausalLM},
 * {@code MistralForCausalLM} and {@code Qwen3ForCausalLM}, taken from the first entry of {@code
 * architectures} that is one of them, else from {@code model_type}. What differs between them is
 * carried as plain options: biases on the q/k/v projections (Qwen2 always; Llama and Qwen3 with
 * {@code attention_bias}, which also puts one on the output projection), biases on the MLP (Llama's
 * {@code mlp_bias}), an RMSNorm of each query and key head before RoPE (Qwen3), and a sliding
 * attention window per layer:
 *
 * <ul>
 *   <li>Mistral: {@code sliding_window} on every layer when it is not null;
 *   <li>Qwen2 and Qwen3: only with {@code use_sliding_window: true}, on layers {@code i >=
 *       max_window_layers} (default 28), as {@code transformers} builds {@code layer_types};
 *   <li>an explicit {@code layer_types} list ({@code "sliding_attention"} / {@code
 *       "full_attention"}) wins over both;
 *   <li>Llama: none.
 * </ul>
 *
 * A window of {@code w} lets each token attend to itself and the {@code w - 1} tokens before it
 * ({@code transformers}' mask {@code kv_idx > q_idx - sliding_window}); beyond it a Mistral model
 * sees nothing of earlier tokens except through the layers below (the receptive field grows by
 * {@code w} per layer).
 *
 * <p>Errors name {@code config.json} and the field: a missing required field ({@code hidden_size},
 * {@code intermediate_size}, {@code num_hidden_layers}, {@code num_attention_heads}, {@code
 * vocab_size}, {@code max_position_embeddings}), a value of the wrong type or range, an
 * unsupported architecture, activation ({@code hidden_act} must be {@code silu}), rope scaling
 * type or {@code partial_rotary_factor}, heads that do not divide.
 */
public final class DecoderConfig {
  /** The decoders this library runs. */
  public enum Architecture {
    /** {@code LlamaForCausalLM} (Llama 1-3, TinyLlama, SmolLM, stories260K, ...). */
    LLAMA("LlamaForCausalLM", "llama"),
    /** {@code Qwen2ForCausalLM} (Qwen1.5, Qwen2, Qwen2.5, DeepSeek-R1-Distill-Qwen): q/k/v biases. */
    QWEN2("Qwen2ForCausalLM", "qwen2"),
    /** {@code MistralForCausalLM}: optional sliding window on every layer. */
    MISTRAL("MistralForCausalLM", "mistral"),
    /** {@code Qwen3ForCausalLM}: RMSNorm of each query and key head. */
    QWEN3("Qwen3ForCausalLM", "qwen3");

    private final String className;
    private final String modelType;

    Architecture(String className, String modelType) {
      this.className = className;
      this.modelType = modelType;
    }

    /** {@return the {@code architectures} entry, e.g. {@code "Qwen2ForCausalLM"}} */
    public String className() {
      return className;
    }

    /** {@return the {@code model_type}, e.g. {@code "qwen2"}} */
    public String modelType() {
      return modelType;
    }

    static Optional<Architecture> of(String text, boolean className) {
      for (Architecture a : values()) {
        if (text.equals(className ? a.className : a.modelType)) {
          return Optional.of(a);
        }
      }
      return Optional.empty();
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  /** Most layers accepted; the deepest released decoders have about 130. */
  public static final int MAX_LAYERS = 4096;
  /** Qwen2Config's and Qwen3Config's default {@code max_window_layers}. */
  private static final int DEFAULT_MAX_WINDOW_LAYERS = 28;

  private final Path source;
  private final Architecture architecture;
  private final int hiddenSize;
  private final int intermediateSize;
  private final int layers;
  private final int heads;
  private final int keyValueHeads;
  private final int headDim;
  private final int vocabularySize;
  private final int maxPositions;
  private final double rmsNormEps;
  private final double ropeTheta;
  private final RopeScaling ropeScaling;
  private final boolean tiedEmbeddings;
  private final boolean qkvBias;
  private final boolean outputBias;
  private final boolean mlpBias;
  private final boolean qkNorm;
  private final int[] slidingWindows;
  private final OptionalInt padTokenId;
  private final OptionalInt bosTokenId;
  private final int[] eosTokenIds;
  private final String dtype;

  private DecoderConfig(Parser p) {
    source = p.file;
    JsonNode root = p.root;
    architecture = p.architecture();
    hiddenSize = p.positiveInt("hidden_size");
    intermediateSize = p.positiveInt("intermediate_size");
    layers = p.positiveInt("num_hidden_layers");
    if (layers > MAX_LAYERS) {
      // Per-layer tables are sized by it before any weight is seen.
      throw p.error("num_hidden_layers", layers + " layers; at most " + MAX_LAYERS + " are accepted");
    }
    heads = p.positiveInt("num_attention_heads");
    keyValueHeads = p.has("num_key_value_heads") ? p.positiveInt("num_key_value_heads") : heads;
    if (heads % keyValueHeads != 0) {
      throw p.error("num_key_value_heads", "num_attention_heads = " + heads + " is not a multiple of num_key_value_heads = "
          + keyValueHeads);
    }
    if (p.has("head_dim")) {
      headDim = p.positiveInt("head_dim");
    } else {
      if (hiddenSize % heads != 0) {
        throw p.error("num_attention_heads", "hidden_size = " + hiddenSize + " is not a multiple of num_attention_heads = "
            + heads + " and there is no head_dim");
      }
      headDim = hiddenSize / heads;
    }
    if (headDim % 2 != 0) {
      throw p.error(p.has("head_dim") ? "head_dim" : "num_attention_heads", "the head dimension " + headDim
          + " is odd; rotary embeddings need pairs");
    }
    if ((long) heads * headDim > Integer.MAX_VALUE / 8) {
      throw p.error("num_attention_heads", heads + " heads of " + headDim + " are too wide");
    }
    vocabularySize = p.positiveInt("vocab_size");
    maxPositions = p.positiveInt("max_position_embeddings");
    rmsNormEps = p.has("rms_norm_eps") ? p.positiveDouble("rms_norm_eps") : 1e-6;
    String act = p.has("hidden_act") ? p.text("hidden_act") : "silu";
    if (!act.equals("silu") && !act.equals("swish")) {
      throw p.error("hidden_act", "'" + act + "' is not supported; these decoders use 'silu'");
    }
    if (p.has("partial_rotary_factor") && p.positiveDouble("partial_rotary_factor") != 1.0) {
      throw p.error("partial_rotary_factor", "partial rotary embeddings are not supported (got "
          + root.get("partial_rotary_factor") + ")");
    }
    JsonNode ropeParameters = p.object("rope_parameters");
    if (ropeParameters != null && ropeParameters.has("rope_theta")) {
      ropeTheta = p.positiveDouble(ropeParameters, "rope_parameters.rope_theta");
    } else {
      ropeTheta = p.has("rope_theta") ? p.positiveDouble("rope_theta") : 10000.0;
    }
    JsonNode scaling = p.object("rope_scaling");
    if (scaling != null) {
      ropeScaling = p.ropeScaling(scaling, "rope_scaling");
    } else if (ropeParameters != null) {
      ropeScaling = p.ropeScaling(ropeParameters, "rope_parameters");
    } else {
      ropeScaling = RopeScaling.NONE;
    }
    tiedEmbeddings = p.has("tie_word_embeddings") && p.bool("tie_word_embeddings");
    boolean attentionBias = p.has("attention_bias") && p.bool("attention_bias");
    qkvBias = switch (architecture) {
      case QWEN2 -> true;
      case LLAMA, QWEN3 -> attentionBias;
      case MISTRAL -> false;
    };
    outputBias = (architecture == Architecture.LLAMA || architecture == Architecture.QWEN3) && attentionBias;
    mlpBias = architecture == Architecture.LLAMA && p.has("mlp_bias") && p.bool("mlp_bias");
    qkNorm = architecture == Architecture.QWEN3;
    slidingWindows = p.slidingWindows(architecture, layers);
    padTokenId = p.optionalId("pad_token_id");
    bosTokenId = p.optionalId("bos_token_id");
    eosTokenIds = p.ids("eos_token_id");
    dtype = p.has("torch_dtype") ? p.text("torch_dtype") : p.has("dtype") ? p.text("dtype") : "unknown";
  }

  /**
   * Reads {@code file} (a {@code config.json}).
   *
   * @param file the {@code config.json} of a Hugging Face decoder
   * @return the configuration
   * @throws InvalidInputException naming the file and the field for anything this class cannot run
   */
  public static DecoderConfig read(Path file) {
    if (Files.exists(file)) {
      InputFiles.requireRegularFile(file, "config.json");
    }
    JsonNode root;
    try {
      root = JSON.readTree(Files.readString(file));
    } catch (NoSuchFileException e) {
      throw new InvalidInputException(file, null, "no such file; a Hugging Face model folder has a config.json");
    } catch (JacksonException e) {
      throw new InvalidInputException(file, null, "not valid JSON: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new InvalidInputException(file, null, "cannot be read: " + e, e);
    }
    return parse(root, file);
  }

  /**
   * Reads a parsed {@code config.json}; {@code file} names it in messages.
   *
   * @param root the parsed JSON; must be an object
   * @param file where it came from, for messages and {@link #source()}
   * @return the configuration
   * @throws InvalidInputException naming the file and the field for anything this class cannot run
   */
  public static DecoderConfig parse(JsonNode root, Path file) {
    if (root == null || !root.isObject()) {
      throw new InvalidInputException(file, null, "is not a JSON object");
    }
    return new DecoderConfig(new Parser(root, file));
  }

  /** {@return the {@code config.json} this was read from (for messages)} */
  public Path source() {
    return source;
  }

  /** {@return the architecture} */
  public Architecture architecture() {
    return architecture;
  }

  /** {@return {@code hidden_size}: the residual stream's width {@code d}} */
  public int hiddenSize() {
    return hiddenSize;
  }

  /** {@return {@code intermediate_size}: the MLP's width} */
  public int intermediateSize() {
    return intermediateSize;
  }

  /** {@return the number of transformer blocks, {@code num_hidden_layers}} */
  public int layers() {
    return layers;
  }

  /** {@return {@code num_attention_heads}: query heads} */
  public int heads() {
    return heads;
  }

  /**
   * {@return {@code num_key_value_heads} (default: {@link #heads()}); each serves {@code heads /
   * keyValueHeads} query heads}
   */
  public int keyValueHeads() {
    return keyValueHeads;
  }

  /** {@return {@code head_dim}, or {@code hidden_size / num_attention_heads} without it; even} */
  public int headDim() {
    return headDim;
  }

  /** {@return {@code vocab_size}: the embedding's and the output head's rows} */
  public int vocabularySize() {
    return vocabularySize;
  }

  /** {@return {@code max_position_embeddings}: the longest sequence accepted} */
  public int maxPositions() {
    return maxPositions;
  }

  /** {@return {@code rms_norm_eps} (default 1e-6)} */
  public double rmsNormEps() {
    return rmsNormEps;
  }

  /** {@return {@code rope_theta} (default 10000)} */
  public double ropeTheta() {
    return ropeTheta;
  }

  /** {@return {@code rope_scaling}: none, linear or llama3} */
  public RopeScaling ropeScaling() {
    return ropeScaling;
  }

  /** {@return {@code tie_word_embeddings} (default false): the output head is the embedding matrix} */
  public boolean tiedEmbeddings() {
    return tiedEmbeddings;
  }

  /** {@return whether q, k and v projections have biases} */
  public boolean qkvBias() {
    return qkvBias;
  }

  /** {@return whether the attention output projection has a bias} */
  public boolean outputBias() {
    return outputBias;
  }

  /** {@return whether the MLP projections have biases} */
  public boolean mlpBias() {
    return mlpBias;
  }

  /** {@return whether each query and key head is RMS-normalised before RoPE (Qwen3)} */
  public boolean qkNorm() {
    return qkNorm;
  }

  /**
   * {@return the attention window of {@code layer} in tokens, or 0 for full causal attention}
   *
   * @param layer the block, in {@code [0, layers())}
   */
  public int slidingWindow(int layer) {
    return slidingWindows[layer];
  }

  /** {@return {@code pad_token_id}, or empty if unset} */
  public OptionalInt padTokenId() {
    return padTokenId;
  }

  /** {@return {@code bos_token_id}, or empty if unset} */
  public OptionalInt bosTokenId() {
    return bosTokenId;
  }

  /** {@return {@code eos_token_id} (one id or a list) as an array, empty if unset; a fresh copy} */
  public int[] eosTokenIds() {
    return eosTokenIds.clone();
  }

  /** {@return {@code torch_dtype} (or {@code dtype}) as written, or {@code "unknown"}: informational only} */
  public String dtype() {
    return dtype;
  }

  /** One line: architecture and shape. */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(architecture.className()).append(": ").append(layers).append(" blocks, width ")
        .append(hiddenSize).append(", ").append(heads).append(" query / ").append(keyValueHeads)
        .append(" key-value heads of ").append(headDim).append(", MLP ").append(intermediateSize)
        .append(", vocabulary ").append(vocabularySize).append(", rope theta ").append(ropeTheta);
    if (ropeScaling.type() != RopeScaling.Type.NONE) {
      sb.append(" scaled ").append(ropeScaling);
    }
    int windows = (int) Arrays.stream(slidingWindows).filter(w -> w > 0).count();
    if (windows > 0) {
      sb.append(", sliding window ").append(Arrays.stream(slidingWindows).max().orElse(0)).append(" on ")
          .append(windows).append(" layers");
    }
    return sb.toString();
  }

  /** The field readers, with messages that name the file and the field. */
  private static final class Parser {
    final JsonNode root;
    final Path file;

    Parser(JsonNode root, Path file) {
      this.root = root;
      this.file = file;
    }

    InvalidInputException error(String field, String problem) {
      return new InvalidInputException(file, null, "field '" + field + "': " + problem);
    }

    boolean has(String field) {
      JsonNode n = root.get(field);
      return n != null && !n.isNull();
    }

    private JsonNode required(JsonNode node, String field, String label) {
      JsonNode n = node.get(field);
      if (n == null || n.isNull()) {
        throw error(label, "is missing");
      }
      return n;
    }

    int positiveInt(String field) {
      return positiveInt(root, field, field);
    }

    int positiveInt(JsonNode node, String field, String label) {
      JsonNode n = required(node, field, label);
      if (!n.canConvertToExactIntegral() || !n.canConvertToInt() || n.asInt() < 1) {
        throw error(label, "must be a positive integer below 2^31, got " + n);
      }
      return n.asInt();
    }

    double positiveDouble(String field) {
      return positiveDouble(root, field);
    }

    double positiveDouble(JsonNode node, String label) {
      String field = label.substring(label.lastIndexOf('.') + 1);
      JsonNode n = required(node, field, label);
      if (!n.isNumber() || !(n.asDouble() > 0) || !Double.isFinite(n.asDouble())) {
        throw error(label, "must be a positive number, got " + n);
      }
      return n.asDouble();
    }

    String text(String field) {
      JsonNode n = required(root, field, field);
      if (!n.isTextual()) {
        throw error(field, "must be a string, got " + n);
      }
      return n.asText();
    }

    boolean bool(String field) {
      JsonNode n = required(root, field, field);
      if (!n.isBoolean()) {
        throw error(field, "must be true or false, got " + n);
      }
      return n.asBoolean();
    }

    JsonNode object(String field) {
      JsonNode n = root.get(field);
      if (n == null || n.isNull()) {
        return null;
      }
      if (!n.isObject()) {
        throw error(field, "must be an object or null, got " + n);
      }
      return n;
    }

    OptionalInt optionalId(String field) {
      JsonNode n = root.get(field);
      if (n == null || n.isNull()) {
        return OptionalInt.empty();
      }
      if (!n.canConvertToExactIntegral() || !n.canConvertToInt() || n.asInt() < 0) {
        throw error(field, "must be a token id (a non-negative integer), got " + n);
      }
      return OptionalInt.of(n.asInt());
    }

    int[] ids(String field) {
      JsonNode n = root.get(field);
      if (n == null || n.isNull()) {
        return new int[0];
      }
      List<Integer> out = new ArrayList<>();
      for (JsonNode e : n.isArray() ? n : List.of(n)) {
        if (!e.canConvertToExactIntegral() || !e.canConvertToInt() || e.asInt() < 0) {
          throw error(field, "must be a token id or a list of them, got " + n);
        }
        out.add(e.asInt());
      }
      return out.stream().mapToInt(Integer::intValue).toArray();
    }

    Architecture architecture() {
      JsonNode list = root.get("architectures");
      List<String> named = new ArrayList<>();
      if (list != null && !list.isNull()) {
        if (!list.isArray()) {
          throw error("architectures", "must be a list of class names, got " + list);
        }
        for (JsonNode e : list) {
          Optional<Architecture> a = Architecture.of(e.asText(), true);
          if (a.isPresent()) {
            return a.get();
          }
          named.add(e.asText());
        }
      }
      if (named.isEmpty() && has("model_type")) {
        String type = text("model_type");
        return Architecture.of(type, false).orElseThrow(() -> error("model_type", "'" + type
            + "' is not supported; supported: " + supported()));
      }
      if (named.isEmpty()) {
        throw error("architectures", "is missing (and there is no model_type)");
      }
      throw error("architectures", named + " is not supported; supported: " + supported());
    }

    private static String supported() {
      return String.join(", ", Arrays.stream(Architecture.values()).map(Architecture::className).toList());
    }

    RopeScaling ropeScaling(JsonNode node, String label) {
      JsonNode t = node.has("rope_type") ? node.get("rope_type") : node.get("type");
      String type = t == null || t.isNull() ? "default" : t.asText().toLowerCase(Locale.ROOT);
      String field = label + "." + (node.has("rope_type") ? "rope_type" : "type");
      return switch (type) {
        case "default" -> RopeScaling.NONE;
        case "linear" -> RopeScaling.linear(positiveDouble(node, label + ".factor"));
        case "llama3" -> {
          double factor = positiveDouble(node, label + ".factor");
          double low = positiveDouble(node, label + ".low_freq_factor");
          double high = positiveDouble(node, label + ".high_freq_factor");
          int original = positiveInt(node, "original_max_position_embeddings", label + ".original_max_position_embeddings");
          if (!(high > low)) {
            throw error(label + ".high_freq_factor", "must exceed low_freq_factor (" + high + " <= " + low + ")");
          }
          yield RopeScaling.llama3(factor, low, high, original);
        }
        default -> throw error(field, "'" + type + "' is not supported; supported: default (none), linear, llama3");
      };
    }

    int[] slidingWindows(Architecture architecture, int layers) {
      int[] out = new int[layers];
      if (architecture == Architecture.LLAMA) {
        return out;
      }
      Integer window = has("sliding_window") ? positiveInt("sliding_window") : null;
      if (architecture != Architecture.MISTRAL && !(has("use_sliding_window") && bool("use_sliding_window"))) {
        window = null;
      }
      JsonNode types = root.get("layer_types");
      if (types != null && !types.isNull()) {
        if (!types.isArray() || types.size() != layers) {
          throw error("layer_types", "must list one type per layer (" + layers + "), got " + types);
        }
        for (int i = 0; i < layers; i++) {
          String type = types.get(i).asText();
          if (type.equals("sliding_attention")) {
            out[i] = window == null ? 0 : window;
          } else if (!type.equals("full_attention")) {
            throw error("layer_types", "entry " + i + " is '" + type + "', not sliding_attention or full_attention");
          }
        }
        return out;
      }
      if (window == null) {
        return out;
      }
      int from = architecture == Architecture.MISTRAL ? 0
          : has("max_window_layers") ? nonNegativeInt("max_window_layers") : DEFAULT_MAX_WINDOW_LAYERS;
      for (int i = from; i < layers; i++) {
        out[i] = window;
      }
      return out;
    }

    int nonNegativeInt(String field) {
      JsonNode n = required(root, field, field);
      if (!n.canConvertToExactIntegral() || !n.canConvertToInt() || n.asInt() < 0) {
        throw error(field, "must be a non-negative integer, got " + n);
      }
      return n.asInt();
    }
  }
}
