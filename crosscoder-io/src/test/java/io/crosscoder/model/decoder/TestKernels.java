package io.crosscoder.model.decoder;

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
 * overrides none of them, such as cuda today).
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
  }
}
