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
  /** {@return where the tokenizer was read from, for messages: a file name or a bundled model's name} */
  String source();

  /** {@return the number of token ids, including added and special tokens: every id is below it} */
  int vocabularySize();

  /**
   * The ids of {@code text} without special tokens, without truncation: exactly what the model's
   * tokenizer gives for the text, minus what its post-processor adds around a sequence.
   *
   * @param text the text
   * @return the ids, a fresh array
   */
  int[] encode(String text);

  /**
   * The special tokens the post-processor puts before one sequence: {@code [CLS]} for BERT,
   * {@code <s>} for Llama, none for Qwen2.
   *
   * @return the ids, a fresh array (empty when there are none)
   */
  int[] prefix();

  /**
   * {@return the special tokens the post-processor puts after one sequence: {@code [SEP]} for BERT, usually none for decoders}
   */
  int[] suffix();

  /**
   * {@return whether {@code id} is a special token (CLS, SEP, BOS, EOS, PAD, UNK, ...)}
   *
   * @param id a token id
   */
  boolean isSpecial(int id);

  /**
   * {@return the text a run of ids decodes to, special tokens included, as the tokenizer's decoder writes it}
   *
   * @param ids token ids
   */
  String decode(int[] ids);

  /**
   * One token as a reader should see it in a table: the vocabulary entry with the tokenizer's
   * word-boundary marks turned into plain characters (e.g. {@code "▁the"} becomes {@code " the"},
   * {@code "##ing"} stays {@code "##ing"}).
   *
   * @param id a token id
   * @return the token's text as a reader should see it
   */
  String token(int id);

  /** Frees native memory. Idempotent. */
  @Override
  void close();
}
