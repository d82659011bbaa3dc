package io.crosscoder.cuda.driver;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResourcesTest {
  @Test
  void closesEveryResourceAndReportsTheFirstFailureWithTheRestSuppressed() {
    List<String> closed = new ArrayList<>();
    RuntimeException failure = Resources.closeAll(
        () -> {
          closed.add("a");
          throw new IllegalStateException("a failed");
        },
        null,
        () -> closed.add("b"),
        () -> {
          closed.add("c");
          throw new IOException("c failed");
        });
    assertThat(closed).containsExactly("a", "b", "c");
    assertThat(failure).isInstanceOf(IllegalStateException.class).hasMessage("a failed");
    assertThat(failure.getSuppressed()).singleElement().satisfies(e -> assertThat(e).hasMessage("c failed"));
    assertThat(Resources.closeAll(() -> closed.add("d"))).isNull();
  }
}
