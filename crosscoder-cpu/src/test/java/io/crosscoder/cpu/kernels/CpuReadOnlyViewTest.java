package io.crosscoder.cpu.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/**
 * What the CPU adds to {@link io.crosscoder.backend.Kernels#wrapReadOnly}'s contract: an aligned
 * native segment is viewed, not copied (a change to the segment shows through the buffer), the
 * view refuses writes, and it fails cleanly once the segment's arena is closed.
 */
class CpuReadOnlyViewTest {
  private static final ValueLayout.OfFloat F_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  @Test
  void alignedSegmentsAreViewedInPlaceAndRefuseWrites() {
    try (CpuKernels k = new CpuKernels(1, true); Arena arena = Arena.ofShared()) {
      MemorySegment s = arena.allocate(16, 4);
      s.set(F_LE, 0, 1.5f);
      DeviceBuffer view = k.wrapReadOnly(s, DType.F32, 4);
      s.set(F_LE, 4, -2f); // after wrapping: seen only if there was no copy
      assertThat(k.downloadFloats(view)).containsExactly(1.5f, -2f, 0f, 0f);
      assertThatThrownBy(() -> k.fill(view, 3f)).isInstanceOfAny(IllegalArgumentException.class, UnsupportedOperationException.class);
      assertThatThrownBy(() -> k.upload(new float[] {1f}, 0, view, 0, 1))
          .isInstanceOfAny(IllegalArgumentException.class, UnsupportedOperationException.class);
      assertThat(s.get(F_LE, 0)).isEqualTo(1.5f);
      view.close();
      assertThat(s.get(F_LE, 0)).as("closing a view frees nothing").isEqualTo(1.5f);

      MemorySegment odd = arena.allocate(17, 4).asSlice(1);
      odd.set(F_LE, 0, 7f);
      DeviceBuffer copy = k.wrapReadOnly(odd, DType.F32, 4);
      odd.set(F_LE, 4, 9f);
      assertThat(k.downloadFloats(copy)).as("an unaligned segment is copied").containsExactly(7f, 0f, 0f, 0f);
      copy.close();
    }
  }

  @Test
  void aViewOfAClosedMappingFailsInsteadOfReadingFreedMemory() {
    try (CpuKernels k = new CpuKernels(1, false)) {
      Arena arena = Arena.ofShared();
      DeviceBuffer view = k.wrapReadOnly(arena.allocate(16, 4), DType.F32, 4);
      arena.close();
      assertThatThrownBy(() -> k.downloadFloats(view)).isInstanceOf(IllegalStateException.class);
    }
  }
}
