package io.crosscoder.model;

import io.crosscoder.text.Document;
import io.crosscoder.text.TextSource;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/** Models and tokenizers whose outputs are known in closed form, for tests of what runs them. */
public final class FakeModels {
  private FakeModels() {}

  /** Words to ids: the word's length times 10 plus its first letter's offset from 'a', plus 10; {@code [CLS]} 1, {@code [SEP]} 2. */
  public static final class WordTokenizer implements Tokenizer {
    private final String source;
    private final boolean shiftE;

    /** A tokenizer; with {@code shiftE}, words starting with 'e' get another id (to make two disagree). */
    public WordTokenizer(String source, boolean shiftE) {
      this.source = source;
      this.shiftE = shiftE;
    }

    @Override public String source() { return source; }
    @Override public int vocabularySize() { return 1000; }
    @Override public int[] encode(String text) {
      return Stream.of(text.trim().split("\\s+")).filter(w -> !w.isEmpty()).mapToInt(this::id).toArray();
    }
    /** The id of one word. */
    public int id(String w) {
      int id = 10 + Math.min(w.length(), 50) * 10 + Math.floorMod(w.charAt(0) - 'a', 10);
      return shiftE && w.charAt(0) == 'e' ? id + 500 : id;
    }
    @Override public int[] prefix() { return new int[] {1}; }
    @Override public int[] suffix() { return new int[] {2}; }
    @Override public boolean isSpecial(int id) { return id < 10; }
    @Override public String decode(int[] ids) {
      StringBuilder sb = new StringBuilder();
      for (int i : ids) {
        sb.append(sb.isEmpty() ? "" : " ").append(token(i));
      }
      return sb.toString();
    }
    @Override public String token(int id) { return id == 1 ? "[CLS]" : id == 2 ? "[SEP]" : "w" + id; }
    @Override public void close() {}
  }

  /**
   * A model whose residual stream at {@code resid_post L} for token {@code id} at position {@code t}
   * of a sequence is {@code x[j] = scale * (id + 0.5 * t + 0.01 * j + L)}, and which records the
   * batches it ran.
   */
  public static class ClosedFormModel implements LanguageModel {
    final String name;
    final int layers;
    final int width;
    final float scale;
    final Tokenizer tokenizer;
    final int maxLength;
    final List<TokenBatch> batches = new java.util.ArrayList<>();

    public ClosedFormModel(String name, int layers, int width, float scale, Tokenizer tokenizer, int maxLength) {
      this.name = name;
      this.layers = layers;
      this.width = width;
      this.scale = scale;
      this.tokenizer = tokenizer;
      this.maxLength = maxLength;
    }

    /** The closed form. */
    public static double value(float scale, int id, int position, int j, int blocksBefore) {
      return scale * (id + 0.5 * position + 0.01 * j + blocksBefore);
    }

    @Override public String name() { return name; }
    @Override public String description() { return "closed-form test model"; }
    @Override public int layers() { return layers; }
    @Override public int width() { return width; }
    @Override public int maxSequenceLength() { return maxLength; }
    @Override public int padId() { return 0; }
    @Override public Tokenizer tokenizer() { return tokenizer; }
    @Override public Map<Site, float[]> forward(TokenBatch batch, Collection<Site> sites) {
      batches.add(batch);
      Map<Site, float[]> out = new HashMap<>();
      for (Site site : sites) {
        float[] x = new float[batch.sequences() * batch.length() * width];
        for (int s = 0; s < batch.sequences(); s++) {
          for (int t = 0; t < batch.length(); t++) {
            for (int j = 0; j < width; j++) {
              x[(s * batch.length() + t) * width + j] = t < batch.lengths()[s]
                  ? (float) value(scale, batch.id(s, t), t, j, site.blocksBefore()) : Float.NaN;
            }
          }
        }
        out.put(site, x);
      }
      return out;
    }
    @Override public boolean hasLanguageModelHead() { return false; }
    @Override public float[] logitLens(float[] residual, int rows) { throw new UnsupportedOperationException(); }
    @Override public int vocabularySize() { return tokenizer.vocabularySize(); }
    @Override public void close() {}
  }

  /** A corpus of the given texts. */
  public static TextSource corpus(String... texts) {
    return new TextSource() {
      @Override public String description() { return "test corpus of " + texts.length; }
      @Override public Stream<Document> documents() {
        return IntStream.range(0, texts.length).mapToObj(i -> new Document(i, "doc" + i, texts[i]));
      }
    };
  }
}
