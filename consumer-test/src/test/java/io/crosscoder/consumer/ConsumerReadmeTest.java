package io.crosscoder.consumer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The consumer project that the integration test builds and runs (src/it/from-java) is the README's
 * "From Java": its pom's dependency block and FromJava's code between the {@code README begins} and
 * {@code README ends} markers are the README's first {@code xml} and {@code java} blocks of that
 * section, line by line (indentation aside; the pom's {@code @project.version@} is this build's
 * version). Editing one without the other fails here.
 */
class ConsumerReadmeTest {
  private static final Path MODULE = Path.of(System.getProperty("basedir", "."));

  private static String fromJavaSection() throws IOException {
    String readme = Files.readString(MODULE.resolve("../README.md"));
    int start = readme.indexOf("\n## From Java\n");
    assertThat(start).as("README has a '## From Java' section").isNotNegative();
    int end = readme.indexOf("\n## ", start + 1);
    return readme.substring(start, end < 0 ? readme.length() : end);
  }

  /** The first fenced block of this language in {@code text}. */
  private static List<String> block(String text, String language) {
    String fence = "```" + language + "\n";
    int from = text.indexOf(fence);
    assertThat(from).as("a ```%s block", language).isNotNegative();
    int to = text.indexOf("```", from + fence.length());
    return lines(text.substring(from + fence.length(), to));
  }

  /** The lines between the markers. */
  private static List<String> marked(Path file, String begin, String end) throws IOException {
    String text = Files.readString(file);
    int from = text.indexOf(begin);
    int to = text.indexOf(end);
    assertThat(from).as("%s in %s", begin, file).isNotNegative();
    assertThat(to).as("%s in %s", end, file).isGreaterThan(from);
    return lines(text.substring(from + begin.length(), to));
  }

  private static List<String> lines(String text) {
    return text.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
  }

  @Test
  void codeIsTheReadmesJavaBlock() throws IOException {
    List<String> readme = block(fromJavaSection(), "java");
    List<String> consumer = marked(MODULE.resolve("src/it/from-java/src/main/java/consumer/FromJava.java"),
        "// README begins", "// README ends");
    assertThat(consumer).isEqualTo(readme);
    assertThat(readme).anyMatch(l -> l.startsWith("try (ModelDiffer differ = ModelDiffer.builder()"));
  }

  @Test
  void pomIsTheReadmesXmlBlock() throws IOException {
    String version = System.getProperty("crosscoder.version");
    assertThat(version).as("crosscoder.version, set by the pom").isNotBlank();
    List<String> readme = block(fromJavaSection(), "xml");
    List<String> consumer = marked(MODULE.resolve("src/it/from-java/pom.xml"), "<!-- README begins -->",
        "<!-- README ends -->").stream().map(l -> l.replace("@project.version@", version)).toList();
    assertThat(consumer).isEqualTo(readme);
    assertThat(readme).contains("<artifactId>crosscoder-bom</artifactId>", "<scope>import</scope>");
  }
}
