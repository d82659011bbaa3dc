package io.crosscoder.io.gguf;

import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormat;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The GGUF checkpoint format of llama.cpp (versions 2 and 3): a {@code .gguf} file, a file that
 * starts with the magic {@code "GGUF"}, or a folder holding exactly one {@code .gguf} file (and no
 * safetensors, which that format takes first). Opened as a {@link GgufCheckpoint}: tensors under
 * Hugging Face names, dequantized on read, so {@code crosscoder diff model.safetensors
 * model-Q4_K_M.gguf} compares a model with its quantization tensor by tensor. Stateless and
 * thread-safe; the caller closes the checkpoint.
 */
public final class GgufFormat implements CheckpointFormat {
  /** The format's name. */
  public static final String NAME = "gguf";

  private static final String EXTENSION = ".gguf";

  /** For {@link java.util.ServiceLoader}. */
  public GgufFormat() {}

  /** Returns {@value #NAME}. */
  @Override
  public String name() {
    return NAME;
  }

  /** Whether {@code path} is a {@code .gguf} file, starts with {@code "GGUF"}, or is a folder with one {@code .gguf} file. Never throws. */
  @Override
  public boolean recognizes(Path path) {
    try {
      if (Files.isRegularFile(path)) {
        return fileName(path).endsWith(EXTENSION) || startsWithMagic(path);
      }
      return Files.isDirectory(path) && ggufFiles(path).size() == 1;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /**
   * Opens {@code path}: a file directly, a folder by its only {@code .gguf} file.
   *
   * @throws InvalidInputException if the input is missing, malformed, or a folder without exactly one GGUF file
   */
  @Override
  public Checkpoint open(Path path) {
    if (Files.isDirectory(path)) {
      List<Path> files;
      try {
        files = ggufFiles(path);
      } catch (IOException e) {
        throw new InvalidInputException(path, null, "cannot list the folder: " + e, e);
      }
      if (files.size() != 1) {
        throw new InvalidInputException(path, null, files.isEmpty() ? "the folder has no " + EXTENSION + " file"
            : "the folder has " + files.size() + " GGUF files (" + files.stream().map(p -> p.getFileName().toString())
                .toList() + "); give one of them");
      }
      return GgufCheckpoint.open(files.getFirst());
    }
    if (!Files.exists(path)) {
      throw new InvalidInputException(path, null, "no such file or folder");
    }
    return GgufCheckpoint.open(path);
  }

  private static boolean startsWithMagic(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      byte[] b = in.readNBytes(4);
      return b.length == 4 && b[0] == 'G' && b[1] == 'G' && b[2] == 'U' && b[3] == 'F';
    }
  }

  private static List<Path> ggufFiles(Path folder) throws IOException {
    List<Path> found = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(folder)) {
      for (Path p : entries) {
        if (fileName(p).endsWith(EXTENSION) && Files.isRegularFile(p)) {
          found.add(p);
        }
      }
    }
    found.sort(null);
    return found;
  }

  private static String fileName(Path p) {
    Path name = p.getFileName();
    return name == null ? "" : name.toString();
  }
}
