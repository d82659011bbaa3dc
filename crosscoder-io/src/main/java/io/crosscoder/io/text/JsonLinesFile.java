package io.crosscoder.io.text;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.InvalidInputException;
import io.crosscoder.text.Document;
import io.crosscoder.text.TextSource;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * JSON Lines: one JSON object per line, the document being the string in one field (by default
 * {@code text}), exactly as written. Blank lines, and objects whose text is empty or only
 * whitespace, are skipped; any other line must be an object with that field holding a string. A
 * document's id is {@code NAME:LINE}.
 */
final class JsonLinesFile implements TextSource {
  private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private final Path file;
  private final String field;

  JsonLinesFile(Path file, String field) {
    this.file = file;
    this.field = field;
  }

  @Override
  public String description() {
    return file + " (JSON Lines, text in field '" + field + "')";
  }

  @Override
  public Stream<Document> documents() {
    Utf8Lines lines = DocumentStreams.lines(file);
    String name = file.getFileName().toString();
    return DocumentStreams.of(() -> {
      for (String line = lines.next(); line != null; line = lines.next()) {
        if (line.isBlank()) {
          continue;
        }
        String text = text(line, lines.number());
        if (!text.isBlank()) {
          return new DocumentStreams.Raw(name + ":" + lines.number(), text);
        }
      }
      return null;
    }, lines::close, file, "no line holds a non-blank '" + field + "'");
  }

  private String text(String line, long number) {
    JsonNode node;
    try {
      node = JSON.readTree(line);
    } catch (JsonProcessingException e) {
      throw new InvalidInputException(file, null, "line " + number + ": not JSON (" + e.getOriginalMessage() + ")", e);
    }
    if (node == null || !node.isObject()) {
      String kind = node == null ? "nothing" : node.getNodeType().name().toLowerCase(Locale.ROOT);
      throw new InvalidInputException(file, field, "line " + number + ": a JSON " + kind
          + ", not an object with field '" + field + "'");
    }
    JsonNode value = node.get(field);
    if (value == null) {
      java.util.List<String> names = new java.util.ArrayList<>();
      node.fieldNames().forEachRemaining(names::add);
      String listed = names.isEmpty() ? "none" : String.join(", ", names.subList(0, Math.min(10, names.size())))
          + (names.size() > 10 ? ", ..." : "");
      throw new InvalidInputException(file, field, "line " + number + ": no field '" + field + "' (fields: "
          + listed + ")");
    }
    if (!value.isTextual()) {
      throw new InvalidInputException(file, field, "line " + number + ": field '" + field + "' is a "
          + value.getNodeType().name().toLowerCase(Locale.ROOT) + ", not a string");
    }
    DocumentStreams.checkLength(file, file.getFileName() + ":" + number, 0, value.textValue().length());
    return value.textValue();
  }

  @Override
  public String toString() {
    return description();
  }
}
