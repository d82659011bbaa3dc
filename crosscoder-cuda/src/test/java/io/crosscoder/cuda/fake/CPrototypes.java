package io.crosscoder.cuda.fake;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns C prototypes, as printed in the CUDA headers, into FFM function descriptors by the x86-64
 * and aarch64 Linux rules: any pointer (and the pointer typedefs {@code cublasHandle_t},
 * {@code nvrtcProgram}) is an address, {@code int} and int-sized enums are {@code JAVA_INT},
 * {@code size_t} is {@code JAVA_LONG}. Tests compare the bindings' descriptor tables with these.
 */
public final class CPrototypes {
  private static final Pattern PROTOTYPE = Pattern.compile("\\s*(\\w+)\\s+(\\w+)\\s*\\((.*)\\)\\s*;?\\s*", Pattern.DOTALL);
  private static final List<String> POINTER_TYPEDEFS = List.of("cublasHandle_t", "nvrtcProgram");
  private static final List<String> INT_TYPES = List.of("int", "cublasStatus_t", "cublasOperation_t",
      "cudaDataType", "cudaDataType_t", "cublasComputeType_t", "cublasGemmAlgo_t", "cublasMath_t",
      "libraryPropertyType", "nvrtcResult");

  private CPrototypes() {}

  /** Function name to descriptor, for each prototype (separated by semicolons). */
  public static Map<String, FunctionDescriptor> parse(String prototypes) {
    Map<String, FunctionDescriptor> out = new LinkedHashMap<>();
    for (String one : prototypes.split(";")) {
      if (one.isBlank()) {
        continue;
      }
      Matcher m = PROTOTYPE.matcher(one);
      if (!m.matches()) {
        throw new IllegalArgumentException("not a prototype: " + one);
      }
      List<MemoryLayout> args = new ArrayList<>();
      String params = m.group(3).strip();
      if (!params.isEmpty() && !params.equals("void")) {
        for (String param : params.split(",")) {
          args.add(carrier(param));
        }
      }
      out.put(m.group(2), FunctionDescriptor.of(carrier(m.group(1)), args.toArray(MemoryLayout[]::new)));
    }
    return out;
  }

  private static ValueLayout carrier(String declaration) {
    String d = declaration.strip();
    if (d.contains("*")) {
      return ValueLayout.ADDRESS;
    }
    String type = d.replace("const ", "").strip().split("\\s+")[0];
    if (POINTER_TYPEDEFS.contains(type)) {
      return ValueLayout.ADDRESS;
    }
    if (INT_TYPES.contains(type)) {
      return ValueLayout.JAVA_INT;
    }
    if (type.equals("size_t")) {
      return ValueLayout.JAVA_LONG;
    }
    throw new IllegalArgumentException("no carrier for C type '" + type + "' in '" + declaration + "'");
  }
}
