package io.crosscoder.cpu.kernels;

import io.crosscoder.backend.Kernels;
import io.crosscoder.backend.KernelsConformanceTest;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;

/**
 * The conformance suite on the default methods of {@link Kernels}: a proxy sends the abstract
 * methods to the CPU kernels and runs every default method's own body (host round trips for the
 * transformer kernels, an allocate-and-upload for {@code wrapReadOnly}), which is the path a
 * backend takes when it does not override them, as the cuda backend does not.
 */
class HostFallbackKernelsTest extends KernelsConformanceTest {
  @Override
  protected Kernels newKernels() {
    CpuKernels cpu = new CpuKernels(2, true);
    return (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[] {Kernels.class},
        (proxy, method, args) -> {
          if (method.isDefault()) {
            return InvocationHandler.invokeDefault(proxy, method, args);
          }
          try {
            return method.invoke(cpu, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }
}
