package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/cli-stale}, the launcher's "rebuild?" check, on a small tree made here: every change
 * that must rebuild the command line is seen (an edited, added or deleted source, a resource, a
 * module's or the root's pom.xml), and what must not is not (build outputs under target/). File
 * times are set explicitly (an hour ago for the tree, a minute ago for the stamp, so that an edit
 * made now is newer whatever the file system's time resolution).
 */
class LauncherStalenessTest {
  private static final Path SCRIPT = Path.of("..", "bin", "cli-stale").toAbsolutePath().normalize();
  private static final FileTime OLD = FileTime.from(Instant.now().minusSeconds(3600));

  @TempDir Path root;
  private Path stamp;
  private Path source;

  @BeforeEach
  void tree() throws IOException {
    assumeTrue(Files.isExecutable(SCRIPT) && Files.isExecutable(Path.of("/bin/bash")), "needs bash and " + SCRIPT);
    source = root.resolve("mod/src/main/java/p/A.java");
    Files.createDirectories(source.getParent());
    Files.createDirectories(root.resolve("mod/src/main/resources"));
    Files.createDirectories(root.resolve("mod/target/classes/p"));
    Files.writeString(root.resolve("pom.xml"), "<project/>");
    Files.writeString(root.resolve("mod/pom.xml"), "<project/>");
    Files.writeString(source, "class A {}");
    Files.writeString(root.resolve("mod/target/classes/p/A.class"), "x");
    stamp = root.resolve("mod/target/.cli-built");
  }

  /** Sets every file and folder of the tree an hour back, then writes the stamp a minute back. */
  private void build() throws IOException {
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.toList()) {
        Files.setLastModifiedTime(p, OLD);
      }
    }
    Files.writeString(stamp, "");
    Files.setLastModifiedTime(stamp, FileTime.from(Instant.now().minusSeconds(60)));
  }

  private String stale() throws IOException, InterruptedException {
    Process p = new ProcessBuilder(List.of(SCRIPT.toString(), root.toString(), stamp.toString()))
        .redirectErrorStream(true).start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isZero();
    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
  }

  @Test
  void withoutAStampItIsTheFirstRun() throws Exception {
    assertThat(stale()).isEqualTo("first run");
  }

  @Test
  void anUntouchedTreeIsCurrentAndBuildOutputsDoNotCount() throws Exception {
    build();
    assertThat(stale()).isEmpty();
    Files.writeString(root.resolve("mod/target/classes/p/A.class"), "y");
    Files.writeString(root.resolve("mod/target/other.jar"), "z");
    assertThat(stale()).isEmpty();
  }

  @Test
  void anEditedSourceIsSeen() throws Exception {
    build();
    Files.writeString(source, "class A { int x; }");
    assertThat(stale()).isEqualTo("sources changed");
  }

  @Test
  void aDeletedSourceIsSeenThroughItsFolder() throws Exception {
    build();
    Files.delete(source);
    assertThat(stale()).isEqualTo("sources changed");
  }

  @Test
  void anAddedResourceIsSeen() throws Exception {
    build();
    Files.writeString(root.resolve("mod/src/main/resources/r.txt"), "r");
    assertThat(stale()).isEqualTo("sources changed");
  }

  @Test
  void aModulePomAndTheRootPomAreSeen() throws Exception {
    build();
    Files.writeString(root.resolve("mod/pom.xml"), "<project><x/></project>");
    assertThat(stale()).isEqualTo("sources changed");
    build();
    Files.writeString(root.resolve("pom.xml"), "<project><x/></project>");
    assertThat(stale()).isEqualTo("sources changed");
  }
}
