package io.crosscoder.cpu.gemm;

import io.crosscoder.cpu.kernels.VectorSupport;
import org.junit.jupiter.api.Assumptions;

/** The micro-kernels the GEMM tests run, by the names their parameters carry. */
final class TestMicroKernels {
  private TestMicroKernels() {}

  /**
   * {@code "vector"}: the vector kernel of this machine's width; {@code "vector4x2"}: the 4-row
   * kernel whichever the width (on an AVX-512 machine it is otherwise never chosen, so never
   * run); both skip the test (with the probe's reason) where the Vector API is not usable;
   * anything else: the scalar kernel.
   */
  static MicroKernel named(String kernelName) {
    if (kernelName.startsWith("vector")) {
      VectorSupport.Probe probe = VectorSupport.get();
      Assumptions.assumeTrue(probe.usable(), () -> "Vector API not usable: " + probe.reason());
      return kernelName.equals("vector4x2") ? new VectorMicroKernel4x2() : MicroKernels.vector();
    }
    return MicroKernels.scalar();
  }
}
