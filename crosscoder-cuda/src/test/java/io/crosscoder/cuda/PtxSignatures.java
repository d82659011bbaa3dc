package io.crosscoder.cuda;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads kernel signatures: the parameter types of every {@code .visible .entry} of a PTX module, and
 * the parameter widths of every {@code extern "C" __global__} kernel of the CUDA source it is built
 * from. Tests compare them with what the Java launcher passes to {@code cuLaunchKernel}, so a kernel
 * and its caller cannot drift apart unnoticed (a wrong parameter width is not an error at launch: the
 * kernel just reads garbage).
 *
 * <p>Types are PTX type names without the dot, e.g. {@code ["u64", "u32", "f32"]}; a by-value
 * aggregate ({@code .param .align 8 .b8 name[16]}) reads as {@code "b8[16]"}. Stateless; thread-safe.
 */
final class PtxSignatures {
  private static final Pattern ENTRY =
      Pattern.compile("\\.visible\\s+\\.entry\\s+([A-Za-z_$][\\w$]*)\\s*\\(([^)]*)\\)");
  private static final Pattern PARAM_TYPE = Pattern.compile("\\.([usbf](?:8|16|32|64))\\b");
  private static final Pattern ARRAY = Pattern.compile("\\[(\\d+)]\\s*$");
  private static final Pattern KERNEL = Pattern.compile(
      "extern\\s+\"C\"\\s+__global__\\s+void\\s+(?:__launch_bounds__\\s*\\([^)]*\\)\\s+)?(\\w+)\\s*\\(([^)]*)\\)");

  private PtxSignatures() {}

  /**
   * The entries of a PTX module in the order they appear, each with its parameter types in order.
   * Only {@code .visible .entry} directives count ({@code .func} device functions are not
   * launchable).
   *
   * @throws IllegalArgumentException if a parameter declaration has no recognisable type
   */
  static Map<String, List<String>> entries(String ptx) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    Matcher m = ENTRY.matcher(ptx);
    while (m.find()) {
      List<String> types = new ArrayList<>();
      for (String param : splitParams(m.group(2))) {
        types.add(paramType(m.group(1), param));
      }
      out.put(m.group(1), Collections.unmodifiableList(types));
    }
    return Collections.unmodifiableMap(out);
  }

  /**
   * The kernels of a CUDA source file ({@code extern "C" __global__ void name(...)}) with the PTX
   * width each parameter gets: a pointer {@code u64}, {@code unsigned long long} / {@code u64}
   * {@code u64}, {@code int}, {@code unsigned int} / {@code u32} {@code u32}, {@code float} {@code
   * f32}, {@code double} {@code f64}. This is what the NVRTC fallback compiles, so it is checked even
   * where no PTX was built.
   *
   * @throws IllegalArgumentException on a parameter type outside that list
   */
  static Map<String, List<String>> sourceKernels(String cuda) {
    String code = cuda.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", " ");
    Map<String, List<String>> out = new LinkedHashMap<>();
    Matcher m = KERNEL.matcher(code);
    while (m.find()) {
      List<String> types = new ArrayList<>();
      for (String param : splitParams(m.group(2))) {
        types.add(sourceWidth(m.group(1), param));
      }
      out.put(m.group(1), Collections.unmodifiableList(types));
    }
    return Collections.unmodifiableMap(out);
  }

  private static List<String> splitParams(String list) {
    List<String> params = new ArrayList<>();
    for (String p : list.split(",")) {
      String t = p.strip();
      if (!t.isEmpty()) {
        params.add(t);
      }
    }
    return params;
  }

  private static String paramType(String entry, String param) {
    // ".param .u64 .ptr .global .align 4 name" or ".param .align 8 .b8 name[16]": the first
    // fundamental type names the width (.align's number is not a type).
    Matcher t = PARAM_TYPE.matcher(param);
    if (!param.startsWith(".param") || !t.find()) {
      throw new IllegalArgumentException("entry " + entry + ": cannot read the type of parameter '" + param + "'");
    }
    Matcher array = ARRAY.matcher(param);
    return array.find() ? t.group(1) + "[" + array.group(1) + "]" : t.group(1);
  }

  private static String sourceWidth(String kernel, String param) {
    if (param.contains("*")) {
      return "u64";
    }
    // Drop the parameter name and qualifiers; what is left is the type.
    String type = param.replaceAll("\\b(const|volatile|__restrict__)\\b", " ").strip();
    type = type.substring(0, type.lastIndexOf(' ') < 0 ? type.length() : type.lastIndexOf(' ')).strip();
    type = type.replaceAll("\\s+", " ");
    return switch (type) {
      case "u64", "unsigned long long", "unsigned long long int" -> "u64";
      case "u32", "unsigned int", "unsigned", "int" -> "u32";
      case "float" -> "f32";
      case "double" -> "f64";
      default -> throw new IllegalArgumentException(
          "kernel " + kernel + ": parameter '" + param + "' has a type this reader does not know");
    };
  }
}
