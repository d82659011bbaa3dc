package io.crosscoder.cpu;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Lets one thread run the pair pass alone while the JIT compiles its kernel, once per JVM. Until
 * C2 has compiled {@link VectorPairKernel}, every vector operation runs through the Vector API's
 * boxed Java fallback at a few MB/s, and on a machine with few cores the other pass threads only
 * take CPU time from the compiler: the compile lands later and nothing is gained meanwhile (on
 * the project's 2-core machine the kernel's C2 code arrived 175-300 ms after its C1 code with
 * one pass thread, 300-600 ms with two). So the first thread to reach a plain block range
 * becomes the <em>pilot</em>, times its blocks in groups of {@link #PROBE_ELEMENTS}, and opens
 * the gate once a group runs at compiled speed ({@link #FAST_NANOS_PER_ELEMENT} or less) or when
 * its range ends, whichever comes first; the other threads wait at the gate until it opens, or
 * for at most the cap ({@value #DEFAULT_WAIT_MILLIS} ms by default), after which they open it
 * themselves. So the gate is closed at most once per JVM, for at most one range (a pass cuts a
 * large tensor into 8 MiB ranges, and a small pair's first range ends at once); in a JVM that
 * has already compiled the kernel the pilot's first group opens it.
 *
 * <p>Only the order of work changes, never a result: each range is computed the same by any
 * thread. The wait is capped so that a machine where the kernel stays slow (a scalar path, an
 * interpreter-only JVM) is only delayed once. {@code -Dcrosscoder.cpu.warmUpWaitMillis=0} turns
 * the gate off; another value sets the cap (default {@value #DEFAULT_WAIT_MILLIS}). Thread-safe.
 */
final class WarmUp {
  /** Nanoseconds per element pair at or below which the kernel counts as compiled (400 MB/s of bf16 pairs or faster). */
  static final double FAST_NANOS_PER_ELEMENT = 10;
  /** Elements the pilot times at once: 16 blocks. */
  static final int PROBE_ELEMENTS = 16 * PairPass.BLOCK;
  static final long DEFAULT_WAIT_MILLIS = 2000;

  /** The JVM's gate: the JIT's state is per JVM. */
  static final WarmUp JVM = new WarmUp(waitMillis());

  private final long maxWaitNanos;
  private final AtomicReference<Thread> pilot = new AtomicReference<>();
  private final CountDownLatch opened = new CountDownLatch(1);
  private volatile boolean open;

  WarmUp(long maxWaitMillis) {
    this.maxWaitNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(0, maxWaitMillis));
    if (maxWaitMillis <= 0) {
      open();
    }
  }

  private static long waitMillis() {
    try {
      return Long.parseLong(System.getProperty("crosscoder.cpu.warmUpWaitMillis", Long.toString(DEFAULT_WAIT_MILLIS)).strip());
    } catch (NumberFormatException e) {
      return DEFAULT_WAIT_MILLIS;
    }
  }

  /** Whether the gate is open: every thread runs without waiting. */
  boolean isOpen() {
    return open;
  }

  /**
   * Called by a thread before it runs a plain block range. Returns at once when the gate is open
   * or the caller is (or now becomes) the pilot; otherwise waits until the gate opens, at most
   * the cap given to the constructor, and then opens it.
   *
   * @return whether the caller is the pilot and should time its blocks ({@link #report})
   */
  boolean enter() {
    if (open) {
      return false;
    }
    Thread me = Thread.currentThread();
    if (pilot.compareAndSet(null, me) || pilot.get() == me) {
      return true;
    }
    try {
      opened.await(maxWaitNanos, TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    open();
    return false;
  }

  /**
   * The pilot's timing of {@code elements} element pairs in {@code nanos}; opens the gate when that
   * is fast enough.
   *
   * @return whether the gate is now open (the pilot can stop timing)
   */
  boolean report(long nanos, long elements) {
    if (elements > 0 && nanos <= FAST_NANOS_PER_ELEMENT * elements) {
      open();
    }
    return open;
  }

  /** Opens the gate for good (the pilot calls it when its first range ends, fast or not). */
  void open() {
    open = true;
    opened.countDown();
  }
}
