package io.crosscoder.cpu.gemm;

import io.crosscoder.CrosscoderException;

/**
 * Makes micro-kernels. The vector kernel's class is loaded by name, only when asked for, so that
 * nothing here links against {@code jdk.incubator.vector} on a JVM that lacks it; callers ask for
 * it only after {@code io.crosscoder.cpu.kernels.VectorSupport} said the module is readable.
 */
public final class MicroKernels {
  private MicroKernels() {}

  /** The plain-Java kernel. */
  public static MicroKernel scalar() {
    return new ScalarMicroKernel();
  }

  /**
   * The Vector API kernel for this JVM's preferred vector width: {@code 8 x 48} where vectors are
   * 512 bits (AVX-512 has 32 registers), {@code 4 x (2 x lanes)} otherwise (AVX2 has 16).
   *
   * @throws CrosscoderException if its class cannot be loaded (the module is not readable)
   */
  public static MicroKernel vector() {
    try {
      Class<?> wide = Class.forName("io.crosscoder.cpu.gemm.VectorMicroKernel8x3");
      int bits = (int) wide.getDeclaredMethod("vectorBits").invoke(null);
      Class<?> chosen = bits >= 512 ? wide : Class.forName("io.crosscoder.cpu.gemm.VectorMicroKernel4x2");
      return (MicroKernel) chosen.getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException | LinkageError e) {
      throw new CrosscoderException("the Vector API micro-kernel cannot be loaded (run with"
          + " --add-modules jdk.incubator.vector): " + e, e);
    }
  }
}
