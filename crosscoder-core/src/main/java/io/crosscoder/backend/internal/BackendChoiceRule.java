package io.crosscoder.backend.internal;

import io.crosscoder.backend.BackendChoice;

/**
 * The one rule of the builders that take a {@link BackendChoice} ({@code ModelDiffer},
 * {@code CrosscoderTraining}, {@code LineageFinder}): a backend is chosen once, so that two setters
 * cannot silently override each other.
 */
public final class BackendChoiceRule {
  private BackendChoiceRule() {}

  /**
   * Refuses a second choice.
   *
   * @param current the builder's choice so far, or null when none was made
   * @throws IllegalStateException if {@code current} is not null, naming it
   */
  public static void requireUnchosen(BackendChoice current) {
    if (current != null) {
      throw new IllegalStateException("the backend was already chosen (" + current + "); choose it once");
    }
  }
}
