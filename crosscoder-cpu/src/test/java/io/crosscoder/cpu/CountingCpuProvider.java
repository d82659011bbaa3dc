package io.crosscoder.cpu;

import io.crosscoder.backend.Availability;
import io.crosscoder.backend.BackendOptions;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackendProvider;
import io.crosscoder.backend.Kernels;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.tensor.TensorView;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test provider ({@code "counting-cpu"}, rank 0, so never the automatic choice) that makes CPU
 * backends and counts how many it opened and how many were closed, to see who opens and closes
 * backends how often. Registered for the tests of this module only.
 */
public final class CountingCpuProvider implements ComputeBackendProvider {
  static final AtomicInteger OPENED = new AtomicInteger();
  static final AtomicInteger CLOSED = new AtomicInteger();
  /** The options of the last backend made. */
  static volatile BackendOptions lastOptions;

  /** Called by {@link java.util.ServiceLoader}. */
  public CountingCpuProvider() {}

  @Override
  public String name() {
    return "counting-cpu";
  }

  @Override
  public int rank() {
    return 0;
  }

  @Override
  public Availability availability() {
    return Availability.available("test provider");
  }

  @Override
  public ComputeBackend create(BackendOptions options) {
    lastOptions = options;
    OPENED.incrementAndGet();
    ComputeBackend cpu = new CpuBackendProvider().create(options);
    return new ComputeBackend() {
      private boolean closed;

      @Override
      public String name() {
        return "counting-cpu";
      }

      @Override
      public String description() {
        return cpu.description();
      }

      @Override
      public PairStatistics pairStatistics(TensorView base, TensorView target, long rowFrom, long rowTo,
          RowStatistics rows) {
        return cpu.pairStatistics(base, target, rowFrom, rowTo, rows);
      }

      @Override
      public Kernels kernels() {
        return cpu.kernels();
      }

      @Override
      public synchronized void close() {
        if (!closed) {
          closed = true;
          CLOSED.incrementAndGet();
          cpu.close();
        }
      }
    };
  }
}
