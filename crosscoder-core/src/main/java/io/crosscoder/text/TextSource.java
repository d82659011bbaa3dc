package io.crosscoder.text;

import java.util.stream.Stream;

/**
 * A corpus: documents read in a fixed order, as often as asked. The harvesting of activations
 * reads it front to back; a resumed harvest reads it again and skips what is done, so every
 * reading must give the same documents in the same order.
 *
 * <p>Implementations live in {@code io.crosscoder.io.text}: a plain text file, a folder of {@code
 * .txt} files, JSON Lines with a text field, and the bundled English corpus.
 */
public interface TextSource {
  /** {@return what the corpus is, for reports: e.g. {@code "europarl-en (1,270 documents, bundled)"}} */
  String description();

  /**
   * The documents, in order, with indices 0, 1, 2, ... The caller closes the stream, which closes
   * any file it opened.
   *
   * @return the documents, in a fixed order; the caller closes the stream
   * @throws io.crosscoder.InvalidInputException if the corpus is empty, not UTF-8 text, or
   *     otherwise unreadable (naming the file, and the line where there is one); may be thrown
   *     while the stream is consumed
   */
  Stream<Document> documents();
}
