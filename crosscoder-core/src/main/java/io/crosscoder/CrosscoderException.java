package io.crosscoder;

/**
 * Root of every exception this library throws. Unchecked: callers catch it where they can act,
 * and its message always says what was being done, on which file and tensor, and what was
 * expected.
 */
public class CrosscoderException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * An exception with this message.
   *
   * @param message what was being done, on which file and tensor, and what went wrong
   */
  public CrosscoderException(String message) {
    super(message);
  }

  /**
   * An exception with this message and cause.
   *
   * @param message what was being done, on which file and tensor, and what went wrong
   * @param cause the exception that caused it
   */
  public CrosscoderException(String message, Throwable cause) {
    super(message, cause);
  }
}
