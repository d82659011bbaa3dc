package io.crosscoder.io.text;

import io.crosscoder.InvalidInputException;
import io.crosscoder.text.Document;
import io.crosscoder.text.TextSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * A folder of UTF-8 {@code .txt} files, found in it and its subfolders (not following links):
 * each file is one document, in the order of the files' paths relative to the folder (compared
 * as strings with {@code '/'} between names, so the order is the same on every system). A document
 * is the file's whole text with line ends as {@code "\n"} and leading and trailing whitespace
 * removed; blank lines inside are kept, and a file of only whitespace is skipped. Its id is the
 * relative path.
 */
final class TextFolder implements TextSource {
  private final Path folder;

  TextFolder(Path folder) {
    this.folder = folder;
  }

  @Override
  public String description() {
    return folder + " (folder of .txt files, one document each)";
  }

  @Override
  public Stream<Document> documents() {
    List<Path> files = files();
    if (files.isEmpty()) {
      throw new InvalidInputException(folder, null, "empty corpus: no .txt file in the folder or its subfolders");
    }
    Iterator<Path> next = files.iterator();
    return DocumentStreams.of(() -> {
      while (next.hasNext()) {
        Path file = next.next();
        String id = relative(file);
        String text = read(file, id).strip();
        if (!text.isEmpty()) {
          return new DocumentStreams.Raw(id, text);
        }
      }
      return null;
    }, () -> {}, folder, "every .txt file in the folder is empty or blank");
  }

  private List<Path> files() {
    try (Stream<Path> walk = Files.walk(folder)) {
      return walk.filter(p -> Files.isRegularFile(p) && isText(p)).sorted(Comparator.comparing(this::relative)).toList();
    } catch (IOException | UncheckedIOException e) {
      throw new InvalidInputException(folder, null, "cannot list the folder: " + e, e);
    }
  }

  private static boolean isText(Path file) {
    return file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".txt");
  }

  private String relative(Path file) {
    StringBuilder s = new StringBuilder();
    for (Path name : folder.relativize(file)) {
      s.append(s.isEmpty() ? "" : "/").append(name);
    }
    return s.toString();
  }

  private static String read(Path file, String id) {
    try (Utf8Lines lines = DocumentStreams.lines(file)) {
      StringBuilder text = new StringBuilder();
      for (String line = lines.next(); line != null; line = lines.next()) {
        DocumentStreams.checkLength(file, id, text.length(), line.length() + 1);
        text.append(line).append('\n');
      }
      return text.toString();
    }
  }

  @Override
  public String toString() {
    return description();
  }
}
