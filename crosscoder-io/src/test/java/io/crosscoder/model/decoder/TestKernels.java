package io.crosscoder.model.decoder;

import io.crosscoder.backend.Availability;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackendProvider;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.backend.Kernels;
import io.crosscoder.cpu.kernels.CpuKernels;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.function.Supplier;

/**
 * The kernels the decoder tests run on: the CPU with the Vector API, the CPU's plain-Java
 * kernels, and the {@link Kernels} default methods over the CPU's abstract ones (host round trips
 * for the transformer kernels and an upload for {@code wrapReadOnly}: the path of a backend that
 * overrides none of them), and the compute backend named by {@code -Dcrosscoder.test.backend=NAME}
 * (for example {@code cuda} on a GPU machine, with the backend's jar on the class path; skipped when
 * the property is unset or the backend is unavailable).
 */
enum TestKernels implements Supplier<Kernels> {
  VECTOR {
    @Override
    public Kernels get() {
      return new CpuKernels(2, true);
    }
  },
  SCALAR {
    @Override
    public Kernels get() {
      return new CpuKernels(3, false);
    }
  },
  HOST_DEFAULTS {
    @Override
    public Kernels get() {
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
  },
  NAMED_BACKEND {
    @Override
    public Kernels get() {
      String name = System.getProperty("crosscoder.test.backend");
      org.junit.jupiter.api.Assumptions.assumeTrue(name != null && !name.isBlank(),
          "-Dcrosscoder.test.backend=NAME is not set");
      ComputeBackendProvider provider = ComputeBackends.select(name);
      Availability a = provider.availability();
      org.junit.jupiter.api.Assumptions.assumeTrue(a.available(), () -> name + " unavailable: " + a.reason());
      ComputeBackend backend = provider.create();
      Kernels kernels = backend.kernels();
      // The backend owns its kernels: closing the test's handle closes the backend.
      return (Kernels) Proxy.newProxyInstance(Kernels.class.getClassLoader(), new Class<?>[] {Kernels.class},
          (proxy, method, args) -> {
            if (method.getName().equals("close") && method.getParameterCount() == 0) {
              backend.close();
              return null;
            }
            try {
              return method.invoke(kernels, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
    }
  }
}
