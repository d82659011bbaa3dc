package io.crosscoder.model;

import java.util.Collection;
import java.util.Map;

/**
 * A transformer that can be run on token batches to read its residual stream: an ONNX model
 * through ONNX Runtime ({@code io.crosscoder.io.onnx}) or a Hugging Face decoder through this
 * library's forward pass (({@code io.crosscoder.model.decoder})). The harvester of paired
 * activations ({@code PairedActivations}) runs two of them over the same batches.
 *
 * <p>Thread-safety: {@link #forward} may be called by one thread at a time. Close to free the
 * session, mappings and device memory.
 */
public interface LanguageModel extends AutoCloseable {
  /** {@return a short name for reports, e.g. {@code "bge-small-en"} or the model folder's name} */
  String name();

  /** {@return one line: architecture, blocks, width, weights' dtype, and what runs it} */
  String description();

  /** {@return the number of transformer blocks} */
  int layers();

  /** {@return the residual stream's width {@code d}} */
  int width();

  /** {@return the longest sequence the model accepts (its position embeddings or configured maximum)} */
  int maxSequenceLength();

  /** {@return the id used to pad sequences of a batch (it never reaches an output that is kept)} */
  int padId();

  /** {@return the model's tokenizer, owned by the model (closing the model closes it)} */
  Tokenizer tokenizer();

  /**
   * Runs the batch and returns, for each requested site, the residual stream at every position:
   * {@code float[sequences * length * width]}, the row of position {@code t} of sequence {@code
   * s} at {@code (s * length + t) * width}. Rows of padding positions hold unspecified values.
   *
   * @param batch right-padded sequences of token ids
   * @param sites where to read the residual stream
   * @return for each requested site, its activations {@code sequences x length x width} row-major
   * @throws io.crosscoder.InvalidInputException if a site is out of range, a sequence is longer
   *     than {@link #maxSequenceLength()}, or an id is outside the vocabulary
   */
  Map<Site, float[]> forward(TokenBatch batch, Collection<Site> sites);

  /**
   * {@return whether {@link #logitLens} works: the model has a language-model head (decoders do; BERT embedding models do not)}
   */
  boolean hasLanguageModelHead();

  /**
   * The model's next-token logits for residual-stream rows: {@code unembed(finalNorm(x))} for each
   * of {@code rows} rows of {@link #width()} in {@code residual}; {@code float[rows *
   * vocabularySize]}. Applied to {@code resid_post} of the last block, this gives the model's own
   * logits; applied elsewhere, the "logit lens".
   *
   * @param residual rows of the residual stream, {@code rows x width} row-major
   * @param rows number of rows
   * @return the logits, {@code rows x vocabulary} row-major, a fresh array
   * @throws UnsupportedOperationException if {@link #hasLanguageModelHead()} is false
   */
  float[] logitLens(float[] residual, int rows);

  /** {@return the number of logits per row of {@link #logitLens}} */
  int vocabularySize();

  /** Frees everything the model holds. Idempotent. */
  @Override
  void close();
}
