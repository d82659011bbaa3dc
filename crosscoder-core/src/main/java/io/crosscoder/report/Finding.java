package io.crosscoder.report;

/**
 * One observation of the report in plain words, with the numbers and thresholds it rests on.
 *
 * @param severity {@link Severity#WARNING} for problems with the input, else {@link Severity#INFO}
 * @param text the sentence
 */
public record Finding(Severity severity, String text) {
  /** How much attention a finding needs. */
  public enum Severity {
    /** An observation about the change. */
    INFO,
    /** A problem with the input (NaNs, tensors that could not be compared, ...). */
    WARNING
  }

  /**
   * An observation.
   *
   * @param text the sentence
   * @return the finding, of severity {@link Severity#INFO}
   */
  public static Finding info(String text) {
    return new Finding(Severity.INFO, text);
  }

  /**
   * A problem with the input.
   *
   * @param text the sentence
   * @return the finding, of severity {@link Severity#WARNING}
   */
  public static Finding warning(String text) {
    return new Finding(Severity.WARNING, text);
  }
}
