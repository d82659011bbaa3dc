package io.crosscoder.io.text;

import io.crosscoder.InvalidInputException;
import io.crosscoder.text.TextSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * Opens corpora. Every reader takes strictly UTF-8 text (a byte-order mark at the start is
 * skipped, {@code "\r\n"} line ends are read as {@code "\n"}) and fails with an {@link
 * InvalidInputException} naming the file, and the line where there is one, on a NUL byte (binary
 * content), malformed UTF-8, or a corpus without a single document. The kinds:
 *
 * <ul>
 *   <li>a {@code .txt} file: documents separated by blank lines (lines empty or of only
 *       whitespace); a document is a run of non-blank lines joined with {@code "\n"}, its id
 *       {@code NAME:LINE} (the line it starts on);
 *   <li>a folder: each {@code .txt} file in it or its subfolders is one document (blank lines do
 *       not split it), taken in the order of the relative paths, without surrounding whitespace;
 *       blank files are skipped; the id is the relative path;
 *   <li>a {@code .jsonl} or {@code .ndjson} file: one JSON object per line, the document being the
 *       string in field {@code text} (or the field given to {@link #jsonl}); blank lines and blank
 *       texts are skipped; the id is {@code NAME:LINE};
 *   <li>a bundled corpus by name ({@link BundledCorpus}), e.g. {@code europarl-en}.
 * </ul>
 *
 * <p>Sources are immutable and thread-safe; each {@code documents()} call opens the files afresh
 * and closing its stream closes them.
 */
public final class TextSources {
  private TextSources() {}

  /**
   * A corpus by its path: a folder, a {@code .txt} file, or a {@code .jsonl}/{@code .ndjson} file
   * with field {@code text}.
   *
   * @param path the corpus' file or folder
   * @return the source, which reads the files when iterated
   * @throws InvalidInputException if nothing is at {@code path}, or it is a file of another kind
   */
  public static TextSource open(Path path) {
    Objects.requireNonNull(path, "path");
    if (Files.isDirectory(path)) {
      return new TextFolder(path);
    }
    if (!Files.exists(path)) {
      throw new InvalidInputException(path, null, "no such file or folder");
    }
    String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
    if (name.endsWith(".txt")) {
      return new PlainTextFile(path);
    }
    if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) {
      return new JsonLinesFile(path, "text");
    }
    throw new InvalidInputException(path, null, "not a corpus this library reads: give a .txt file (documents"
        + " separated by blank lines), a .jsonl file (field 'text'), or a folder of .txt files");
  }

  /**
   * A JSON Lines file whose documents are in field {@code field}.
   *
   * @param file the {@code .jsonl} file, one JSON object per line
   * @param field the name of the field that holds each document's text
   * @return the source, which reads the file when iterated
   * @throws InvalidInputException if the file does not exist
   * @throws IllegalArgumentException if {@code field} is empty
   */
  public static TextSource jsonl(Path file, String field) {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(field, "field");
    if (field.isEmpty()) {
      throw new IllegalArgumentException("the JSON field holding the text must be named");
    }
    if (!Files.isRegularFile(file)) {
      throw new InvalidInputException(file, null, Files.exists(file) ? "not a file" : "no such file");
    }
    return new JsonLinesFile(file, field);
  }

  /**
   * A bundled corpus by name (case-insensitive): {@code europarl-en}.
   *
   * @param name the corpus' short name
   * @return the corpus
   * @throws InvalidInputException if there is no corpus of that name, listing the names
   */
  public static BundledCorpus bundled(String name) {
    return BundledCorpus.named(name).orElseThrow(() -> new InvalidInputException(null, null, "no bundled corpus '"
        + name + "'; the bundled corpora are: " + names()));
  }

  /**
   * A command-line argument as a corpus: the file or folder if one exists at that path, else the
   * bundled corpus of that name.
   *
   * @param argument a path, or a bundled corpus' name
   * @return the source
   * @throws InvalidInputException if it is neither
   */
  public static TextSource resolve(String argument) {
    Path path = Path.of(argument);
    if (Files.exists(path)) {
      return open(path);
    }
    return BundledCorpus.named(argument).orElseThrow(() -> new InvalidInputException(path, null,
        "no such file or folder, and no bundled corpus of that name (" + names() + ")"));
  }

  private static String names() {
    return BundledCorpus.all().stream().map(BundledCorpus::name).collect(Collectors.joining(", "));
  }
}
