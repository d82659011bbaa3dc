package io.crosscoder.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.InvalidInputException;
import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The seed corpus is what {@link Seeds} makes: the committed files under {@code
 * src/test/resources/io/crosscoder/fuzz/<Target>Inputs/fuzz/} are byte-identical to it (rewrite them
 * with {@code -Dcrosscoder.fuzz.writeSeeds=true}), and each target accepts its {@code valid-*}
 * seeds and refuses its {@code broken-*} seeds with an {@link InvalidInputException}.
 */
class SeedCorpusTest {
  private static final Path RESOURCES = Path.of("src/test/resources/io/crosscoder/fuzz");

  private static Path folder(Class<?> target) {
    return RESOURCES.resolve(target.getSimpleName() + "Inputs").resolve("fuzz");
  }

  @Test
  void committedSeedsAreWhatTheGeneratorMakes() throws IOException {
    boolean write = Boolean.getBoolean("crosscoder.fuzz.writeSeeds");
    for (Map.Entry<Class<?>, Map<String, byte[]>> e : Seeds.all().entrySet()) {
      Path dir = folder(e.getKey());
      if (write) {
        Files.createDirectories(dir);
        try (Stream<Path> old = Files.list(dir)) {
          for (Path p : old.filter(p -> !isFinding(p.getFileName().toString())).toList()) {
            Files.delete(p);
          }
        }
        e.getValue().forEach((name, bytes) -> FuzzSupport.write(dir, name, bytes));
      }
      List<String> committed;
      try (Stream<Path> s = Files.list(dir)) {
        // Reproducers Jazzer wrote there (crash-*, timeout-*) stay as regression inputs.
        committed = s.map(p -> p.getFileName().toString()).filter(n -> !isFinding(n)).sorted().toList();
      }
      assertThat(committed).as(dir.toString()).containsExactlyInAnyOrderElementsOf(e.getValue().keySet());
      for (Map.Entry<String, byte[]> seed : e.getValue().entrySet()) {
        assertThat(Files.readAllBytes(dir.resolve(seed.getKey()))).as(dir.resolve(seed.getKey()).toString())
            .isEqualTo(seed.getValue());
      }
    }
  }

  private static boolean isFinding(String name) {
    return name.startsWith("crash-") || name.startsWith("timeout-") || name.startsWith("oom-")
        || name.startsWith("slow-unit-");
  }

  @TestFactory
  Stream<DynamicTest> validSeedsAreAcceptedAndBrokenOnesRefused() throws Exception {
    List<DynamicTest> tests = new ArrayList<>();
    for (Map.Entry<Class<?>, Map<String, byte[]>> e : Seeds.all().entrySet()) {
      Class<?> cls = e.getKey();
      Method fuzz = cls.getDeclaredMethod("fuzz", byte[].class);
      fuzz.setAccessible(true);
      for (Map.Entry<String, byte[]> seed : e.getValue().entrySet()) {
        String name = cls.getSimpleName() + "/" + seed.getKey();
        tests.add(DynamicTest.dynamicTest(name, () -> {
          var ctor = cls.getDeclaredConstructor();
          ctor.setAccessible(true);
          Object target = ctor.newInstance();
          // The target itself swallows a refusal that keeps the contract; call the reader through it
          // once with a probe that records whether it refused.
          Refusals.reset();
          fuzz.invoke(target, (Object) seed.getValue());
          if (seed.getKey().startsWith("valid-")) {
            assertThat(Refusals.last()).as(name + " should be accepted").isNull();
          } else {
            assertThat(Refusals.last()).as(name + " should be refused").isNotNull();
          }
        }));
      }
    }
    return tests.stream();
  }

  @Test
  void contractRejectsAnExceptionThatNamesAnotherFile() {
    Path here = FuzzSupport.folder("contract").resolve("a.bin");
    assertThatThrownBy(() -> FuzzSupport.expectValidOrRefused(here, () -> {
      throw new InvalidInputException(Path.of("/elsewhere/b.bin"), null, "bad");
    })).isInstanceOf(AssertionError.class).hasMessageContaining("not the input");
    assertThatThrownBy(() -> FuzzSupport.expectValidOrRefused(here, () -> {
      throw new IllegalStateException("boom");
    })).isInstanceOf(IllegalStateException.class);
  }
}
