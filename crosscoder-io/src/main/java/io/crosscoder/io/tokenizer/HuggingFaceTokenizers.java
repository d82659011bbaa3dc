package io.crosscoder.io.tokenizer;

import io.crosscoder.CrosscoderException;
import io.crosscoder.InputFiles;
import io.crosscoder.InvalidInputException;
import io.crosscoder.model.Tokenizer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Opens Hugging Face {@code tokenizer.json} files as {@link Tokenizer}s, run by the Rust
 * tokenizers library that {@code ai.djl.huggingface:tokenizers} bundles (BPE, byte-level BPE,
 * WordPiece, WordLevel and Unigram models; every normalizer, pre-tokenizer, post-processor and
 * decoder the library knows).
 *
 * <p>What the tokenizers do:
 *
 * <ul>
 *   <li>no truncation and no padding, whatever the file says (DJL would otherwise cut every text
 *       at 512 tokens without a word); chunking sequences is the harvester's job;
 *   <li>{@link Tokenizer#encode} gives the ids without the special tokens; {@link
 *       Tokenizer#prefix()} and {@link Tokenizer#suffix()} are the ones the file's post-processor
 *       puts around one sequence, found by encoding the same text with and without them ({@code
 *       [CLS]}/{@code [SEP]} for BERT, {@code <s>}/none for Llama 2, none/none for Qwen2);
 *   <li>{@link Tokenizer#token} turns the vocabulary's word-boundary marks into characters:
 *       SentencePiece's {@code "▁"} becomes a space, a byte-level entry ({@code "Ġthe"}) is turned
 *       back into its bytes and decoded as UTF-8 ({@code " the"}; a byte that is part of a cut
 *       character is shown {@code <0xNN>}), WordPiece's {@code "##"} stays; added tokens are shown
 *       as written; an id that no entry has (a gap in the ids) reads as the empty string.
 * </ul>
 *
 * <p>Only {@code tokenizer.json} is read: a BOS that a model's {@code tokenizer_config.json} asks
 * for ({@code add_bos_token}) but its post-processor does not add is not in {@link
 * Tokenizer#prefix()}.
 *
 * <p>Offline: the native library is extracted from the jar into a folder we choose (see {@link
 * #cacheFolder()}; JNA, which DJL loads to probe for CUDA, unpacks into it too, not into the home
 * folder); DJL is put in offline mode and its telemetry is turned off before its first use. These
 * are process-wide settings. Nothing is ever downloaded, and no connection is opened.
 *
 * <p>Tokenizers are thread-safe; close each to free its native memory.
 */
public final class HuggingFaceTokenizers {
  /** The largest {@code tokenizer.json} accepted; real ones are at most a few tens of MB. */
  public static final long MAX_FILE_BYTES = 256L << 20;

  private HuggingFaceTokenizers() {}

  /**
   * Opens a {@code tokenizer.json} (or the {@code tokenizer.json} in a model folder).
   *
   * @param tokenizerJson the file, or a folder that holds it
   * @return the tokenizer, which the caller closes (it frees the native tokenizer)
   * @throws InvalidInputException naming the file if it is missing, larger than {@value
   *     #MAX_FILE_BYTES} bytes, not UTF-8, not JSON, has no usable {@code model} section (missing,
   *     an unsupported type, a vocabulary that is not a map of pieces to non-negative ids), or is
   *     rejected by the tokenizers library (with its reason)
   * @throws CrosscoderException if the native library cannot be set up offline, saying what to do
   */
  public static Tokenizer open(Path tokenizerJson) {
    Path file = Files.isDirectory(tokenizerJson) ? tokenizerJson.resolve("tokenizer.json") : tokenizerJson;
    return open(file, readBytes(file), file.toString());
  }

  /**
   * Makes every check {@link #open} makes in Java, without loading the native library or handing
   * it the file: size, UTF-8, JSON, and the {@code model} section. A file that passes may still be
   * refused by the native library when opened.
   *
   * @param tokenizerJson the file, or a folder that holds it
   * @throws InvalidInputException naming the file, as {@link #open} does
   */
  public static void check(Path tokenizerJson) {
    Path file = Files.isDirectory(tokenizerJson) ? tokenizerJson.resolve("tokenizer.json") : tokenizerJson;
    validate(file, readBytes(file));
  }

  private static byte[] readBytes(Path file) {
    if (Files.exists(file)) {
      InputFiles.requireRegularFile(file, "tokenizer.json");
    }
    byte[] bytes;
    try {
      long size = Files.size(file);
      if (size > MAX_FILE_BYTES) {
        throw new InvalidInputException(file, null, size + " bytes; a tokenizer.json is at most " + MAX_FILE_BYTES);
      }
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new InvalidInputException(file, null, "no such tokenizer file", e);
    } catch (IOException e) {
      throw new InvalidInputException(file, null, "cannot read the tokenizer: " + e, e);
    }
    return bytes;
  }

  /** The Java-side checks: UTF-8 text, then {@link TokenizerJson#parse}. */
  private static TokenizerJson validate(Path file, byte[] bytes) {
    String json;
    try {
      json = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      throw new InvalidInputException(file, null, "not UTF-8 text, so not a tokenizer.json", e);
    }
    return TokenizerJson.parse(file, json);
  }

  /**
   * Opens a {@code tokenizer.json} given as bytes, for one read from a jar.
   *
   * @param file the name to give in messages and {@link Tokenizer#source()}
   */
  static Tokenizer open(Path file, byte[] bytes, String source) {
    TokenizerJson parsed = validate(file, bytes);
    DjlRuntime.prepare();
    ai.djl.huggingface.tokenizers.HuggingFaceTokenizer djl;
    try {
      djl = ai.djl.huggingface.tokenizers.HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes),
          Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "false"));
    } catch (ai.djl.engine.EngineException e) {
      throw new CrosscoderException("cannot load the Hugging Face tokenizers native library (from the jar into "
          + DjlRuntime.prepare() + "): " + e.getMessage() + (e.getCause() != null ? ": " + e.getCause() : ""), e);
    } catch (IOException | RuntimeException e) {
      throw new InvalidInputException(file, null, "the Hugging Face tokenizers library rejects it: " + e.getMessage(), e);
    }
    try {
      return new HuggingFaceTokenizer(source, parsed, djl);
    } catch (RuntimeException e) {
      djl.close();
      throw e;
    }
  }

  /**
   * The folder DJL extracts its native library into: {@code ENGINE_CACHE_DIR} if set (environment
   * or system property), else {@code ${java.io.tmpdir}/crosscoder-djl-${user.name}}. Calling this
   * applies DJL's offline settings.
   *
   * @return the folder (it may not exist yet)
   */
  public static Path cacheFolder() {
    return DjlRuntime.prepare();
  }
}
