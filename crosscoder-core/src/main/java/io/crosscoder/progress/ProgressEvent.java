package io.crosscoder.progress;

import java.util.Objects;

/**
 * A step of long work: {@link #done()} of {@link #total()} {@link #unit()}s of {@link #task()}.
 * Plain progress (bytes of a weight diff) comes from {@link #of}; work that measures more per step
 * sends its own event type, which a listener may test for: a crosscoder training step is a {@link
 * io.crosscoder.crosscoder.train.TrainingMetrics} ({@code task() == "train"}, {@code unit() ==
 * "steps"}) carrying the step's losses, L0, explained variance and dead fraction.
 *
 * <pre>{@code
 * ProgressListener listener = e -> {
 *   if (e instanceof TrainingMetrics m && m.step() % 100 == 0) {
 *     log(m.step(), m.explainedVarianceBase());
 *   }
 * };
 * }</pre>
 *
 * <p>Implementations are immutable values.
 */
public interface ProgressEvent {
  /** {@return what is being done, e.g. {@code "diff"} or {@code "train"}} */
  String task();

  /** {@return the units done so far, in {@code [0, total]}} */
  long done();

  /** {@return the units in all} */
  long total();

  /** {@return what a unit is, e.g. {@code "bytes"} or {@code "steps"}} */
  String unit();

  /**
   * {@return the item being worked on or a short summary of the step, e.g. a tensor name; may be
   * empty, never null}
   */
  String detail();

  /** {@return the fraction done, {@code done / total} capped at 1, and 1 when {@code total <= 0}} */
  default double fraction() {
    return total() <= 0 ? 1 : Math.min(1, (double) done() / total());
  }

  /**
   * Plain progress.
   *
   * @param task what is being done, e.g. {@code "diff"}
   * @param done units done so far, in {@code [0, total]}
   * @param total units in all
   * @param unit what a unit is, e.g. {@code "bytes"} or {@code "steps"}
   * @param detail the item being worked on, e.g. a tensor name (may be empty, not null)
   * @return the event
   * @throws NullPointerException if {@code task}, {@code unit} or {@code detail} is null
   */
  static ProgressEvent of(String task, long done, long total, String unit, String detail) {
    return new Work(task, done, total, unit, detail);
  }

  /**
   * The value behind {@link #of}.
   *
   * @param task what is being done
   * @param done units done so far
   * @param total units in all
   * @param unit what a unit is
   * @param detail the item being worked on; may be empty, not null
   */
  record Work(String task, long done, long total, String unit, String detail) implements ProgressEvent {
    /** Checks that no text is null. */
    public Work {
      Objects.requireNonNull(task, "task");
      Objects.requireNonNull(unit, "unit");
      Objects.requireNonNull(detail, "detail");
    }
  }
}
