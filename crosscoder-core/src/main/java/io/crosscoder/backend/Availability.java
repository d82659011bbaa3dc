package io.crosscoder.backend;

import java.util.Objects;

/**
 * Whether a backend can work on this machine, and a reason a user can act on when not (for
 * example {@code "no CUDA driver: libcuda.so.1 not found"}), or what it found when it can.
 *
 * @param available whether the backend can be opened here
 * @param reason why not, when unavailable; what was found (device, library), when available
 */
public record Availability(boolean available, String reason) {
  /**
   * Checks the reason.
   *
   * @throws NullPointerException if {@code reason} is null
   */
  public Availability {
    Objects.requireNonNull(reason, "reason");
  }

  /**
   * A backend that can work here.
   *
   * @param what what was found, for logs (a device's name, a library's version)
   * @return the availability
   */
  public static Availability available(String what) {
    return new Availability(true, what);
  }

  /**
   * A backend that cannot work here.
   *
   * @param why the reason, phrased so that a user can act on it
   * @return the availability
   */
  public static Availability unavailable(String why) {
    return new Availability(false, why);
  }
}
