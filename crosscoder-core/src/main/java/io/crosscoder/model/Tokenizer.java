package io.crosscoder.model;

/**
 * A model's tokenizer: text to token ids and back. Implementations read a Hugging Face {@code
 * tokenizer.json} ({@code io.crosscoder.io.tokenizer}); they never truncate or pad, which is the
 * harvester's job, and never download anything.
 *
 * <p>Two models can share a crosscoder only if their tokenizers agree: same {@link #prefix()},
 * {@link #suffix()} and {@link #encode} on every document of the corpus.
 *
 * <p>Thread-safety: implementations are safe for concurrent use. Close to free native memory.
 */
public interface Tokenizer extends AutoCloseable {
  /** Where the tokenizer was read from, for messages: a file name or a bundled model's name. */
  String source();

  /** The number of token ids, including added and special tokens: every id is below it. */
  int vocabularySize();

  /**
   * The ids of {@code text} without special tokens, without truncation: exactly what the model's
   * tokenizer gives for the text, minus what its post-processor adds around a sequence.
   */
  int[] encode(String text);

  /**
   * The special tokens the post-processor puts before one sequence: {@code [CLS]} for BERT,
   * {@code <s>} for Llama, none for Qwen2.
   */
  int[] prefix();

  /** The special tokens the post-processor puts after one sequence: {@code [SEP]} for BERT, usually none for decoders. */
  int[] suffix();

  /** Whether {@code id} is a special token (CLS, SEP, BOS, EOS, PAD, UNK, ...). */
  boolean isSpecial(int id);

  /** The text a run of ids decodes to, special tokens included, as the tokenizer's decoder writes it. */
  String decode(int[] ids);

  /**
   * One token as a reader should see it in a table: the vocabulary entry with the tokenizer's
   * word-boundary marks turned into plain characters (e.g. {@code "▁the"} becomes {@code " the"},
   * {@code "##ing"} stays {@code "##ing"}).
   */
  String token(int id);

  /** Frees native memory. Idempotent. */
  @Override
  void close();
}
