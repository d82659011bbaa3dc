package io.crosscoder.diff;

import io.crosscoder.CrosscoderException;
import io.crosscoder.InvalidInputException;
import io.crosscoder.align.TensorPair;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.progress.ProgressEvent;
import io.crosscoder.progress.ProgressListener;
import io.crosscoder.tensor.MappedReads;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs the fused pass over every tensor pair on a backend, across threads. Each pair is cut into
 * row ranges of about {@link #CHUNK_BYTES} bytes so that one large embedding does not leave the
 * other threads idle; chunks are queued largest pair first. Each element is read once.
 */
public final class PairScheduler {
  /** Target bytes (both sides) per unit of work. */
  public static final long CHUNK_BYTES = 8L << 20;

  private final ComputeBackend backend;
  private final int threads;
  private final ProgressListener progress;

  /**
   * @param backend where the passes run; not closed here
   * @param threads worker threads, at least 1
   * @param progress told of bytes done (task {@code "diff"})
   */
  public PairScheduler(ComputeBackend backend, int threads, ProgressListener progress) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be at least 1, got " + threads);
    }
    this.backend = backend;
    this.threads = threads;
    this.progress = progress;
  }

  /**
   * The statistics of every pair, in the order given, with row statistics for matrices when
   * {@code rowStatistics} is set.
   */
  public List<PairStatistics> run(List<TensorPair> pairs, boolean rowStatistics) {
    int n = pairs.size();
    RowStatistics[] rows = new RowStatistics[n];
    List<Chunk> chunks = new ArrayList<>();
    long total = 0;
    for (int i = 0; i < n; i++) {
      TensorPair p = pairs.get(i);
      long r = p.base().rows();
      if (rowStatistics && p.base().shape().length >= 2 && r > 1 && r <= Integer.MAX_VALUE) {
        rows[i] = new RowStatistics((int) r);
      }
      long rowBytes = Math.max(1, p.bytes() / Math.max(1, r));
      long perChunk = Math.max(1, CHUNK_BYTES / rowBytes);
      for (long from = 0; from < r; from += perChunk) {
        long to = Math.min(r, from + perChunk);
        chunks.add(new Chunk(i, from, to, rowBytes * (to - from)));
      }
      if (r == 0) {
        chunks.add(new Chunk(i, 0, 0, 0));
      }
      total += p.bytes();
    }
    // Largest pairs first, so the last chunks to run are small ones.
    chunks.sort(Comparator.comparingLong((Chunk c) -> pairs.get(c.pair).bytes()).reversed()
        .thenComparingInt(c -> c.pair).thenComparingLong(c -> c.from));

    PairStatistics[] partial = new PairStatistics[chunks.size()];
    AtomicLong done = new AtomicLong();
    long totalBytes = total;
    progress.onProgress(ProgressEvent.of("diff", 0, totalBytes, "bytes", ""));
    ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "crosscoder-diff");
      t.setDaemon(true);
      return t;
    });
    try {
      List<Future<?>> futures = new ArrayList<>(chunks.size());
      for (int c = 0; c < chunks.size(); c++) {
        int ci = c;
        Chunk chunk = chunks.get(c);
        futures.add(pool.submit(() -> {
          TensorPair p = pairs.get(chunk.pair);
          try {
            partial[ci] = backend.pairStatistics(p.base(), p.target(), chunk.from, chunk.to, rows[chunk.pair]);
          } catch (InternalError e) {
            // A backend reads the mapped data directly; a file truncated meanwhile faults here.
            if (MappedReads.isMappingFault(e)) {
              throw MappedReads.changed(shrunk(p.base(), p.target()), p.name().name(), e);
            }
            throw e;
          }
          long d = done.addAndGet(chunk.bytes);
          progress.onProgress(ProgressEvent.of("diff", Math.min(d, totalBytes), totalBytes, "bytes", p.name().name()));
        }));
      }
      for (Future<?> f : futures) {
        await(f);
      }
    } finally {
      pool.shutdownNow();
    }
    progress.onProgress(ProgressEvent.of("diff", totalBytes, totalBytes, "bytes", ""));

    PairStatistics[] merged = new PairStatistics[n];
    for (int c = 0; c < chunks.size(); c++) {
      int i = chunks.get(c).pair;
      merged[i] = merged[i] == null ? partial[c] : merged[i].merge(partial[c]);
    }
    List<PairStatistics> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add((merged[i] == null ? PairStatistics.EMPTY : merged[i]).withRows(rows[i]));
    }
    return out;
  }

  /**
   * Which side's file a fault came from, as well as can be told afterwards: the one now shorter than
   * its tensor's data (a truncated file usually is), else the target.
   */
  private static Path shrunk(TensorView base, TensorView target) {
    for (TensorView t : new TensorView[] {base, target}) {
      try {
        if (t.source() != null && Files.size(t.source()) < t.data().byteSize()) {
          return t.source();
        }
      } catch (IOException | RuntimeException e) {
        return t.source();
      }
    }
    return target.source() != null ? target.source() : base.source();
  }

  private static void await(Future<?> f) {
    try {
      f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CrosscoderException("interrupted while comparing tensors", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof CrosscoderException ce) {
        throw ce;
      }
      if (cause instanceof IllegalStateException ise && ise.getMessage() != null
          && ise.getMessage().contains("closed")) {
        throw new InvalidInputException(null, null, "a checkpoint was closed during the comparison", ise);
      }
      throw new CrosscoderException("comparing tensors failed: " + cause, cause);
    }
  }

  private record Chunk(int pair, long from, long to, long bytes) {}
}
