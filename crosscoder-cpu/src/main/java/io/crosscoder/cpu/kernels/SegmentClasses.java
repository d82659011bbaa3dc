package io.crosscoder.cpu.kernels;

import java.lang.foreign.MemorySegment;

/**
 * Loads every JDK class that can stand behind a {@link MemorySegment} before a kernel is
 * compiled. C2 compiles a Vector API load or store from a segment with the class hierarchy as it
 * is then: with only {@code HeapMemorySegmentImpl$OfByte} loaded, it assumes that a heap segment
 * is one of bytes, and the first {@code MemorySegment.ofArray(float[])} anywhere in the JVM (a
 * checkpoint written, a test's buffer) invalidates the compiled kernel, which then runs in C1 code,
 * where each vector operation allocates, until C2 has compiled it again: 0.7 s of a 100-step
 * training run, seen as "Failed dependency of type abstract_with_unique_concrete_subtype" under
 * {@code -Xlog:dependencies=debug}. With all of them loaded first there is no such assumption to
 * break; the kernels only ever get native segments, which their type profiles record. Loading
 * costs microseconds (the classes are in the JDK's class-data archive).
 */
public final class SegmentClasses {
  static {
    MemorySegment.ofArray(new byte[0]);
    MemorySegment.ofArray(new char[0]);
    MemorySegment.ofArray(new short[0]);
    MemorySegment.ofArray(new int[0]);
    MemorySegment.ofArray(new float[0]);
    MemorySegment.ofArray(new long[0]);
    MemorySegment.ofArray(new double[0]);
    // A mapped file's segment is a subclass of the native one.
    try {
      Class.forName("jdk.internal.foreign.MappedMemorySegmentImpl", false, MemorySegment.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      // Another JDK's layout: nothing to load.
    }
  }

  /**
   * The class of a plain native segment. Mapped segments extend it; a JDK where they did not would
   * send every pair through the widening path, which {@code VectorScalarAgreementTest} would notice.
   */
  public static final Class<?> NATIVE = MemorySegment.ofAddress(0).getClass();

  private SegmentClasses() {}

  /**
   * {@code m} typed as a native segment for the JIT, so that a vector load from it binds the JDK's
   * {@code unsafeGetBase}/{@code unsafeGetOffset} by class rather than by a type profile that may
   * be empty (code first run in tier 2, without profiling, gets two virtual calls per load). A
   * kernel applies it at every load inside its loop, not once before it: a compilation that enters
   * at the loop (on-stack replacement) starts from the loop's own types. The check is
   * loop-invariant. Throws {@link ClassCastException} for any other segment.
   */
  public static MemorySegment asNative(MemorySegment m) {
    return (MemorySegment) NATIVE.cast(m);
  }

  /** Loads them (this class's initialisation does, once); cheap after the first call. */
  public static void load() {
    // The static initialiser above has run by the time this body does.
  }
}
