package io.crosscoder.cuda.driver;

import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR;

import io.crosscoder.cuda.nativelib.NativeLibrary;
import java.nio.charset.StandardCharsets;
import java.util.List;
import jcuda.driver.CUdevice;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * What the CUDA driver says about this machine, asked without making a context: whether the
 * dynamic loader finds {@code libcuda.so.1} (checked first, without JCuda), whether JCuda's
 * driver binding loads (it links {@code libcuda.so.1}, which only an NVIDIA driver installs),
 * whether {@code cuInit} succeeds, and the chosen device's name, compute capability and memory.
 * Never throws: every failure becomes a {@link #reason()} a user can act on.
 *
 * @param usable whether a device can be used
 * @param reason why not, or the device in one line when usable
 * @param ordinal the device number asked for
 * @param deviceName the device's name, or empty
 * @param major compute capability major (8 for sm_80)
 * @param minor compute capability minor
 * @param totalMemory device memory in bytes
 * @param driverVersion the driver's CUDA version as {@code 1000 * major + 10 * minor}
 */
public record CudaProbe(boolean usable, String reason, int ordinal, String deviceName, int major, int minor,
    long totalMemory, int driverVersion) {
  /** The CUDA driver's library, which only an NVIDIA driver installs. */
  public static final String DRIVER_LIBRARY = "libcuda.so.1";

  /**
   * Asks the dynamic loader for {@value #DRIVER_LIBRARY}, the first step of {@link #run}: where the
   * search's library is empty there is no NVIDIA driver. Its reason is worded only when asked.
   */
  public static NativeLibrary.Search findDriver() {
    return NativeLibrary.find(DRIVER_LIBRARY, List.of());
  }

  /** Asks the driver about device {@code ordinal}. */
  public static CudaProbe run(int ordinal) {
    // Ask the dynamic loader for the driver library first: where there is none (most machines),
    // this answers in microseconds, while loading JCuda's driver binding unpacks its JNI library
    // into the temporary folder and costs about 0.5 s of a CLI run. Where it loads, JCuda's binding
    // (which links the same soname through the same loader) finds it too.
    NativeLibrary.Search driver = findDriver();
    if (driver.library().isEmpty()) {
      return failed(ordinal, "no CUDA driver: " + driver.reason());
    }
    try {
      int[] version = new int[1];
      // The first use of JCudaDriver loads its JNI library, which needs libcuda.so.1.
      int r = JCudaDriver.cuDriverGetVersion(version);
      if (r != CUresult.CUDA_SUCCESS) {
        return failed(ordinal, "the CUDA driver does not answer: cuDriverGetVersion gives " + CudaContext.errorName(r));
      }
      r = JCudaDriver.cuInit(0);
      if (r != CUresult.CUDA_SUCCESS) {
        return failed(ordinal, "no usable GPU: cuInit gives " + CudaContext.errorName(r)
            + " (driver for CUDA " + versionString(version[0]) + ")");
      }
      int[] count = new int[1];
      r = JCudaDriver.cuDeviceGetCount(count);
      if (r != CUresult.CUDA_SUCCESS || count[0] == 0) {
        return failed(ordinal, "no GPU: the CUDA driver " + versionString(version[0]) + " sees no device");
      }
      if (ordinal < 0 || ordinal >= count[0]) {
        return failed(ordinal, "no GPU number " + ordinal + ": the driver sees " + count[0]
            + " (numbered from 0; set -D" + CudaContext.DEVICE_PROPERTY + ")");
      }
      CUdevice device = new CUdevice();
      CudaContext.check(JCudaDriver.cuDeviceGet(device, ordinal), "cuDeviceGet");
      byte[] name = new byte[256];
      CudaContext.check(JCudaDriver.cuDeviceGetName(name, name.length, device), "cuDeviceGetName");
      int[] major = new int[1];
      int[] minor = new int[1];
      CudaContext.check(JCudaDriver.cuDeviceGetAttribute(major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device), "cuDeviceGetAttribute");
      CudaContext.check(JCudaDriver.cuDeviceGetAttribute(minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device), "cuDeviceGetAttribute");
      long[] memory = new long[1];
      CudaContext.check(JCudaDriver.cuDeviceTotalMem(memory, device), "cuDeviceTotalMem");
      String deviceName = cString(name);
      String line = String.format("%s (GPU %d, sm_%d%d, %.1f GiB), driver for CUDA %s", deviceName, ordinal,
          major[0], minor[0], memory[0] / (double) (1L << 30), versionString(version[0]));
      return new CudaProbe(true, line, ordinal, deviceName, major[0], minor[0], memory[0], version[0]);
    } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
      return failed(ordinal, "no CUDA driver: JCuda's driver binding cannot load (" + firstLine(e) + ")");
    } catch (RuntimeException | LinkageError e) {
      return failed(ordinal, "the CUDA driver failed: " + firstLine(e));
    }
  }

  private static CudaProbe failed(int ordinal, String why) {
    return new CudaProbe(false, why, ordinal, "", 0, 0, 0, 0);
  }

  /** {@code 13000} as {@code "13.0"}. */
  static String versionString(int v) {
    return v / 1000 + "." + v % 1000 / 10;
  }

  private static String cString(byte[] bytes) {
    int n = 0;
    while (n < bytes.length && bytes[n] != 0) {
      n++;
    }
    return new String(bytes, 0, n, StandardCharsets.UTF_8).trim();
  }

  /**
   * The useful part of a loader error: JCuda's messages run over several lines and repeat the
   * paths it tried; the line naming the missing library is the one a user needs.
   */
  static String firstLine(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && (t.getMessage() == null || t instanceof ExceptionInInitializerError)) {
      t = t.getCause();
    }
    String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    for (String line : m.split("\\R")) {
      if (line.contains("libcuda") || line.contains("cannot open shared object")) {
        return line.replaceFirst("^\\s*java\\.lang\\.\\w+: ", "").trim();
      }
    }
    String first = m.split("\\R", 2)[0].trim();
    return first.length() > 300 ? first.substring(0, 300) + "..." : first;
  }
}
