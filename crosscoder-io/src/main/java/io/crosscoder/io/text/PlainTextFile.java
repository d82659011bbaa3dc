package io.crosscoder.io.text;

import io.crosscoder.text.Document;
import io.crosscoder.text.TextSource;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * A UTF-8 text file of documents separated by blank lines: a document is a maximal run of
 * non-blank lines, joined with {@code "\n"}; a blank line is an empty line or one of only
 * whitespace, and any number of them separate two documents. Its id is {@code NAME:LINE}, the file
 * name and the document's first line.
 */
final class PlainTextFile implements TextSource {
  private final Path file;

  PlainTextFile(Path file) {
    this.file = file;
  }

  @Override
  public String description() {
    return file + " (plain text, documents separated by blank lines)";
  }

  @Override
  public Stream<Document> documents() {
    Utf8Lines lines = DocumentStreams.lines(file);
    String name = file.getFileName().toString();
    return DocumentStreams.of(() -> {
      StringBuilder text = null;
      String id = null;
      for (String line = lines.next(); line != null; line = lines.next()) {
        if (line.isBlank()) {
          if (text != null) {
            break;
          }
          continue;
        }
        if (text == null) {
          id = name + ":" + lines.number();
          text = new StringBuilder();
        } else {
          text.append('\n');
        }
        DocumentStreams.checkLength(file, id, text.length(), line.length());
        text.append(line);
      }
      return text == null ? null : new DocumentStreams.Raw(id, text.toString());
    }, lines::close, file, "the file is empty or holds only blank lines");
  }

  @Override
  public String toString() {
    return description();
  }
}
