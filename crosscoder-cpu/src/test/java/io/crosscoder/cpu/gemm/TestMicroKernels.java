package io.crosscoder.cpu.gemm;

import io.crosscoder.cpu.kernels.VectorSupport;
import org.junit.jupiter.api.Assumptions;

/** The micro-kernels the GEMM tests run, by the names their parameters carry. */
final class TestMicroKernels {
  private TestMicroKernels() {}

  /**
   * {@code "vector"}: the vector kernel of this machine's width, the test skipped (with the
   * probe's reason) where the Vector API is not usable; anything else: the scalar kernel.
   */
  static MicroKernel named(String kernelName) {
    if (kernelName.equals("vector")) {
      VectorSupport.Probe probe = VectorSupport.get();
      Assumptions.assumeTrue(probe.usable(), () -> "Vector API not usable: " + probe.reason());
      return MicroKernels.vector();
    }
    return MicroKernels.scalar();
  }
}
