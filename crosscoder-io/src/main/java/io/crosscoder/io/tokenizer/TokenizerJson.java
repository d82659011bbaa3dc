package io.crosscoder.io.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.InvalidInputException;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * What we read from a {@code tokenizer.json} ourselves, before and beside the Rust library: the
 * checks that give a clear message for a broken or unsupported model section, and the vocabulary
 * as strings (the library has no call for the text of one id) with the added tokens and which of
 * them are special.
 *
 * <p>The format is Hugging Face tokenizers' serialization: {@code model} with {@code type} one of
 * {@code BPE}, {@code WordPiece}, {@code WordLevel} ({@code vocab} an object of piece to id) or
 * {@code Unigram} ({@code vocab} an array of {@code [piece, score]}, the id being the index);
 * {@code added_tokens} an array of {@code {id, content, special, ...}}.
 */
final class TokenizerJson {
  static final Set<String> MODEL_TYPES = Set.of("BPE", "WordPiece", "WordLevel", "Unigram");

  /**
   * How sparse the ids may be: the largest id must be below {@code 2 * distinct ids + 1024}. Real
   * vocabularies are dense; the bound keeps a hostile id such as 2^31 - 1 from sizing an array.
   */
  private static final int SPARSE_SLACK = 1024;

  final Path file;
  final String modelType;
  /** {@code pieces[id]}: the vocabulary entry or added token of each id, null for an unused id. */
  final String[] pieces;
  /** Ids of added tokens marked {@code special}, and the model's unknown token. */
  final BitSet special;
  /** Whether the pre-tokenizer or decoder is {@code ByteLevel}: pieces are in the byte alphabet. */
  final boolean byteLevel;
  /** Ids of added tokens, whose text is written as is, never through the byte alphabet. */
  final BitSet added;

  private TokenizerJson(Path file, String modelType, String[] pieces, BitSet special, BitSet added, boolean byteLevel) {
    this.file = file;
    this.modelType = modelType;
    this.pieces = pieces;
    this.special = special;
    this.added = added;
    this.byteLevel = byteLevel;
  }

  /** Parses and checks {@code json}, the text of {@code file}. */
  static TokenizerJson parse(Path file, String json) {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(json);
    } catch (JsonProcessingException e) {
      throw new InvalidInputException(file, null, "not JSON: " + e.getOriginalMessage() + " at line "
          + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr(), e);
    }
    if (root == null || !root.isObject()) {
      throw new InvalidInputException(file, null, "not a tokenizer.json: the top level is "
          + (root == null ? "empty" : root.getNodeType().name().toLowerCase(java.util.Locale.ROOT)) + ", not an object");
    }
    JsonNode model = root.get("model");
    if (model == null || !model.isObject()) {
      throw new InvalidInputException(file, "model", "not a tokenizer.json: no 'model' object");
    }
    String type = modelType(file, model);
    JsonNode vocab = model.get("vocab");
    if (vocab == null) {
      throw new InvalidInputException(file, "model.vocab", "missing in the " + type + " model");
    }
    Map<Integer, String> byId = new java.util.HashMap<>();
    if (type.equals("Unigram")) {
      if (!vocab.isArray()) {
        throw new InvalidInputException(file, "model.vocab", "a Unigram vocabulary must be an array of [piece, score]");
      }
      for (int i = 0; i < vocab.size(); i++) {
        JsonNode e = vocab.get(i);
        if (!e.isArray() || e.size() != 2 || !e.get(0).isTextual() || !e.get(1).isNumber()) {
          throw new InvalidInputException(file, "model.vocab[" + i + "]", "not a [piece, score] pair: " + abbreviate(e));
        }
        byId.put(i, e.get(0).textValue());
      }
    } else {
      if (!vocab.isObject()) {
        throw new InvalidInputException(file, "model.vocab", "a " + type + " vocabulary must be an object of piece to id");
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        int id = id(file, "model.vocab['" + e.getKey() + "']", e.getValue());
        byId.putIfAbsent(id, e.getKey());
      }
    }
    if (byId.isEmpty()) {
      throw new InvalidInputException(file, "model.vocab", "empty");
    }
    BitSet special = new BitSet();
    BitSet added = new BitSet();
    JsonNode addedTokens = root.get("added_tokens");
    if (addedTokens != null && !addedTokens.isNull()) {
      if (!addedTokens.isArray()) {
        throw new InvalidInputException(file, "added_tokens", "not an array");
      }
      for (int i = 0; i < addedTokens.size(); i++) {
        JsonNode t = addedTokens.get(i);
        String where = "added_tokens[" + i + "]";
        if (!t.isObject() || t.get("content") == null || !t.get("content").isTextual()) {
          throw new InvalidInputException(file, where, "not an object with a text 'content': " + abbreviate(t));
        }
        int id = id(file, where + ".id", t.get("id"));
        // An added token with an id the model also has is the same token; its text wins for display.
        byId.put(id, t.get("content").textValue());
        added.set(id);
        if (t.path("special").asBoolean(false)) {
          special.set(id);
        }
      }
    }
    int maxId = byId.keySet().stream().mapToInt(Integer::intValue).max().orElseThrow();
    if (maxId >= 2 * byId.size() + SPARSE_SLACK) {
      throw new InvalidInputException(file, "model.vocab", "ids up to " + maxId + " for only " + byId.size()
          + " tokens; a tokenizer's ids are (nearly) consecutive");
    }
    String[] pieces = new String[maxId + 1];
    byId.forEach((id, piece) -> pieces[id] = piece);
    JsonNode unk = model.get("unk_token");
    if (unk != null && unk.isTextual()) {
      for (int id = 0; id < pieces.length; id++) {
        if (unk.textValue().equals(pieces[id])) {
          special.set(id);
          break;
        }
      }
    }
    // Unigram names its unknown token by id.
    JsonNode unkId = model.get("unk_id");
    if (unkId != null && unkId.isInt() && unkId.intValue() >= 0 && unkId.intValue() < pieces.length) {
      special.set(unkId.intValue());
    }
    boolean byteLevel = mentionsByteLevel(root.get("pre_tokenizer")) || mentionsByteLevel(root.get("decoder"));
    return new TokenizerJson(file, type, pieces, special, added, byteLevel);
  }

  /** The model's type, given or (in old files without one) inferred from its fields as the library does. */
  private static String modelType(Path file, JsonNode model) {
    JsonNode type = model.get("type");
    if (type != null && !type.isNull()) {
      if (!type.isTextual() || !MODEL_TYPES.contains(type.textValue())) {
        throw new InvalidInputException(file, "model.type", "unsupported model type " + abbreviate(type)
            + " (supported: BPE, WordPiece, WordLevel, Unigram)");
      }
      return type.textValue();
    }
    if (model.has("merges")) {
      return "BPE";
    }
    if (model.path("vocab").isArray()) {
      return "Unigram";
    }
    if (model.has("continuing_subword_prefix") || model.has("max_input_chars_per_word")) {
      return "WordPiece";
    }
    return "WordLevel";
  }

  private static int id(Path file, String where, JsonNode node) {
    if (node == null || !node.isIntegralNumber() || !node.canConvertToInt() || node.intValue() < 0) {
      throw new InvalidInputException(file, where, "the id must be a non-negative integer, got " + abbreviate(node));
    }
    return node.intValue();
  }

  private static boolean mentionsByteLevel(JsonNode component) {
    if (component == null || !component.isObject()) {
      return false;
    }
    if ("ByteLevel".equals(component.path("type").asText())) {
      return true;
    }
    for (String list : new String[] {"pretokenizers", "decoders"}) {
      for (JsonNode c : component.path(list)) {
        if (mentionsByteLevel(c)) {
          return true;
        }
      }
    }
    return false;
  }

  private static String abbreviate(JsonNode node) {
    String s = String.valueOf(node);
    return s.length() <= 60 ? s : s.substring(0, 57) + "...";
  }
}
