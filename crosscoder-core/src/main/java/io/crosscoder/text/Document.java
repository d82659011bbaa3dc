package io.crosscoder.text;

import java.util.Objects;

/**
 * One document of a corpus: the unit a model reads from its start, and the unit contexts are
 * quoted from.
 *
 * @param index the document's 0-based position in its {@link TextSource}, stable across readings
 * @param id where it came from, for reports: e.g. {@code "notes.txt"} or {@code "corpus.jsonl:17"}
 * @param text the text, never empty
 */
public record Document(long index, String id, String text) {
  /** Checks the arguments. */
  public Document {
    if (index < 0) {
      throw new IllegalArgumentException("document index must be >= 0, got " + index);
    }
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(text, "text");
    if (text.isEmpty()) {
      throw new IllegalArgumentException("document " + id + " is empty");
    }
  }
}
