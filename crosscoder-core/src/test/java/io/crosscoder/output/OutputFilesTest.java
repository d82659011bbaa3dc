package io.crosscoder.output;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.crosscoder.CrosscoderException;
import io.crosscoder.InvalidInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link OutputFiles}' one rule: checked targets, fresh temporary files, atomic replacement, outputs kept off inputs. */
class OutputFilesTest {
  @TempDir Path dir;

  @Test
  void aFolderTheRootADeviceOrAFifoIsRefusedBeforeAnythingIsWritten() throws Exception {
    Path folder = Files.createDirectory(dir.resolve("folder"));
    assertThatThrownBy(() -> OutputFiles.writeStream(folder, out -> out.write(1)))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("is a folder");
    assertThatThrownBy(() -> OutputFiles.checkTarget(Path.of("/")))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("root folder");
    if (Files.exists(Path.of("/dev/full"))) {
      assertThatThrownBy(() -> OutputFiles.writeStream(Path.of("/dev/full"), out -> out.write(1)))
          .isInstanceOf(InvalidInputException.class).hasMessageContaining("not a regular file");
      assertThat(Path.of("/dev/full.tmp")).doesNotExist();
    }
    Path fifo = dir.resolve("fifo");
    boolean made;
    try {
      made = new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0;
    } catch (IOException e) {
      made = false;
    }
    if (made) {
      assertThatThrownBy(() -> OutputFiles.writeStream(fifo, out -> out.write(1)))
          .isInstanceOf(InvalidInputException.class).hasMessageContaining("not a regular file");
    }
    Path underFile = Files.writeString(dir.resolve("plain"), "x").resolve("child.md");
    assertThatThrownBy(() -> OutputFiles.checkTarget(underFile))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("not a folder");
    try (Stream<Path> s = Files.list(dir)) {
      assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
    }
  }

  @Test
  void aStrayTemporaryFileOrLinkIsReplacedAndTheModeIsTheUmasks() throws Exception {
    Path target = dir.resolve("report.md");
    Files.writeString(target, "old");
    // What a killed run leaves: a half-written temporary file; and a link planted under its name.
    Path elsewhere = Files.writeString(dir.resolve("elsewhere"), "keep me");
    Files.createSymbolicLink(OutputFiles.temporaryFor(target), elsewhere);
    OutputFiles.writeStream(target, out -> out.write("new".getBytes(StandardCharsets.UTF_8)));
    assertThat(Files.readString(target)).isEqualTo("new");
    assertThat(Files.readString(elsewhere)).isEqualTo("keep me");
    assertThat(OutputFiles.temporaryFor(target)).doesNotExist();
    // The mode of any new file in this folder (the umask's), not createTempFile's 0600.
    Path plain = Files.createFile(dir.resolve("plain-new"));
    try {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(target)))
          .isEqualTo(PosixFilePermissions.toString(Files.getPosixFilePermissions(plain)));
    } catch (UnsupportedOperationException e) {
      assumeTrue(false, "no POSIX permissions on this file system");
    }
  }

  @Test
  void aFailingWriteLeavesTheOldFileAndNoTemporaryFile() throws Exception {
    Path target = dir.resolve("cc.safetensors");
    Files.writeString(target, "old contents");
    assertThatThrownBy(() -> OutputFiles.writeStream(target, out -> {
      out.write("partial".getBytes(StandardCharsets.UTF_8));
      throw new IOException("disk full");
    })).isInstanceOf(CrosscoderException.class).hasMessageContaining("disk full").hasMessageContaining("cc.safetensors");
    assertThat(Files.readString(target)).isEqualTo("old contents");
    assertThat(OutputFiles.temporaryFor(target)).doesNotExist();
  }

  @Test
  void aLinkToARegularFileIsWrittenThrough() throws Exception {
    Path real = Files.writeString(dir.resolve("real.json"), "old");
    Path link = Files.createSymbolicLink(dir.resolve("link.json"), real);
    OutputFiles.writeStream(link, out -> out.write('{'));
    assertThat(Files.isSymbolicLink(link)).isTrue();
    assertThat(Files.readString(real)).isEqualTo("{");
  }

  @Test
  void outputsNamingAnInputOrEachOtherAreRefused() throws Exception {
    Path input = Files.writeString(dir.resolve("base.safetensors"), "weights");
    Path inputs = Files.createDirectory(dir.resolve("acts"));
    Path alias = Files.createSymbolicLink(dir.resolve("alias.safetensors"), input);
    Path linkedDir = Files.createSymbolicLink(dir.resolve("linked"), dir);
    Map<String, Path> in = Map.of("BASE", input, "ACTIVATIONS", inputs);
    // The same file by name, through a link, through a linked folder, and inside an input folder.
    for (Path out : new Path[] {input, alias, linkedDir.resolve("base.safetensors"),
        dir.resolve("x/../base.safetensors"), inputs.resolve("shard-00000.safetensors")}) {
      assertThatThrownBy(() -> OutputFiles.requireDistinct(Map.of("--out", out), in)).as(out.toString())
          .isInstanceOf(InvalidInputException.class).hasMessageContaining("--out");
    }
    // Two outputs that do not exist yet but are one file.
    assertThatThrownBy(() -> OutputFiles.requireDistinct(
        Map.of("--out", dir.resolve("cc"), "--metrics", linkedDir.resolve("cc")), in))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("the same file");
    OutputFiles.requireDistinct(Map.of("--out", dir.resolve("report.md"), "--metrics", dir.resolve("m.jsonl")), in);
    assertThat(Files.readString(input)).isEqualTo("weights");
  }

  @Test
  void aSecondLockOnTheSameFileIsRefusedWithAClearMessage() {
    Path lock = dir.resolve("cc.safetensors.lock");
    try (OutputLock first = OutputLock.acquire(lock, "training into cc.safetensors")) {
      assertThatThrownBy(() -> OutputLock.acquire(lock, "training into cc.safetensors"))
          .isInstanceOf(CrosscoderException.class).hasMessageContaining("another run is training into cc.safetensors")
          .hasMessageContaining(lock.toString());
    }
    OutputLock.acquire(lock, "again").close();
  }
}
