package io.crosscoder.cuda.driver;

import io.crosscoder.CrosscoderException;
import io.crosscoder.cuda.nvrtc.Nvrtc;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The GPU kernels as PTX text, and where it came from. The build compiles {@code
 * src/main/cuda/crosscoder_kernels.cu} to PTX with nvcc when nvcc is installed and puts it in the
 * jar; a jar built without nvcc carries only the source, which is then compiled at run time with
 * NVRTC ({@code libnvrtc.so}, part of the CUDA toolkit) for the GPU at hand.
 *
 * @param ptx the PTX text
 * @param origin one line for reports, e.g. {@code "PTX ISA 7.0 from the jar"}
 */
public record KernelModule(String ptx, String origin) {
  /** Class-path resource of the PTX built with the jar. */
  public static final String PTX_RESOURCE = "/io/crosscoder/cuda/crosscoder_kernels.ptx";
  /** Class-path resource of the CUDA C source. */
  public static final String SOURCE_RESOURCE = "/io/crosscoder/cuda/crosscoder_kernels.cu";
  private static final Pattern VERSION = Pattern.compile("^\\s*\\.version\\s+(\\S+)", Pattern.MULTILINE);

  /** The PTX built into the jar, if the build had nvcc. */
  public static Optional<String> bundledPtx() {
    return resource(PTX_RESOURCE);
  }

  /**
   * Whether kernels can be had, without a GPU: empty when they can, else why not (no PTX in the
   * jar and no NVRTC).
   */
  public static Optional<String> unavailableReason() {
    if (KernelModule.class.getResource(PTX_RESOURCE) != null) {
      return Optional.empty();
    }
    if (KernelModule.class.getResource(SOURCE_RESOURCE) == null) {
      return Optional.of("the jar carries neither the kernels' PTX nor their source ("
          + PTX_RESOURCE + ", " + SOURCE_RESOURCE + ")");
    }
    return Nvrtc.load().isPresent() ? Optional.empty()
        : Optional.of("the jar was built without nvcc, so it carries no PTX, and NVRTC cannot compile the kernels here: "
            + Nvrtc.whyNot());
  }

  /**
   * The kernels for a GPU of compute capability {@code major.minor}: the bundled PTX, or else the
   * source compiled with NVRTC for that architecture.
   *
   * @throws CrosscoderException if neither is possible, or NVRTC fails (with its log)
   */
  public static KernelModule load(int major, int minor) {
    Optional<String> ptx = bundledPtx();
    if (ptx.isPresent()) {
      return new KernelModule(ptx.get(), "PTX ISA " + isaVersion(ptx.get()) + " from the jar");
    }
    String source = resource(SOURCE_RESOURCE).orElseThrow(() ->
        new CrosscoderException(unavailableReason().orElse("no kernels in the jar")));
    Nvrtc nvrtc = Nvrtc.load().orElseThrow(() -> new CrosscoderException(unavailableReason().orElse("no NVRTC")));
    String arch = "--gpu-architecture=compute_" + major + minor;
    String compiled = nvrtc.compileToPtx(source, "crosscoder_kernels.cu", List.of(arch));
    return new KernelModule(compiled, "compiled at run time by " + nvrtc.description() + " for compute_" + major + minor);
  }

  /** The {@code .version} directive of a PTX text, or {@code "?"}. */
  public static String isaVersion(String ptx) {
    Matcher m = VERSION.matcher(ptx);
    return m.find() ? m.group(1) : "?";
  }

  private static Optional<String> resource(String name) {
    try (InputStream in = KernelModule.class.getResourceAsStream(name)) {
      return in == null ? Optional.empty() : Optional.of(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + name + " from the class path", e);
    }
  }
}
