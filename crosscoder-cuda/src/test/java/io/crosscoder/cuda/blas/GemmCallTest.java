package io.crosscoder.cuda.blas;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class GemmCallTest {
  private static GemmCall call(boolean ta, boolean tb, int m, int n, int k, int lda, int ldb, int ldc) {
    return new GemmCall(ta, tb, m, n, k, 1f, 0x1000, lda, 0x2000, ldb, 0f, 0x3000, ldc);
  }

  @Test
  void acceptsTightLeadingDimensionsForEachTransposeCase() {
    // Reference BLAS SGEMM: A stored m x k (N) or k x m (T); B stored k x n (N) or n x k (T).
    assertThatCode(() -> call(false, false, 2, 3, 4, 2, 4, 2).validate("g")).doesNotThrowAnyException();
    assertThatCode(() -> call(true, false, 2, 3, 4, 4, 4, 2).validate("g")).doesNotThrowAnyException();
    assertThatCode(() -> call(false, true, 2, 3, 4, 2, 3, 2).validate("g")).doesNotThrowAnyException();
    assertThatCode(() -> call(true, true, 2, 3, 4, 4, 3, 2).validate("g")).doesNotThrowAnyException();
    // Empty products still need leading dimensions of at least 1.
    assertThatCode(() -> call(false, false, 0, 0, 0, 1, 1, 1).validate("g")).doesNotThrowAnyException();
  }

  @Test
  void refusesShortLeadingDimensionsNamingTheRuleAndArguments() {
    assertThatThrownBy(() -> call(false, false, 2, 3, 4, 1, 4, 2).validate("cublasSgemm_v2"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("cublasSgemm_v2(transA=N, transB=N, m=2, n=3, k=4, alpha=1.0, a=0x1000, lda=1,")
        .hasMessageEndingWith("lda must be >= max(1, m) = 2");
    assertThatThrownBy(() -> call(true, false, 2, 3, 4, 2, 4, 2).validate("g"))
        .hasMessageEndingWith("lda must be >= max(1, k) = 4");
    assertThatThrownBy(() -> call(false, true, 2, 3, 4, 2, 2, 2).validate("g"))
        .hasMessageEndingWith("ldb must be >= max(1, n) = 3");
    assertThatThrownBy(() -> call(false, false, 2, 3, 4, 2, 3, 2).validate("g"))
        .hasMessageEndingWith("ldb must be >= max(1, k) = 4");
    assertThatThrownBy(() -> call(false, false, 2, 3, 4, 2, 4, 1).validate("g"))
        .hasMessageEndingWith("ldc must be >= max(1, m) = 2");
    assertThatThrownBy(() -> call(false, false, 0, 0, 0, 0, 1, 1).validate("g"))
        .hasMessageEndingWith("lda must be >= max(1, m) = 1");
    assertThatThrownBy(() -> call(false, false, -1, 3, 4, 2, 4, 2).validate("g"))
        .hasMessageEndingWith("m, n and k must be >= 0");
  }

  @Test
  void refusesNullDeviceAddressesThatWouldBeRead() {
    assertThatThrownBy(() -> new GemmCall(false, false, 2, 2, 2, 1f, 0, 2, 8, 2, 0f, 16, 2).validate("g"))
        .hasMessageEndingWith("a is the null device address");
    assertThatThrownBy(() -> new GemmCall(false, false, 2, 2, 2, 1f, 8, 2, 0, 2, 0f, 16, 2).validate("g"))
        .hasMessageEndingWith("b is the null device address");
    assertThatThrownBy(() -> new GemmCall(false, false, 2, 2, 2, 1f, 8, 2, 8, 2, 0f, 0, 2).validate("g"))
        .hasMessageEndingWith("c is the null device address");
    // k = 0 or alpha = 0: A and B are not read, so they may be null.
    assertThatCode(() -> new GemmCall(false, false, 2, 2, 0, 1f, 0, 2, 0, 1, 0f, 16, 2).validate("g"))
        .doesNotThrowAnyException();
    assertThatCode(() -> new GemmCall(false, false, 2, 2, 2, 0f, 0, 2, 0, 2, 1f, 16, 2).validate("g"))
        .doesNotThrowAnyException();
  }
}
