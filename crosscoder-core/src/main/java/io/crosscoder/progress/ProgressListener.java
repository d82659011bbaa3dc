package io.crosscoder.progress;

import java.util.Objects;
import java.util.function.Consumer;

/**
 * Receives progress of long work: the bytes of a weight diff, the steps of a crosscoder training
 * run (as {@link io.crosscoder.crosscoder.train.TrainingMetrics}, one per reported step). Called
 * from worker threads, possibly concurrently; an implementation must be thread-safe and quick. A
 * listener that throws stops the work with that exception. {@link #NONE} ignores everything.
 */
@FunctionalInterface
public interface ProgressListener {
  /** A listener that ignores progress. */
  ProgressListener NONE = event -> {};

  /**
   * Called when some work has been done, on the thread that did it.
   *
   * @param event what has been done; a subtype such as {@code TrainingMetrics} for work that
   *     measures more per step
   */
  void onProgress(ProgressEvent event);

  /**
   * A listener that hands {@code action} the events of {@code type} and ignores the others, e.g.
   * {@code ProgressListener.on(TrainingMetrics.class, metrics::add)}.
   *
   * @param <E> the event type wanted
   * @param type the class of the events wanted
   * @param action what to do with each, called as {@link #onProgress} is (from worker threads)
   * @return the filtering listener
   */
  static <E extends ProgressEvent> ProgressListener on(Class<E> type, Consumer<? super E> action) {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(action, "action");
    return e -> {
      if (type.isInstance(e)) {
        action.accept(type.cast(e));
      }
    };
  }

  /**
   * Chains two listeners.
   *
   * @param next the listener called second
   * @return a listener that passes each event to this listener, then to {@code next} (which is
   *     not called if this one throws)
   */
  default ProgressListener andThen(ProgressListener next) {
    Objects.requireNonNull(next, "next");
    return e -> {
      onProgress(e);
      next.onProgress(e);
    };
  }
}
