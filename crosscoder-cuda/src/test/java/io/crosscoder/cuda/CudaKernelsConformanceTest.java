package io.crosscoder.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.crosscoder.backend.Availability;
import io.crosscoder.backend.Kernels;
import io.crosscoder.backend.KernelsConformanceTest;
import org.junit.jupiter.api.AfterAll;

/**
 * The {@link Kernels} conformance suite on the GPU, with the suite's tolerances: f32 products
 * within {@code (k + 3) 2^-23} of the magnitudes (cuBLAS in IEEE f32, TF32 off), exact results
 * where the suite asks for them (element-wise kernels, top-k, BatchTopK, CSR compression).
 * Skipped, with the reason, where no GPU is usable. One backend (one context) serves the whole
 * class; each test gets fresh kernels with their own cuBLAS handle.
 */
class CudaKernelsConformanceTest extends KernelsConformanceTest {
  private static CudaBackend backend;

  @Override
  protected Kernels newKernels() {
    CudaBackendProvider provider = new CudaBackendProvider();
    Availability a = provider.availability();
    assumeTrue(a.available(), () -> "cuda unavailable: " + a.reason());
    synchronized (CudaKernelsConformanceTest.class) {
      if (backend == null) {
        backend = (CudaBackend) provider.create();
      }
    }
    return backend.newKernels();
  }

  @AfterAll
  static void closeBackend() {
    if (backend != null) {
      backend.close();
      backend = null;
    }
  }
}
