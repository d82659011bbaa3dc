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
  /** What is being done, e.g. {@code "diff"} or {@code "train"}. */
  String task();

  /** Units done so far, in {@code [0, total]}. */
  long done();

  /** Units in all. */
  long total();

  /** What a unit is, e.g. {@code "bytes"} or {@code "steps"}. */
  String unit();

  /** The item being worked on or a short summary of the step, e.g. a tensor name (may be empty). */
  String detail();

  /** Fraction done in [0, 1]. */
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
   */
  static ProgressEvent of(String task, long done, long total, String unit, String detail) {
    return new Work(task, done, total, unit, detail);
  }

  /** The value behind {@link #of}. */
  record Work(String task, long done, long total, String unit, String detail) implements ProgressEvent {
    /** Checks that no text is null. */
    public Work {
      Objects.requireNonNull(task, "task");
      Objects.requireNonNull(unit, "unit");
      Objects.requireNonNull(detail, "detail");
    }
  }
}
