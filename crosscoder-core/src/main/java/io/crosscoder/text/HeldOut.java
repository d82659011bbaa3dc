package io.crosscoder.text;

import java.util.Objects;
import java.util.stream.Stream;

/**
 * A corpus split by document for training and evaluation: every {@code n}-th document (those with
 * {@code index % n == n - 1}) is held out, the rest train. Documents keep their original indices,
 * so a held-out row still names the document it came from.
 */
public final class HeldOut {
  private HeldOut() {}

  /**
   * {@return the documents that train: all but every {@code n}-th}
   *
   * @param source the corpus
   * @param n every n-th document is held out, at least 2
   */
  public static TextSource training(TextSource source, int n) {
    return filter(source, n, false);
  }

  /**
   * {@return the documents held out: every {@code n}-th}
   *
   * @param source the corpus
   * @param n every n-th document is held out, at least 2
   */
  public static TextSource evaluation(TextSource source, int n) {
    return filter(source, n, true);
  }

  private static TextSource filter(TextSource source, int n, boolean held) {
    Objects.requireNonNull(source, "source");
    if (n < 2) {
      throw new IllegalArgumentException("hold out every n-th document with n >= 2, got " + n);
    }
    return new TextSource() {
      @Override
      public String description() {
        return source.description() + (held ? ", held-out documents (every " : ", training documents (all but every ")
            + ordinal(n) + ")";
      }

      @Override
      public Stream<Document> documents() {
        return source.documents().filter(d -> (d.index() % n == n - 1) == held);
      }
    };
  }

  private static String ordinal(int n) {
    int r = n % 100;
    String suffix = r >= 11 && r <= 13 ? "th" : switch (n % 10) {
      case 1 -> "st";
      case 2 -> "nd";
      case 3 -> "rd";
      default -> "th";
    };
    return n + suffix;
  }
}
