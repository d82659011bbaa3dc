package io.crosscoder.cuda.driver;

import io.crosscoder.CrosscoderException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * One GPU as this library uses it: the device's primary context (the one the CUDA runtime and
 * cuBLAS use too, so both see the same memory), the kernel module loaded into it, and the few
 * driver calls the kernels need: allocation, copies, launches. Everything runs on the legacy
 * default stream, so work from every thread is done in the order it was issued, and a copy to
 * the host waits for all earlier work.
 *
 * <p>Thread-safe. The context is made current on each calling thread on its first call ({@link
 * #makeCurrent()}); every public method does that itself. Driver errors become {@link
 * CrosscoderException}s naming the call, the CUDA error and the device.
 */
public final class CudaContext implements AutoCloseable {
  /** System property choosing the GPU by number (default 0). */
  public static final String DEVICE_PROPERTY = "crosscoder.cuda.device";
  /** System property: synchronise after each launch, so a failing kernel is named (slow; for debugging). */
  public static final String SYNC_PROPERTY = "crosscoder.cuda.sync";
  /** Threads per block of every launch but the per-warp-row ones, which also use 256. */
  public static final int BLOCK = 256;
  /** The most blocks an element-wise launch uses; the kernels loop over the rest (grid-stride). */
  private static final long MAX_ELEMENTWISE_BLOCKS = 65535L * 8;

  private final CudaProbe probe;
  private final CUdevice device = new CUdevice();
  private final CUcontext context = new CUcontext();
  private final CUmodule module = new CUmodule();
  private final Map<Kernel, CUfunction> functions = new EnumMap<>(Kernel.class);
  private final String moduleOrigin;
  private final boolean syncEachLaunch = Boolean.getBoolean(SYNC_PROPERTY);
  /** Device and pinned allocations not yet freed: the primary context is kept until they are. */
  private int liveAllocations;
  /** Whether the owner closed this context (allocations may still be live). */
  private boolean closed;
  /** Whether the primary context was released; nothing works after that. */
  private volatile boolean released;

  private CudaContext(CudaProbe probe, KernelModule kernels) {
    this.probe = probe;
    this.moduleOrigin = kernels.origin();
    check(JCudaDriver.cuDeviceGet(device, probe.ordinal()), "cuDeviceGet(" + probe.ordinal() + ")");
    check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
    try {
      makeCurrent();
      byte[] text = kernels.ptx().getBytes(StandardCharsets.UTF_8);
      byte[] image = Arrays.copyOf(text, text.length + 1); // the driver reads a NUL-terminated string
      check(JCudaDriver.cuModuleLoadData(module, image), "cuModuleLoadData (the kernels, " + moduleOrigin + ")");
      try {
        for (Kernel k : Kernel.values()) {
          CUfunction f = new CUfunction();
          check(JCudaDriver.cuModuleGetFunction(f, module, k.symbol()), "cuModuleGetFunction(" + k.symbol() + ")");
          functions.put(k, f);
        }
      } catch (RuntimeException e) {
        JCudaDriver.cuModuleUnload(module);
        throw e;
      }
    } catch (RuntimeException e) {
      JCudaDriver.cuDevicePrimaryCtxRelease(device);
      throw e;
    }
  }

  /**
   * Opens the GPU the probe found, with the kernels of {@code kernels}.
   *
   * @throws CrosscoderException if the probe found no usable GPU or the driver refuses the kernels
   */
  public static CudaContext open(CudaProbe probe, KernelModule kernels) {
    if (!probe.usable()) {
      throw new CrosscoderException("no usable GPU: " + probe.reason());
    }
    return new CudaContext(probe, kernels);
  }

  /** The device, e.g. {@code "NVIDIA H100 80GB HBM3 (GPU 0, sm_90, 79.1 GiB), driver for CUDA 13.0"}. */
  public String deviceDescription() {
    return probe.reason();
  }

  /** The device's short name, e.g. {@code "NVIDIA H100 80GB HBM3"}. */
  public String deviceName() {
    return probe.deviceName();
  }

  /** The device's compute capability major version (8 for sm_80). */
  public int computeCapabilityMajor() {
    return probe.major();
  }

  /** Where the kernels came from: the PTX in the jar, or NVRTC at run time. */
  public String moduleOrigin() {
    return moduleOrigin;
  }

  /**
   * Makes this context current on the calling thread. Done on every call rather than once per
   * thread: other CUDA code on the thread may have made another context current, and a virtual
   * thread may have moved to another carrier, whose current context is a different one.
   */
  public void makeCurrent() {
    if (released) {
      throw new IllegalStateException("the CUDA context of " + probe.deviceName() + " is closed");
    }
    check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
  }

  // ---------------------------------------------------------------- memory

  /**
   * {@code bytes} of device memory, zero-filled (at least 4 bytes are allocated, so that an empty
   * buffer still has an address).
   *
   * @throws CrosscoderException if the device has not that much free memory, saying how much it has
   */
  public DeviceMemory allocate(long bytes) {
    makeCurrent();
    long size = Math.max(4, (bytes + 3) & ~3L);
    DevicePointer p = DevicePointer.unallocated();
    int r = JCudaDriver.cuMemAlloc(p.base(), size);
    if (r != CUresult.CUDA_SUCCESS) {
      long[] free = new long[1];
      long[] total = new long[1];
      JCudaDriver.cuMemGetInfo(free, total);
      throw new CrosscoderException(String.format("cannot allocate %,d bytes on %s: %s (%.2f of %.2f GiB free)",
          bytes, probe.deviceName(), errorName(r), free[0] / (double) (1L << 30), total[0] / (double) (1L << 30)));
    }
    allocated();
    DeviceMemory memory = new DeviceMemory(this, p, bytes);
    try {
      check(JCudaDriver.cuMemsetD32(p.jcuda(), 0, size / 4), "cuMemsetD32");
    } catch (RuntimeException e) {
      memory.close();
      throw e;
    }
    return memory;
  }

  void free(DevicePointer p) {
    try {
      makeCurrent();
      check(JCudaDriver.cuMemFree(p.base()), "cuMemFree");
    } finally {
      freed();
    }
  }

  /** Counts an allocation, which keeps the primary context until it is freed. */
  synchronized void allocated() {
    if (released) {
      throw new IllegalStateException("the CUDA context of " + probe.deviceName() + " is closed");
    }
    liveAllocations++;
  }

  /** Counts a freed allocation; the last one after {@link #close()} releases the context. */
  synchronized void freed() {
    liveAllocations--;
    if (closed && liveAllocations == 0) {
      release();
    }
  }

  /** Sets {@code count} 32-bit words at {@code p} to {@code value}'s bits. */
  public void set32(DevicePointer p, int value, long count) {
    if (count > 0) {
      makeCurrent();
      check(JCudaDriver.cuMemsetD32(p.jcuda(), value, count), "cuMemsetD32");
    }
  }

  /** Copies {@code bytes} from host memory at {@code src} (a Java array or pinned memory). */
  public void copyToDevice(DevicePointer dst, Pointer src, long bytes) {
    if (bytes > 0) {
      makeCurrent();
      check(JCudaDriver.cuMemcpyHtoD(dst.jcuda(), src, bytes), "cuMemcpyHtoD(" + bytes + " bytes)");
    }
  }

  /** Copies {@code bytes} to host memory at {@code dst}, after all earlier work is done. */
  public void copyToHost(Pointer dst, DevicePointer src, long bytes) {
    if (bytes > 0) {
      makeCurrent();
      check(JCudaDriver.cuMemcpyDtoH(dst, src.jcuda(), bytes), "cuMemcpyDtoH(" + bytes + " bytes)");
    }
  }

  /** Copies {@code bytes} within device memory. */
  public void copyOnDevice(DevicePointer dst, DevicePointer src, long bytes) {
    if (bytes > 0) {
      makeCurrent();
      check(JCudaDriver.cuMemcpyDtoD(dst.jcuda(), src.jcuda(), bytes), "cuMemcpyDtoD(" + bytes + " bytes)");
    }
  }

  /** Page-locked host memory of {@code bytes}, for fast copies; the caller closes it. */
  public PinnedMemory pinned(long bytes) {
    makeCurrent();
    return PinnedMemory.allocate(this, bytes);
  }

  /** Waits for all work issued so far. */
  public void synchronize() {
    makeCurrent();
    check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
  }

  // ---------------------------------------------------------------- launches

  /**
   * Launches {@code kernel} on {@code grid} blocks of {@code block} threads with {@code shared}
   * bytes of dynamic shared memory. Arguments are checked against {@link Kernel#params()}.
   */
  public void launch(Kernel kernel, long grid, int block, int shared, Object... args) {
    kernel.checkArguments(args);
    if (grid < 0) {
      throw new IllegalArgumentException(kernel.symbol() + ": negative grid " + grid);
    }
    if (grid == 0) {
      return;
    }
    if (grid > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(kernel.symbol() + ": " + grid + " blocks exceed the grid limit");
    }
    makeCurrent();
    Pointer[] params = new Pointer[args.length];
    for (int i = 0; i < args.length; i++) {
      params[i] = switch (args[i]) {
        case DevicePointer p -> Pointer.to(new long[] {p.address()});
        case Long v -> Pointer.to(new long[] {v});
        case Integer v -> Pointer.to(new int[] {v});
        case Float v -> Pointer.to(new float[] {v});
        default -> throw new IllegalStateException("unchecked argument " + args[i]);
      };
    }
    check(JCudaDriver.cuLaunchKernel(functions.get(kernel), (int) grid, 1, 1, block, 1, 1, shared, null,
        Pointer.to(params), null), "cuLaunchKernel(" + kernel.symbol() + ", " + grid + " x " + block + ")");
    if (syncEachLaunch) {
      check(JCudaDriver.cuCtxSynchronize(), "kernel " + kernel.symbol());
    }
  }

  /** Launches an element-wise kernel over {@code n} elements: grid-stride, at most 524,280 blocks. */
  public void launchElementwise(Kernel kernel, long n, Object... args) {
    if (n <= 0) {
      return;
    }
    long blocks = Math.min((n + BLOCK - 1) / BLOCK, MAX_ELEMENTWISE_BLOCKS);
    launch(kernel, blocks, BLOCK, 0, args);
  }

  // ---------------------------------------------------------------- lifetime and errors

  /**
   * Unloads the kernels and releases the primary context, at once when no device or pinned
   * allocation is live, else when the last is freed (buffers may be closed after their kernels).
   * Idempotent.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (liveAllocations == 0) {
      release();
    }
  }

  private void release() {
    if (released) {
      return;
    }
    try {
      makeCurrent();
      JCudaDriver.cuCtxSynchronize();
      JCudaDriver.cuModuleUnload(module);
    } finally {
      released = true;
      JCudaDriver.cuDevicePrimaryCtxRelease(device);
    }
  }

  /**
   * Throws a {@link CrosscoderException} naming {@code call} and the error when {@code result} is
   * not {@code CUDA_SUCCESS}.
   */
  public static void check(int result, String call) {
    if (result != CUresult.CUDA_SUCCESS) {
      throw new CrosscoderException("CUDA: " + call + " failed: " + errorName(result));
    }
  }

  /** The name and description of a driver error code, e.g. {@code "CUDA_ERROR_OUT_OF_MEMORY (out of memory)"}. */
  public static String errorName(int result) {
    String name = CUresult.stringFor(result);
    try {
      String[] text = new String[1];
      if (JCudaDriver.cuGetErrorString(result, text) == CUresult.CUDA_SUCCESS && text[0] != null) {
        return name + " (" + text[0] + ")";
      }
    } catch (LinkageError e) {
      // Only the name then.
    }
    return name;
  }
}
