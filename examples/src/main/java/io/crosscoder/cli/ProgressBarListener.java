package io.crosscoder.cli;

import io.crosscoder.progress.ProgressEvent;
import io.crosscoder.progress.ProgressListener;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Shows progress events as a bar on stderr (me.tongfei:progressbar), only when stderr is a
 * terminal, so redirected output and CI logs stay clean.
 */
final class ProgressBarListener implements ProgressListener, AutoCloseable {
  private ProgressBar bar;
  private String task;

  private ProgressBarListener() {}

  /** A listener that draws a bar, or null when there is no terminal to draw it on. */
  static ProgressBarListener forTerminal() {
    java.io.Console c = System.console();
    return c != null && c.isTerminal() ? new ProgressBarListener() : null;
  }

  @Override
  public synchronized void onProgress(ProgressEvent e) {
    if (bar != null && !e.task().equals(task)) {
      // A new stage of the work (harvest, train, the spectral analysis after a diff) gets its own bar.
      bar.close();
      bar = null;
    }
    if (bar == null) {
      task = e.task();
      boolean bytes = e.unit().equals("bytes");
      bar = new ProgressBarBuilder()
          .setTaskName(e.task())
          .setInitialMax(e.total() <= 0 ? -1 : bytes ? e.total() >> 20 : e.total())
          .setUnit(bytes ? " MiB" : " " + e.unit(), 1)
          .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
          .setUpdateIntervalMillis(200)
          .showSpeed()
          .build();
    }
    bar.stepTo(e.unit().equals("bytes") ? e.done() >> 20 : e.done());
    if (!e.detail().isEmpty()) {
      // The detail is often a tensor name read from a file: escaped (PrintableText's rule) before it
      // reaches the terminal.
      String detail = io.crosscoder.text.PrintableText.escape(e.detail());
      bar.setExtraMessage(detail.length() > 40 ? "…" + detail.substring(detail.length() - 39) : detail);
    }
  }

  @Override
  public synchronized void close() {
    if (bar != null) {
      bar.close();
    }
  }
}
