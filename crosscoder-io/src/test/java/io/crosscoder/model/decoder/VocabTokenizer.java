package io.crosscoder.model.decoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.model.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A test-only {@link Tokenizer} over stories260K's {@code vocab.json} ({@code pieces[id]}, a
 * space for the word boundary, {@code <0xNN>} for raw bytes): decoding is exact; encoding is a
 * greedy longest match of pieces after a leading space, not SentencePiece's BPE, which is enough
 * to turn a test's text into valid ids. The real tokenizer is read from {@code tokenizer.json} by
 * crosscoder-io's tokenizer package.
 */
class VocabTokenizer implements Tokenizer {
  private final List<String> pieces = new ArrayList<>();
  /** Whether {@link #close()} was called (the model owns and closes its tokenizer). */
  boolean closed;

  VocabTokenizer(String resource) {
    try (InputStream in = VocabTokenizer.class.getResourceAsStream(resource)) {
      JsonNode root = new ObjectMapper().readTree(in);
      for (JsonNode p : root.get("pieces")) {
        pieces.add(p.asText());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public String source() {
    return "vocab.json (test)";
  }

  @Override
  public int vocabularySize() {
    return pieces.size();
  }

  @Override
  public int[] encode(String text) {
    String rest = " " + text;
    List<Integer> ids = new ArrayList<>();
    while (!rest.isEmpty()) {
      int best = -1;
      int bestLength = 0;
      for (int id = 3; id < pieces.size(); id++) {
        String p = pieces.get(id);
        if (!p.startsWith("<0x") && p.length() > bestLength && rest.startsWith(p)) {
          best = id;
          bestLength = p.length();
        }
      }
      if (best < 0) {
        for (byte b : rest.substring(0, 1).getBytes(StandardCharsets.UTF_8)) {
          ids.add(pieces.indexOf(String.format("<0x%02X>", b & 0xff)));
        }
        rest = rest.substring(1);
      } else {
        ids.add(best);
        rest = rest.substring(bestLength);
      }
    }
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }

  @Override
  public int[] prefix() {
    return new int[] {1};
  }

  @Override
  public int[] suffix() {
    return new int[0];
  }

  @Override
  public boolean isSpecial(int id) {
    return id < 3;
  }

  @Override
  public String decode(int[] ids) {
    StringBuilder sb = new StringBuilder();
    for (int id : ids) {
      sb.append(token(id));
    }
    return sb.toString();
  }

  @Override
  public String token(int id) {
    String p = pieces.get(id);
    if (p.startsWith("<0x") && p.endsWith(">")) {
      return new String(new byte[] {(byte) Integer.parseInt(p.substring(3, 5), 16)}, StandardCharsets.ISO_8859_1);
    }
    return p;
  }

  @Override
  public void close() {
    closed = true;
  }
}
