package io.crosscoder.fuzz;

import io.crosscoder.InvalidInputException;

/**
 * The last refusal {@link FuzzSupport#expectValidOrRefused} let through on this thread, so that
 * {@link SeedCorpusTest} can tell an accepted seed from a refused one through the targets
 * themselves.
 */
final class Refusals {
  private static final ThreadLocal<InvalidInputException> LAST = new ThreadLocal<>();

  private Refusals() {}

  static void reset() {
    LAST.remove();
  }

  static void record(InvalidInputException e) {
    LAST.set(e);
  }

  static InvalidInputException last() {
    return LAST.get();
  }
}
