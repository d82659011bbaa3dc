package io.crosscoder.io.onnx;

import io.crosscoder.model.Tokenizer;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A tokenizer for the runner's tests, which feed ids directly: it knows only its size and its
 * special tokens ({@code [PAD]}, {@code [CLS]}, {@code [SEP]} at BERT's ids unless told
 * otherwise), and counts how often it is closed. Encoding text is not needed and throws.
 */
final class TestTokenizer implements Tokenizer {
  private final int size;
  private final Map<Integer, String> special;
  final AtomicInteger closes = new AtomicInteger();

  TestTokenizer(int size, Map<Integer, String> special) {
    this.size = size;
    this.special = Map.copyOf(special);
  }

  /** bert-base-uncased's 30522 ids with [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102. */
  static TestTokenizer bert() {
    return new TestTokenizer(30522, Map.of(0, "[PAD]", 100, "[UNK]", 101, "[CLS]", 102, "[SEP]"));
  }

  @Override
  public String source() {
    return "test tokenizer";
  }

  @Override
  public int vocabularySize() {
    return size;
  }

  @Override
  public int[] encode(String text) {
    throw new UnsupportedOperationException("the test tokenizer has no vocabulary");
  }

  @Override
  public int[] prefix() {
    return new int[] {101};
  }

  @Override
  public int[] suffix() {
    return new int[] {102};
  }

  @Override
  public boolean isSpecial(int id) {
    return special.containsKey(id);
  }

  @Override
  public String decode(int[] ids) {
    return Arrays.toString(ids);
  }

  @Override
  public String token(int id) {
    return special.getOrDefault(id, "#" + id);
  }

  @Override
  public void close() {
    closes.incrementAndGet();
  }
}
