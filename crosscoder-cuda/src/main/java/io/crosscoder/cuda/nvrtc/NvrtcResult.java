package io.crosscoder.cuda.nvrtc;

/**
 * Names of {@code nvrtcResult} values, written out so that messages do not depend on
 * {@code nvrtcGetErrorString}. Values from NVIDIA's cuda-python reference
 * ({@code cuda.bindings.nvrtc.nvrtcResult}) and the cudarc crate's {@code nvrtc::sys::nvrtcResult};
 * 0 to 12 exist since CUDA 11, 13 to 18 were added later.
 */
final class NvrtcResult {
  static final int SUCCESS = 0;
  static final int COMPILATION = 6;
  static final int BUILTIN_OPERATION_FAILURE = 7;

  private static final String[] NAMES = {
    "NVRTC_SUCCESS",
    "NVRTC_ERROR_OUT_OF_MEMORY",
    "NVRTC_ERROR_PROGRAM_CREATION_FAILURE",
    "NVRTC_ERROR_INVALID_INPUT",
    "NVRTC_ERROR_INVALID_PROGRAM",
    "NVRTC_ERROR_INVALID_OPTION",
    "NVRTC_ERROR_COMPILATION",
    "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE",
    "NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION",
    "NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION",
    "NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID",
    "NVRTC_ERROR_INTERNAL_ERROR",
    "NVRTC_ERROR_TIME_FILE_WRITE_FAILED",
    "NVRTC_ERROR_NO_PCH_CREATE_ATTEMPTED",
    "NVRTC_ERROR_PCH_CREATE_HEAP_EXHAUSTED",
    "NVRTC_ERROR_PCH_CREATE",
    "NVRTC_ERROR_CANCELLED",
    "NVRTC_ERROR_TIME_TRACE_FILE_WRITE_FAILED",
  };

  private NvrtcResult() {}

  /** The enum constant's name, e.g. {@code NVRTC_ERROR_COMPILATION} for 6. */
  static String name(int result) {
    return result >= 0 && result < NAMES.length ? NAMES[result] : "unknown nvrtcResult " + result;
  }

  /** What a user can do about {@code result}, or an empty string. */
  static String hint(int result) {
    return switch (result) {
      case BUILTIN_OPERATION_FAILURE -> "; NVRTC could not load libnvrtc-builtins.so of its own version:"
          + " it must sit next to libnvrtc or on LD_LIBRARY_PATH";
      case 5 -> "; see nvcc --help for the accepted options";
      default -> "";
    };
  }
}
