package io.crosscoder.io.text;

import io.crosscoder.InvalidInputException;
import io.crosscoder.text.Document;
import java.nio.file.Path;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/** Turns a reader of (id, text) pairs into the ordered, indexed, closeable stream a {@code TextSource} gives. */
final class DocumentStreams {
  /** The longest document accepted, in chars: a guard against a file that is one endless paragraph. */
  static final int MAX_DOCUMENT_CHARS = 64 << 20;

  private DocumentStreams() {}

  /** Opens {@code file} for reading line by line, with an error naming it if it cannot be. */
  static Utf8Lines lines(Path file) {
    try {
      return new Utf8Lines(java.nio.file.Files.newInputStream(file), file);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new InvalidInputException(file, null, "no such file", e);
    } catch (java.io.IOException e) {
      throw new InvalidInputException(file, null, "cannot open: " + e, e);
    }
  }

  /** Throws if appending {@code more} chars to a document of {@code length} makes it too long. */
  static void checkLength(Path file, String id, long length, int more) {
    if (length + more > MAX_DOCUMENT_CHARS) {
      throw new InvalidInputException(file, null, "document " + id + " is longer than " + MAX_DOCUMENT_CHARS
          + " characters; split it");
    }
  }

  /** One document before it gets its index. */
  record Raw(String id, String text) {}

  /** Reads the next document, or returns null at the end. */
  @FunctionalInterface
  interface Reader {
    Raw next();
  }

  /**
   * The documents {@code reader} gives, indexed 0, 1, 2, ...; closing the stream runs {@code
   * close}. When the reader ends before giving any document the stream throws an {@link
   * InvalidInputException} on {@code file} saying {@code empty}.
   */
  static Stream<Document> of(Reader reader, Runnable close, Path file, String empty) {
    Spliterator<Document> split = new Spliterators.AbstractSpliterator<>(Long.MAX_VALUE,
        Spliterator.ORDERED | Spliterator.NONNULL | Spliterator.IMMUTABLE) {
      private long index;
      private boolean done;

      @Override
      public boolean tryAdvance(Consumer<? super Document> action) {
        if (done) {
          return false;
        }
        Raw raw = reader.next();
        if (raw == null) {
          done = true;
          if (index == 0) {
            throw new InvalidInputException(file, null, "empty corpus: " + empty);
          }
          return false;
        }
        action.accept(new Document(index++, raw.id(), raw.text()));
        return true;
      }
    };
    return StreamSupport.stream(split, false).onClose(close);
  }
}
