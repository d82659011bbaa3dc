package io.crosscoder.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file identity a reader takes before mapping and checks after ({@link FileRegion#keyIfUnchanged}). */
class FileRegionTest {
  @Test
  void aKeyIsKeptOnlyWhileThePathNamesTheSameFile(@TempDir Path dir) throws IOException {
    Path a = Files.write(dir.resolve("a.bin"), new byte[] {1, 2, 3});
    Path b = Files.write(dir.resolve("b.bin"), new byte[] {4});
    Object keyA = FileRegion.keyOf(a);
    // The oracle: the file system's own identity, read here directly.
    assertThat(keyA).isEqualTo(Files.readAttributes(a, BasicFileAttributes.class).fileKey());
    assertThat(FileRegion.keyIfUnchanged(a, keyA)).isEqualTo(keyA);
    assertThat(FileRegion.keyIfUnchanged(a, null)).isNull();
    // b renamed over a: the path then names b's file, whose identity was taken while both existed.
    Object keyB = FileRegion.keyOf(b);
    assertThat(keyB).isNotEqualTo(keyA);
    Files.move(b, a, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertThat(FileRegion.keyIfUnchanged(a, keyA)).isNull();
    assertThat(FileRegion.keyIfUnchanged(a, keyB)).isEqualTo(keyB);
    Files.delete(a);
    assertThat(FileRegion.keyIfUnchanged(a, keyB)).as("a path that names no file").isNull();
  }
}
