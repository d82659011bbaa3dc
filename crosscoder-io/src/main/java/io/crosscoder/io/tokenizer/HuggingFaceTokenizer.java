package io.crosscoder.io.tokenizer;

import io.crosscoder.InvalidInputException;
import io.crosscoder.model.Tokenizer;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A Hugging Face {@code tokenizer.json} run by the Rust tokenizers library through DJL, with
 * truncation and padding off. Made by {@link HuggingFaceTokenizers#open}.
 *
 * <p>Thread-safety: {@link #encode} and {@link #decode} may run concurrently (the native
 * tokenizer is only read); {@link #close} waits for calls in progress, and calls after it throw
 * {@link IllegalStateException}.
 */
final class HuggingFaceTokenizer implements Tokenizer {
  private final String source;
  private final TokenizerJson json;
  private final ai.djl.huggingface.tokenizers.HuggingFaceTokenizer djl;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final int[] prefix;
  private final int[] suffix;
  private final String[] readable;
  private boolean closed;

  /** Takes ownership of {@code djl}; derives the special tokens the post-processor adds. */
  HuggingFaceTokenizer(String source, TokenizerJson json, ai.djl.huggingface.tokenizers.HuggingFaceTokenizer djl) {
    this.source = source;
    this.json = json;
    this.djl = djl;
    int[][] around = specialTokensAround();
    this.prefix = around[0];
    this.suffix = around[1];
    for (int id : prefix) {
      json.special.set(id);
    }
    for (int id : suffix) {
      json.special.set(id);
    }
    this.readable = new String[json.pieces.length];
    for (int id = 0; id < readable.length; id++) {
      readable[id] = readable(id);
    }
  }

  /**
   * Finds {@link #prefix} and {@link #suffix}: encodes probe texts with and without special tokens
   * and locates the plain encoding inside the other; what lies before and after it is what the
   * post-processor adds. The probes must agree, or the post-processor does something this
   * interface cannot describe (e.g. tokens that depend on the text).
   */
  private int[][] specialTokensAround() {
    int[][] found = null;
    for (String probe : new String[] {"Hello world.", "a", "0 1 2 3 4 5 6 7 8 9"}) {
      long[] plain = djl.encode(probe, false, false).getIds();
      long[] full = djl.encode(probe, true, false).getIds();
      if (plain.length == 0) {
        continue;
      }
      int at = indexOf(full, plain);
      if (at < 0) {
        throw new InvalidInputException(json.file, "post_processor",
            "changes the tokens of the text itself (\"" + probe + "\" gives " + Arrays.toString(plain)
                + " but " + Arrays.toString(full) + " with special tokens); unsupported");
      }
      int[][] around = {toInts(Arrays.copyOfRange(full, 0, at)), toInts(Arrays.copyOfRange(full, at + plain.length, full.length))};
      if (found != null && !(Arrays.equals(found[0], around[0]) && Arrays.equals(found[1], around[1]))) {
        throw new InvalidInputException(json.file, "post_processor", "adds different special tokens to different texts ("
            + Arrays.toString(found[0]) + "/" + Arrays.toString(found[1]) + " and " + Arrays.toString(around[0]) + "/"
            + Arrays.toString(around[1]) + "); unsupported");
      }
      found = around;
    }
    if (found == null) {
      throw new InvalidInputException(json.file, "model", "encodes no probe text (\"Hello world.\", \"a\", digits) to any token");
    }
    return found;
  }

  private static int indexOf(long[] haystack, long[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  private static int[] toInts(long[] ids) {
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }

  private String readable(int id) {
    String piece = json.pieces[id];
    if (piece == null) {
      return "";
    }
    if (json.added.get(id)) {
      return piece;
    }
    if (json.byteLevel) {
      return ByteLevelAlphabet.toText(piece);
    }
    return piece.replace('\u2581', ' ');
  }

  @Override
  public String source() {
    return source;
  }

  @Override
  public int vocabularySize() {
    return json.pieces.length;
  }

  @Override
  public int[] encode(String text) {
    java.util.Objects.requireNonNull(text, "text");
    lock.readLock().lock();
    try {
      checkOpen();
      return toInts(djl.encode(text, false, false).getIds());
    } finally {
      lock.readLock().unlock();
    }
  }

  @Override
  public int[] prefix() {
    return prefix.clone();
  }

  @Override
  public int[] suffix() {
    return suffix.clone();
  }

  @Override
  public boolean isSpecial(int id) {
    checkId(id);
    return json.special.get(id);
  }

  @Override
  public String decode(int[] ids) {
    long[] longs = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      checkId(ids[i]);
      longs[i] = ids[i];
    }
    lock.readLock().lock();
    try {
      checkOpen();
      return djl.decode(longs, false);
    } finally {
      lock.readLock().unlock();
    }
  }

  @Override
  public String token(int id) {
    checkId(id);
    return readable[id];
  }

  private void checkId(int id) {
    if (id < 0 || id >= json.pieces.length) {
      throw new IllegalArgumentException("token id " + id + " is outside [0, " + json.pieces.length + ") of " + source);
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("tokenizer " + source + " is closed");
    }
  }

  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (!closed) {
        closed = true;
        djl.close();
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public String toString() {
    return "tokenizer " + source + " (" + json.modelType + ", " + json.pieces.length + " ids)";
  }
}
