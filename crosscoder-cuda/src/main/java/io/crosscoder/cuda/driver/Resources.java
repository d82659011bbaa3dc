package io.crosscoder.cuda.driver;

/** Closing several native resources so that one failure does not leak the others. */
public final class Resources {
  private Resources() {}

  /**
   * Closes every non-null resource, in order, even when some fail.
   *
   * @return the first failure as an unchecked exception, with the later ones suppressed in it,
   *     or null when all closed
   */
  public static RuntimeException closeAll(AutoCloseable... resources) {
    RuntimeException failure = null;
    for (AutoCloseable c : resources) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        if (failure == null) {
          failure = e instanceof RuntimeException r ? r : new IllegalStateException("cannot close " + c, e);
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    return failure;
  }
}
