package io.crosscoder.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.metric.PairStatistics;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The gate that lets one pass thread run alone while the kernel compiles ({@link WarmUp}): who is
 * the pilot, what opens the gate, and that a waiting thread is let go by the pilot's fast report,
 * by the end of the pilot's range, or by the cap. No test asserts a time: waiting is observed as
 * the thread's state, and the cap is set far below or far above anything the test waits for.
 */
class WarmUpTest {
  /** Starts a thread that enters {@code gate} and records whether it came back as the pilot. */
  private static Thread enterOnThread(WarmUp gate, AtomicReference<Boolean> result) {
    Thread t = new Thread(() -> result.set(gate.enter()), "waiter");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** Waits until {@code t} is parked in a timed wait (at the gate), or has ended. */
  private static void awaitParked(Thread t) throws InterruptedException {
    while (t.isAlive() && t.getState() != Thread.State.TIMED_WAITING) {
      Thread.sleep(1);
    }
  }

  @Test
  void theFirstThreadIsThePilotAndStaysItUntilTheGateOpens() {
    WarmUp gate = new WarmUp(60_000);
    assertThat(gate.isOpen()).isFalse();
    assertThat(gate.enter()).isTrue();
    assertThat(gate.enter()).as("the same thread, next range").isTrue();
    gate.open();
    assertThat(gate.isOpen()).isTrue();
    assertThat(gate.enter()).as("an open gate has no pilot").isFalse();
  }

  @Test
  void aReportOpensTheGateOnlyAtCompiledSpeed() {
    WarmUp gate = new WarmUp(60_000);
    gate.enter();
    long elements = WarmUp.PROBE_ELEMENTS;
    // Just slower than the threshold, as the Vector API's boxed fallback is (by far).
    long slow = (long) Math.ceil(WarmUp.FAST_NANOS_PER_ELEMENT * elements) + 1;
    assertThat(gate.report(slow, elements)).isFalse();
    assertThat(gate.report(1_000L * elements, elements)).isFalse();
    assertThat(gate.report(0, 0)).as("nothing timed").isFalse();
    assertThat(gate.isOpen()).isFalse();
    long fast = (long) Math.floor(WarmUp.FAST_NANOS_PER_ELEMENT * elements);
    assertThat(gate.report(fast, elements)).isTrue();
    assertThat(gate.isOpen()).isTrue();
  }

  /** A gate whose pilot is this thread, and a second thread parked at it (its result in {@code waiter}). */
  private static Thread parkedWaiter(WarmUp gate, AtomicReference<Boolean> waiter) throws InterruptedException {
    assertThat(gate.enter()).as("this thread is the pilot").isTrue();
    Thread t = enterOnThread(gate, waiter);
    awaitParked(t);
    assertThat(t.isAlive()).as("the second thread waits at the closed gate").isTrue();
    assertThat(waiter.get()).isNull();
    return t;
  }

  @Test
  void aWaiterWaitsForThePilotsFastReport() throws InterruptedException {
    WarmUp gate = new WarmUp(60_000);
    AtomicReference<Boolean> waiter = new AtomicReference<>();
    Thread t = parkedWaiter(gate, waiter);
    gate.report(1, WarmUp.PROBE_ELEMENTS);
    t.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(t.isAlive()).isFalse();
    assertThat(waiter.get()).as("let go, not made pilot").isFalse();
  }

  @Test
  void aWaiterIsLetGoWhenThePilotsRangeEnds() throws InterruptedException {
    WarmUp gate = new WarmUp(60_000);
    AtomicReference<Boolean> waiter = new AtomicReference<>();
    Thread t = parkedWaiter(gate, waiter);
    gate.open();
    t.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(t.isAlive()).isFalse();
    assertThat(waiter.get()).isFalse();
    assertThat(gate.isOpen()).isTrue();
  }

  @Test
  void aWaiterGivesUpAfterTheCapAndOpensTheGate() throws InterruptedException {
    WarmUp gate = new WarmUp(1);
    gate.enter();
    AtomicReference<Boolean> waiter = new AtomicReference<>();
    Thread t = enterOnThread(gate, waiter);
    t.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(t.isAlive()).isFalse();
    assertThat(waiter.get()).isFalse();
    assertThat(gate.isOpen()).as("the pilot never reported, so the waiter opened it").isTrue();
  }

  @Test
  void aCapOfZeroTurnsTheGateOff() {
    WarmUp gate = new WarmUp(0);
    assertThat(gate.isOpen()).isTrue();
    assertThat(gate.enter()).isFalse();
  }

  @Test
  void aPassOpensTheJvmsGateAndComputesTheSameSums() {
    // Whichever thread runs a plain range first is the JVM's pilot; when its range ends the gate is
    // open, whatever speed it ran at.
    float[] x = new float[3 * PairPass.BLOCK + 5];
    double squares = 0;
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) Math.sin(i);
      squares += (double) x[i] * x[i];
    }
    TensorView base = TensorView.of("w", DType.F32, new long[] {x.length}, MemorySegment.ofArray(x), null);
    TensorView target = TensorView.of("w", DType.F32, new long[] {x.length}, MemorySegment.ofArray(x.clone()), null);
    PairStatistics stats = PairPass.run(new ScalarPairKernel(16, "test"), new PairPass.Scratch(16), base, target, 0, 1, null);
    assertThat(WarmUp.JVM.isOpen()).isTrue();
    assertThat(stats.count()).isEqualTo(x.length);
    assertThat(stats.dot()).isCloseTo(squares, org.assertj.core.data.Offset.offset(1e-6 * squares));
    assertThat(stats.diffSquares()).isZero();
  }
}
