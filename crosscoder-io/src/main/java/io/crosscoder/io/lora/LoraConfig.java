package io.crosscoder.io.lora;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.crosscoder.InputFiles;
import io.crosscoder.InvalidInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The fields of a PEFT {@code adapter_config.json} that decide the update of a LoRA adapter:
 * {@code r}, {@code lora_alpha}, {@code use_rslora}, {@code rank_pattern} and {@code alpha_pattern}
 * (per-module overrides), {@code fan_in_fan_out} (the base stores {@code [in, out]}, as GPT-2's
 * Conv1D does), and for the record {@code target_modules} and {@code base_model_name_or_path}.
 * Adapters PEFT writes as {@code "peft_type": "LORA"} are read; DoRA ({@code use_dora}), which
 * rescales the merged weight's columns, and other PEFT methods are refused by name.
 *
 * <p>The scale of a module's update {@code (alpha / r) B A} is {@code alpha / r}, or {@code alpha /
 * sqrt(r)} with rsLoRA, where {@code r} and {@code alpha} come from the first {@code rank_pattern}
 * and {@code alpha_pattern} key that matches the module's name as PEFT matches them (the key is a
 * regular expression that must match the whole name or a dotted suffix of it), else from {@code r}
 * and {@code lora_alpha}.
 *
 * @param file the config file
 * @param r the default rank
 * @param alpha the default {@code lora_alpha}
 * @param rsLora whether the scale is {@code alpha / sqrt(r)}
 * @param fanInFanOut whether base weights are stored {@code [in, out]}
 * @param rankPattern per-module ranks, in file order
 * @param alphaPattern per-module alphas, in file order
 * @param targetModules the target modules as written (a list, or one regular expression)
 * @param baseModel {@code base_model_name_or_path}, or empty
 */
public record LoraConfig(Path file, int r, double alpha, boolean rsLora, boolean fanInFanOut,
    Map<String, Integer> rankPattern, Map<String, Double> alphaPattern, String targetModules, String baseModel) {
  /** The file name PEFT writes. */
  public static final String FILE_NAME = "adapter_config.json";

  private static final long MAX_BYTES = 10_000_000L;
  private static final ObjectMapper JSON = JsonMapper.builder(JsonFactory.builder()
          .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(32).build())
          .build())
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .build();

  /** Copies both pattern maps, keeping their order. */
  public LoraConfig {
    rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
    alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
  }

  /**
   * Reads and checks {@code file}.
   *
   * @param file an {@code adapter_config.json}
   * @return the config
   * @throws InvalidInputException naming the file and the field when it cannot be read, is not a
   *     LoRA config, or a field has the wrong type or range
   */
  public static LoraConfig read(Path file) {
    InputFiles.requireRegularFile(file, FILE_NAME);
    JsonNode root;
    try {
      long size = Files.size(file);
      if (size > MAX_BYTES) {
        throw new InvalidInputException(file, null, "the config is " + size + " bytes, more than " + MAX_BYTES);
      }
      root = JSON.readTree(Files.readAllBytes(file));
    } catch (JsonProcessingException e) {
      throw new InvalidInputException(file, null, "not valid JSON: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new InvalidInputException(file, null, "cannot read the config: " + e, e);
    }
    if (root == null || !root.isObject()) {
      throw new InvalidInputException(file, null, "the config must be a JSON object");
    }
    String type = text(root, "peft_type", "LORA", file);
    if (!type.equalsIgnoreCase("LORA")) {
      throw new InvalidInputException(file, "peft_type", "is " + type + "; only LoRA adapters (\"LORA\") are read");
    }
    if (bool(root, "use_dora", false, file)) {
      throw new InvalidInputException(file, "use_dora", "is true: DoRA rescales the merged weight's columns by a"
          + " magnitude vector, which this reader does not apply; only plain LoRA is read");
    }
    int r = positiveInt(root.get("r"), "r", file);
    double alpha = root.has("lora_alpha") && !root.get("lora_alpha").isNull()
        ? number(root.get("lora_alpha"), "lora_alpha", file) : r;
    Map<String, Integer> ranks = new LinkedHashMap<>();
    Map<String, Double> alphas = new LinkedHashMap<>();
    pattern(root, "rank_pattern", file).forEach((k, v) -> ranks.put(k, positiveInt(v, "rank_pattern." + k, file)));
    pattern(root, "alpha_pattern", file).forEach((k, v) -> alphas.put(k, number(v, "alpha_pattern." + k, file)));
    ranks.keySet().forEach(k -> checkKey(file, "rank_pattern", k));
    alphas.keySet().forEach(k -> checkKey(file, "alpha_pattern", k));
    JsonNode targets = root.get("target_modules");
    String targetText = targets == null || targets.isNull() ? "" : targets.isTextual() ? targets.asText() : targets.toString();
    return new LoraConfig(file, r, alpha, bool(root, "use_rslora", false, file),
        bool(root, "fan_in_fan_out", false, file), ranks, alphas, targetText,
        text(root, "base_model_name_or_path", "", file));
  }

  /**
   * {@return the rank PEFT uses for {@code module}: the first matching {@code rank_pattern}
   * entry, else {@code r}}
   *
   * @param module the module's name in the base ({@code model.layers.3.self_attn.q_proj})
   */
  public int rankOf(String module) {
    for (var e : rankPattern.entrySet()) {
      if (matches("rank_pattern", e.getKey(), module)) {
        return e.getValue();
      }
    }
    return r;
  }

  /**
   * {@return the alpha PEFT uses for {@code module}: the first matching {@code alpha_pattern}
   * entry, else {@code lora_alpha}}
   *
   * @param module the module's name in the base
   */
  public double alphaOf(String module) {
    for (var e : alphaPattern.entrySet()) {
      if (matches("alpha_pattern", e.getKey(), module)) {
        return e.getValue();
      }
    }
    return alpha;
  }

  /**
   * {@return the scale of {@code module}'s update: {@code alpha / r}, or {@code alpha / sqrt(r)}
   * with rsLoRA, with the module's own {@code r} and {@code alpha}}
   *
   * @param module the module's name in the base
   */
  public double scaleOf(String module) {
    int rank = rankOf(module);
    double a = alphaOf(module);
    return rsLora ? a / Math.sqrt(rank) : a / rank;
  }

  /**
   * PEFT's match of a pattern key against a module name. A key of name characters only (the usual
   * case: a module name or a dotted suffix of one) is compared as text; any other key is a regular
   * expression, compiled when the config was read, and matched under a budget of {@value
   * #MATCH_BUDGET} character reads, so that a key with catastrophic backtracking such as {@code
   * (a|aa)*b} is refused instead of hanging.
   */
  private boolean matches(String field, String key, String module) {
    if (isPlainName(key)) {
      return module.equals(key) || module.endsWith("." + key);
    }
    try {
      return Pattern.compile("(.*\\.)?(" + key + ")$").matcher(new BudgetedChars(module)).matches();
    } catch (BudgetedChars.Exhausted e) {
      throw new InvalidInputException(file, field + "." + key, "takes more than " + MATCH_BUDGET
          + " steps to match module " + module + "; a pattern key must not backtrack catastrophically");
    }
  }

  /** Most character reads one pattern match may make. */
  static final int MATCH_BUDGET = 1_000_000;

  /** Longest pattern key accepted, in chars. */
  static final int MAX_KEY_LENGTH = 1024;

  private static boolean isPlainName(String key) {
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      if (!(Character.isLetterOrDigit(c) || c == '_' || c == '.' || c == '-')) {
        return false;
      }
    }
    return true;
  }

  /** A pattern key must be short and, unless a plain name, a valid regular expression. */
  private static void checkKey(Path file, String field, String key) {
    if (key.length() > MAX_KEY_LENGTH) {
      throw new InvalidInputException(file, field, "has a key of " + key.length() + " characters; at most "
          + MAX_KEY_LENGTH + " are accepted");
    }
    if (!isPlainName(key)) {
      try {
        Pattern.compile("(.*\\.)?(" + key + ")$");
      } catch (PatternSyntaxException e) {
        throw new InvalidInputException(file, field + "." + key, "is not a valid regular expression: "
            + e.getDescription());
      }
    }
  }

  /** A module name that counts the reads a regular expression makes of it and stops it past the budget. */
  private static final class BudgetedChars implements CharSequence {
    private final String s;
    private final int[] reads;

    BudgetedChars(String s) {
      this(s, new int[1]);
    }

    private BudgetedChars(String s, int[] reads) {
      this.s = s;
      this.reads = reads;
    }

    @Override
    public char charAt(int index) {
      if (++reads[0] > MATCH_BUDGET) {
        throw new Exhausted();
      }
      return s.charAt(index);
    }

    @Override
    public int length() {
      return s.length();
    }

    @Override
    public CharSequence subSequence(int start, int end) {
      return new BudgetedChars(s.substring(start, end), reads);
    }

    @Override
    public String toString() {
      return s;
    }

    static final class Exhausted extends RuntimeException {
      private static final long serialVersionUID = 1L;

      Exhausted() {
        super(null, null, false, false);
      }
    }
  }

  private static Map<String, JsonNode> pattern(JsonNode root, String field, Path file) {
    JsonNode n = root.get(field);
    Map<String, JsonNode> out = new LinkedHashMap<>();
    if (n == null || n.isNull()) {
      return out;
    }
    if (!n.isObject()) {
      throw new InvalidInputException(file, field, "must be an object {module pattern: value}, found " + n.getNodeType());
    }
    for (var e : n.properties()) {
      out.put(e.getKey(), e.getValue());
    }
    return out;
  }

  private static int positiveInt(JsonNode n, String field, Path file) {
    if (n == null || !n.canConvertToInt() || !n.isIntegralNumber() || n.asInt() < 1) {
      throw new InvalidInputException(file, field, (n == null ? "is missing" : "is " + n)
          + "; the LoRA rank must be a positive integer");
    }
    return n.asInt();
  }

  private static double number(JsonNode n, String field, Path file) {
    if (n == null || !n.isNumber() || !Double.isFinite(n.asDouble())) {
      throw new InvalidInputException(file, field, (n == null ? "is missing" : "is " + n) + "; expected a number");
    }
    return n.asDouble();
  }

  private static boolean bool(JsonNode root, String field, boolean absent, Path file) {
    JsonNode n = root.get(field);
    if (n == null || n.isNull()) {
      return absent;
    }
    if (!n.isBoolean()) {
      throw new InvalidInputException(file, field, "is " + n + "; expected true or false");
    }
    return n.asBoolean();
  }

  private static String text(JsonNode root, String field, String absent, Path file) {
    JsonNode n = root.get(field);
    if (n == null || n.isNull()) {
      return absent;
    }
    if (!n.isTextual()) {
      throw new InvalidInputException(file, field, "is " + n + "; expected a string");
    }
    return n.asText();
  }
}
