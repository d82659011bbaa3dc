package io.crosscoder.io.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.InvalidInputException;
import io.crosscoder.io.models.BundledModel;
import io.crosscoder.io.text.TextSources;
import io.crosscoder.model.Tokenizer;
import io.crosscoder.text.Document;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HuggingFaceTokenizersTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  static Path cache;

  private static Path bgeV1File;
  private static Path bgeV15File;
  private static Tokenizer bgeV1;
  private static Tokenizer bgeV15;

  @BeforeAll
  static void openBge() {
    bgeV1File = BundledModel.BGE_SMALL_EN.extractTokenizer(cache);
    bgeV15File = BundledModel.BGE_SMALL_EN_V15.extractTokenizer(cache);
    bgeV1 = HuggingFaceTokenizers.open(bgeV1File);
    bgeV15 = HuggingFaceTokenizers.open(bgeV15File);
  }

  @AfterAll
  static void closeBge() {
    bgeV1.close();
    bgeV15.close();
  }

  /** The id of {@code piece} in a tokenizer.json's {@code model.vocab}, read with Jackson. */
  private static int vocabId(Path tokenizerJson, String piece) throws IOException {
    JsonNode id = JSON.readTree(tokenizerJson.toFile()).path("model").path("vocab").get(piece);
    assertThat(id).as("'%s' in the vocabulary of %s", piece, tokenizerJson).isNotNull();
    return id.intValue();
  }

  private static int[] vocabIds(Path tokenizerJson, String... pieces) throws IOException {
    int[] ids = new int[pieces.length];
    for (int i = 0; i < pieces.length; i++) {
      ids[i] = vocabId(tokenizerJson, pieces[i]);
    }
    return ids;
  }

  // ---------------------------------------------------------------- bge-small-en (BERT WordPiece)

  @Test
  void bgeTokenizersGiveTheBertBaseUncasedIdsOfAHandCheckedSentence() throws IOException {
    String sentence = "Hello, world! The quick brown fox jumps over the lazy dog.";
    for (Path file : List.of(bgeV1File, bgeV15File)) {
      try (Tokenizer t = HuggingFaceTokenizers.open(file)) {
        // bert-base-uncased: lower-cased, punctuation split off; ids known from its vocab.txt
        // (line number - 1) and checked here against the file's vocabulary.
        int[] ids = t.encode(sentence);
        assertThat(ids).containsExactly(vocabIds(file, "hello", ",", "world", "!", "the", "quick", "brown", "fox",
            "jumps", "over", "the", "lazy", "dog", "."));
        assertThat(ids[0]).isEqualTo(7592);
        assertThat(ids[2]).isEqualTo(2088);
        assertThat(t.prefix()).containsExactly(101).containsExactly(vocabId(file, "[CLS]"));
        assertThat(t.suffix()).containsExactly(102).containsExactly(vocabId(file, "[SEP]"));
        assertThat(t.vocabularySize()).isEqualTo(30522);
        // The WordPiece decoder joins punctuation back onto words; the normalizer lower-cased.
        assertThat(t.decode(ids)).isEqualTo("hello, world! the quick brown fox jumps over the lazy dog.");
        assertThat(t.decode(new int[] {101, 7592, 102})).isEqualTo("[CLS] hello [SEP]");
        assertThat(t.source()).isEqualTo(file.toString());
      }
    }
  }

  @Test
  void wordPieceSplitsUnknownWordsIntoTheLongestVocabularyPrefixes() throws IOException {
    // Greedy longest-match-first over the vocabulary, worked out by hand: "unaffable" is not in
    // it, "una" is the longest prefix that is, then "##ffa", "##ble"; "crosscoders" gives
    // "cross", "##code", "##rs".
    int[] ids = bgeV15.encode("Unaffable crosscoders");
    assertThat(ids).containsExactly(vocabIds(bgeV15File, "una", "##ffa", "##ble", "cross", "##code", "##rs"));
    assertThat(IntStream.of(ids).mapToObj(bgeV15::token).toList())
        .containsExactly("una", "##ffa", "##ble", "cross", "##code", "##rs");
    assertThat(bgeV15.vocabularySize()).isEqualTo(30522);
    assertThat(bgeV15.decode(ids)).isEqualTo("unaffable crosscoders");
  }

  @Test
  void bertSpecialTokensAreSpecialAndWordsAreNot() throws IOException {
    for (String special : List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")) {
      int id = vocabId(bgeV1File, special);
      assertThat(bgeV1.isSpecial(id)).as(special).isTrue();
      assertThat(bgeV1.token(id)).isEqualTo(special);
    }
    assertThat(bgeV1.isSpecial(7592)).isFalse();
    assertThat(bgeV1.isSpecial(vocabId(bgeV1File, "[unused0]"))).isFalse();
    assertThatThrownBy(() -> bgeV1.isSpecial(30522)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("30522");
    assertThatThrownBy(() -> bgeV1.token(-1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> bgeV1.decode(new int[] {7592, 40000})).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("40000");
  }

  @Test
  void bothBgeTokenizersAgreeOnTheWholeEnglishCorpusAndOnOtherScripts() {
    // The harvester needs identical tokens in both models: the v1 and v1.5 files differ in bytes
    // (711,396 and 742,067) but must tokenize alike.
    assertThat(bgeV1.prefix()).isEqualTo(bgeV15.prefix());
    assertThat(bgeV1.suffix()).isEqualTo(bgeV15.suffix());
    long tokens = 0;
    try (Stream<Document> docs = TextSources.bundled("europarl-en").documents()) {
      for (Document d : (Iterable<Document>) docs::iterator) {
        int[] a = bgeV1.encode(d.text());
        assertThat(bgeV15.encode(d.text())).as(d.id()).isEqualTo(a);
        tokens += a.length;
      }
    }
    assertThat(tokens).isGreaterThan(200_000);
    for (String text : List.of("Ελληνικά και Español, naïve café", "日本語のテキスト", "emoji 😀 and \t tabs\nnewlines")) {
      assertThat(bgeV15.encode(text)).as(text).isEqualTo(bgeV1.encode(text));
    }
  }

  @Test
  void aTextLongerThan512TokensIsNotTruncated() {
    int[] ids = bgeV15.encode("hello ".repeat(1500));
    assertThat(ids).hasSize(1500);
    assertThat(IntStream.of(ids).allMatch(id -> id == 7592)).isTrue();
    String english = "The quick brown fox jumps over the lazy dog. ".repeat(100);
    int[] many = bgeV15.encode(english);
    assertThat(many).hasSize(1000); // ten tokens a sentence
    assertThat(bgeV15.decode(many)).isEqualTo(english.strip().toLowerCase(java.util.Locale.ROOT));
  }

  @Test
  void encodesConcurrentlyAsItDoesSequentially() throws Exception {
    List<String> texts;
    try (Stream<Document> docs = TextSources.bundled("europarl-en").documents()) {
      texts = docs.limit(200).map(Document::text).toList();
    }
    List<int[]> sequential = texts.stream().map(bgeV15::encode).toList();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<int[]>> futures = new ArrayList<>();
      for (String t : texts) {
        futures.add(pool.submit(() -> bgeV15.encode(t)));
      }
      for (int i = 0; i < texts.size(); i++) {
        assertThat(futures.get(i).get()).isEqualTo(sequential.get(i));
      }
    } finally {
      pool.shutdown();
    }
  }

  @Test
  void aClosedTokenizerRefusesWorkAndClosesOnce() {
    Tokenizer t = HuggingFaceTokenizers.open(bgeV1File);
    assertThat(t.encode("hello")).containsExactly(7592);
    t.close();
    t.close();
    assertThatThrownBy(() -> t.encode("hello")).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    assertThatThrownBy(() -> t.decode(new int[] {7592})).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void everyBundledModelNamesItsTokenizerAndTheTestJarsExtractIt() throws IOException {
    for (BundledModel m : BundledModel.all()) {
      assertThat(m.tokenizerResource()).isEqualTo(m.name() + "-tokenizer.json");
    }
    Path extracted = BundledModel.BGE_SMALL_EN_V15_Q.extractTokenizer(cache);
    try (InputStream in = BundledModel.class.getClassLoader().getResourceAsStream("bge-small-en-v1.5-q-tokenizer.json")) {
      assertThat(Files.readAllBytes(extracted)).isEqualTo(in.readAllBytes());
    }
    try (Tokenizer t = HuggingFaceTokenizers.open(extracted)) {
      assertThat(t.encode("hello world")).containsExactly(7592, 2088);
    }
  }

  // ---------------------------------------------------------------- stories260K (Llama SentencePiece BPE)

  /**
   * Greedy decoding of stories260K from BOS, 40 tokens, from the fixture's golden.json
   * (greedy_from_bos): an independent float64 forward pass in llama2.c's convention.
   */
  private static final int[] GREEDY_FROM_BOS = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317,
      426, 338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261,
      370, 432, 352};

  private static Path stories() {
    return Path.of("src/test/resources/stories260K/tokenizer.json");
  }

  /** llama2.c's own pieces ({@code vocab.json}), a space standing for the word boundary. */
  private static List<String> storiesPieces() throws IOException {
    List<String> pieces = new ArrayList<>();
    JSON.readTree(Path.of("src/test/resources/stories260K/vocab.json").toFile()).get("pieces")
        .forEach(p -> pieces.add(p.textValue()));
    return pieces;
  }

  @Test
  void storiesTokenizerDecodesTheGoldenGreedyIdsToLlama2csPiecesAndEncodesThemBack() throws IOException {
    List<String> pieces = storiesPieces();
    int[] generated = Arrays.copyOfRange(GREEDY_FROM_BOS, 1, GREEDY_FROM_BOS.length);
    StringBuilder joined = new StringBuilder();
    for (int id : generated) {
      joined.append(pieces.get(id));
    }
    assertThat(joined.toString()).startsWith(" Once upon a time");
    try (Tokenizer t = HuggingFaceTokenizers.open(stories())) {
      assertThat(t.prefix()).containsExactly(1);
      assertThat(t.suffix()).isEmpty();
      assertThat(t.vocabularySize()).isEqualTo(512).isEqualTo(pieces.size());
      // SentencePiece drops the word-boundary space of the first piece when decoding.
      String text = joined.substring(1);
      assertThat(t.decode(generated)).isEqualTo(text);
      assertThat(t.encode(text)).containsExactly(generated);
      // With BOS the decoder writes it out and keeps the space after it.
      assertThat(t.decode(GREEDY_FROM_BOS)).isEqualTo("<s>" + joined);
    }
  }

  @Test
  void storiesTokensReadAsLlama2csPieces() throws IOException {
    List<String> pieces = storiesPieces();
    try (Tokenizer t = HuggingFaceTokenizers.open(stories())) {
      for (int id = 3; id < 512; id++) {
        assertThat(t.token(id)).as("id %d", id).isEqualTo(pieces.get(id));
        assertThat(t.isSpecial(id)).as("id %d", id).isFalse();
      }
      assertThat(List.of(t.token(0), t.token(1), t.token(2))).containsExactly("<unk>", "<s>", "</s>");
      assertThat(t.isSpecial(0)).isTrue();
      assertThat(t.isSpecial(1)).isTrue();
      assertThat(t.isSpecial(2)).isTrue();
      // The normalizer prepends the word boundary (the piece " "); byte fallback writes a character
      // without a piece as its UTF-8 bytes, <0xNN> being id 3 + NN.
      assertThat(t.encode("ж")).containsExactly(pieces.indexOf(" "), 3 + 0xD0, 3 + 0xB6);
      assertThat(t.decode(new int[] {3 + 0xD0, 3 + 0xB6})).isEqualTo("ж");
      int[] longText = t.encode("Once upon a time. ".repeat(300));
      assertThat(longText.length).isGreaterThan(1500);
    }
  }

  // ---------------------------------------------------------------- byte-level BPE (GPT-2 / Qwen2 kind)

  /** GPT-2's byte-to-character table, written out from its definition: printable Latin-1 bytes stand for themselves. */
  private static char byteChar(int b) {
    int next = 256;
    for (int x = 0; x < 256; x++) {
      boolean printable = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255);
      if (x == b) {
        return (char) (printable ? x : next);
      }
      if (!printable) {
        next++;
      }
    }
    throw new AssertionError(b);
  }

  /**
   * A byte-level BPE tokenizer.json: ids 0..255 are the bytes (id = byte value), then ten merges,
   * then {@code <|endoftext|>} (266, special).
   */
  private static Path byteLevelBpe(Path dir, JsonNode preTokenizer, JsonNode postProcessor) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    added.addObject().put("id", 266).put("content", "<|endoftext|>").put("single_word", false).put("lstrip", false)
        .put("rstrip", false).put("normalized", false).put("special", true);
    root.putNull("normalizer");
    root.set("pre_tokenizer", preTokenizer);
    root.set("post_processor", postProcessor);
    root.set("decoder", byteLevel());
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE").putNull("dropout");
    model.putNull("unk_token");
    model.putNull("continuing_subword_prefix");
    model.putNull("end_of_word_suffix");
    model.put("fuse_unk", false).put("byte_fallback", false);
    ObjectNode vocab = model.putObject("vocab");
    for (int b = 0; b < 256; b++) {
      vocab.put(String.valueOf(byteChar(b)), b);
    }
    String g = String.valueOf(byteChar(' '));
    String eAcute = "" + byteChar(0xC3) + byteChar(0xA9); // é is C3 A9 in UTF-8
    String[][] merges = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {g, "t"}, {g + "t", "he"}, {g, "w"},
        {"o", "r"}, {g + "w", "or"}, {"" + byteChar(0xC3), "" + byteChar(0xA9)}};
    ArrayNode m = model.putArray("merges");
    for (int i = 0; i < merges.length; i++) {
      vocab.put(merges[i][0] + merges[i][1], 256 + i);
      m.add(merges[i][0] + " " + merges[i][1]);
    }
    assertThat(vocab.get(eAcute).intValue()).isEqualTo(265);
    Path file = dir.resolve("tokenizer.json");
    JSON.writeValue(file.toFile(), root);
    return file;
  }

  private static ObjectNode byteLevel() {
    return JSON.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
        .put("use_regex", true);
  }

  @Test
  void byteLevelBpeGivesTheHandMergedIdsAndReadableTokens(@TempDir Path dir) throws IOException {
    try (Tokenizer t = HuggingFaceTokenizers.open(byteLevelBpe(dir, byteLevel(), byteLevel()))) {
      // "hello" -> h e l l o -> he l l o -> he ll o -> hell o -> hello (259);
      // " the" -> Ġ t h e -> Ġ t he -> Ġt he -> Ġthe (261); " world" -> Ġw or l d -> Ġwor l d.
      assertThat(t.encode("hello the world")).containsExactly(259, 261, 264, 'l', 'd');
      assertThat(t.encode(" café")).containsExactly(' ', 'c', 'a', 'f', 265);
      assertThat(t.encode("😀")).containsExactly(0xF0, 0x9F, 0x98, 0x80);
      assertThat(t.encode("hello<|endoftext|>")).containsExactly(259, 266);
      assertThat(t.prefix()).isEmpty();
      assertThat(t.suffix()).isEmpty();
      assertThat(t.vocabularySize()).isEqualTo(267);
      assertThat(t.decode(new int[] {259, 261, 264, 'l', 'd'})).isEqualTo("hello the world");
      assertThat(t.decode(new int[] {0xF0, 0x9F, 0x98, 0x80})).isEqualTo("😀");
      assertThat(t.decode(new int[] {259, 266})).isEqualTo("hello<|endoftext|>");
      assertThat(t.token(261)).isEqualTo(" the");
      assertThat(t.token(' ')).isEqualTo(" ");
      assertThat(t.token('\n')).isEqualTo("\n");
      assertThat(t.token(265)).isEqualTo("é");
      assertThat(t.token(0xC3)).isEqualTo("<0xC3>"); // half of a character
      assertThat(t.token(266)).isEqualTo("<|endoftext|>");
      assertThat(t.isSpecial(266)).isTrue();
      assertThat(t.isSpecial(259)).isFalse();
    }
  }

  @Test
  void aTemplatePostProcessorsTokensAreTheSuffixAndByteLevelIsFoundInsideASequence(@TempDir Path dir)
      throws IOException {
    ObjectNode template = JSON.createObjectNode().put("type", "TemplateProcessing");
    template.putArray("single").add(JSON.createObjectNode().set("Sequence",
        JSON.createObjectNode().put("id", "A").put("type_id", 0))).add(JSON.createObjectNode().set("SpecialToken",
        JSON.createObjectNode().put("id", "<|endoftext|>").put("type_id", 0)));
    template.putArray("pair");
    template.putObject("special_tokens").putObject("<|endoftext|>").put("id", "<|endoftext|>")
        .<ObjectNode>set("ids", JSON.createArrayNode().add(266)).set("tokens", JSON.createArrayNode().add("<|endoftext|>"));
    ObjectNode sequence = JSON.createObjectNode().put("type", "Sequence");
    sequence.putArray("pretokenizers").add(byteLevel());
    try (Tokenizer t = HuggingFaceTokenizers.open(byteLevelBpe(dir, sequence, template))) {
      assertThat(t.prefix()).isEmpty();
      assertThat(t.suffix()).containsExactly(266);
      assertThat(t.encode("hello the world")).containsExactly(259, 261, 264, 'l', 'd');
      assertThat(t.token(261)).isEqualTo(" the");
    }
  }

  // ---------------------------------------------------------------- bad files

  private static InvalidInputException rejects(Path file) {
    try {
      HuggingFaceTokenizers.open(file).close();
    } catch (InvalidInputException e) {
      assertThat(e.getMessage()).contains(file.getFileName().toString());
      assertThat(e.file()).contains(file);
      return e;
    }
    throw new AssertionError(file + " was accepted");
  }

  @Test
  void aMissingFileIsNamed(@TempDir Path dir) {
    assertThat(rejects(dir.resolve("nothing.json")).getMessage()).contains("no such tokenizer file");
    // a folder stands for its tokenizer.json
    assertThat(rejects(dir.resolve("tokenizer.json")).getMessage()).contains("no such tokenizer file");
    assertThatThrownBy(() -> HuggingFaceTokenizers.open(dir)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining(dir.resolve("tokenizer.json").toString());
  }

  @Test
  void garbageIsNotJson(@TempDir Path dir) throws IOException {
    Path text = dir.resolve("text.json");
    Files.writeString(text, "this is not a tokenizer");
    assertThat(rejects(text).getMessage()).contains("not JSON").contains("line 1");
    Path binary = dir.resolve("binary.json");
    Files.write(binary, new byte[] {(byte) 0x89, 'P', 'N', 'G', 0, 0, (byte) 0xFF, (byte) 0xFE});
    assertThat(rejects(binary).getMessage()).contains("not UTF-8");
    Path array = dir.resolve("array.json");
    Files.writeString(array, "[1, 2, 3]");
    assertThat(rejects(array).getMessage()).contains("not an object");
    Path empty = dir.resolve("empty.json");
    Files.writeString(empty, "");
    assertThat(rejects(empty).getMessage()).contains("empty");
  }

  @Test
  void brokenOrUnsupportedModelSectionsAreNamed(@TempDir Path dir) throws IOException {
    String[][] cases = {
        {"{\"version\": \"1.0\"}", "no 'model' object"},
        {"{\"model\": {\"type\": \"CharLevel\", \"vocab\": {\"a\": 0}}}", "unsupported model type \"CharLevel\""},
        {"{\"model\": {\"type\": \"WordPiece\"}}", "model.vocab"},
        {"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": -3}}}", "non-negative integer, got -3"},
        {"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": \"zero\"}}}", "non-negative integer, got \"zero\""},
        {"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", "empty"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": {\"a\": 0}}}", "array of [piece, score]"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0], [\"b\"]]}}", "model.vocab[1]"},
        {"{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0, \"b\": 2147483647}}}", "ids up to 2147483647"},
        {"{\"added_tokens\": {}, \"model\": {\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}}}", "added_tokens"},
    };
    for (int i = 0; i < cases.length; i++) {
      Path file = dir.resolve("case" + i + ".json");
      Files.writeString(file, cases[i][0]);
      assertThat(rejects(file).getMessage()).as(cases[i][0]).contains(cases[i][1]);
    }
  }

  @Test
  void jsonTheTokenizersLibraryRejectsIsNamedWithItsReason(@TempDir Path dir) throws IOException {
    Path badMerge = dir.resolve("bad-merge.json");
    Files.writeString(badMerge, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b c\"]}}");
    assertThat(rejects(badMerge).getMessage()).contains("rejects it").contains("Merges");
    Path badNormalizer = dir.resolve("bad-normalizer.json");
    Files.writeString(badNormalizer, "{\"normalizer\": {\"type\": \"Shout\"}, \"model\": {\"type\": \"WordLevel\","
        + " \"vocab\": {\"a\": 0}, \"unk_token\": \"a\"}}");
    assertThat(rejects(badNormalizer).getMessage()).contains("rejects it");
  }
}
