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

  private SegmentClasses() {}

  /** Loads them (this class's initialisation does, once); cheap after the first call. */
  public static void load() {
    // The static initialiser above has run by the time this body does.
  }
}
