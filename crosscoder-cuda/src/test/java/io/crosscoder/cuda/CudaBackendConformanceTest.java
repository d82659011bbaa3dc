package io.crosscoder.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.crosscoder.backend.Availability;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackendConformanceTest;

/**
 * The pair-statistics conformance suite on the GPU, with the suite's own tolerances (the GPU sums
 * each 4096-element segment in f64, which is within them). Skipped, with the reason, where no
 * GPU is usable.
 */
class CudaBackendConformanceTest extends ComputeBackendConformanceTest {
  @Override
  protected ComputeBackend backend() {
    CudaBackendProvider provider = new CudaBackendProvider();
    Availability a = provider.availability();
    assumeTrue(a.available(), () -> "cuda unavailable: " + a.reason());
    return provider.create();
  }
}
