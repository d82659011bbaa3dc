package io.crosscoder.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.InvalidInputException;
import io.crosscoder.model.FakeModels.ClosedFormModel;
import io.crosscoder.model.FakeModels.WordTokenizer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class HarvesterTest {
  private static final String[] TEXTS = {
      "the cat sat on the mat", "a dog", "every good boy deserves fudge and many more words follow here", "x"};

  private static ClosedFormModel model(String name, float scale, int width) {
    return new ClosedFormModel(name, 4, width, scale, new WordTokenizer(name, false), 512);
  }

  private static List<HarvestedBatch> run(Harvester h) {
    List<HarvestedBatch> out = new ArrayList<>();
    h.run(out::add);
    return out;
  }

  @Test
  void keepsEveryTextTokenOnceWithItsOwnActivationsAndDropsClsSepAndPadding() {
    ClosedFormModel a = model("a", 1f, 3);
    ClosedFormModel b = model("b", -2f, 3);
    Harvester h = Harvester.builder().base(a).target(b).site(Site.residPost(2)).text(FakeModels.corpus(TEXTS))
        .contextLength(6).batchSequences(2).build();
    List<HarvestedBatch> batches = run(h);
    WordTokenizer tok = new WordTokenizer("t", false);
    // The oracle: each text's words, cut into runs of 4 (6 minus [CLS] and [SEP]), each word at positions 1..4.
    List<int[]> expected = new ArrayList<>();
    long seq = 0;
    for (int doc = 0; doc < TEXTS.length; doc++) {
      String[] words = TEXTS[doc].split(" ");
      for (int from = 0; from < words.length; from += 4, seq++) {
        for (int i = from; i < Math.min(words.length, from + 4); i++) {
          expected.add(new int[] {doc, (int) seq, i - from + 1, tok.id(words[i])});
        }
      }
    }
    List<int[]> got = new ArrayList<>();
    for (HarvestedBatch hb : batches) {
      assertThat(hb.sequences().length).isLessThanOrEqualTo(2);
      for (int r = 0; r < hb.rows(); r++) {
        int s = hb.sequenceOfRow()[r];
        int pos = hb.positions()[r];
        int id = hb.tokens()[r];
        assertThat(hb.sequences()[s][pos]).isEqualTo(id);
        got.add(new int[] {(int) hb.documents()[s], (int) (hb.firstSequence() + s), pos, id});
        for (int j = 0; j < 3; j++) {
          assertThat((double) hb.activations().base()[r * 3 + j])
              .isCloseTo(ClosedFormModel.value(1f, id, pos, j, 3), org.assertj.core.data.Offset.offset(1e-4));
          assertThat((double) hb.activations().target()[r * 3 + j])
              .isCloseTo(ClosedFormModel.value(-2f, id, pos, j, 3), org.assertj.core.data.Offset.offset(1e-4));
        }
      }
    }
    assertThat(got).usingElementComparator((x, y) -> java.util.Arrays.compare(x, y)).containsExactlyElementsOf(expected);
    // Sequences are wrapped in [CLS] ... [SEP] and padded per batch; both models saw the same batches.
    assertThat(batches.get(0).sequences()[0]).startsWith(1).endsWith(2);
    assertThat(a.batches).hasSameSizeAs(b.batches);
    for (int i = 0; i < a.batches.size(); i++) {
      assertThat(a.batches.get(i).lengths()).isEqualTo(b.batches.get(i).lengths());
    }
  }

  @Test
  void aBatchRunsInGroupsOfSimilarLengthAndKeepsEachRowsOwnActivations() {
    // Three long documents and a short one in one batch: the short sequence runs on its own,
    // padded to its own length, and every row still gets its own activations.
    StringBuilder longText = new StringBuilder();
    for (int i = 0; i < 150; i++) {
      longText.append(i % 2 == 0 ? "the " : "cat ");
    }
    String[] texts = {longText.toString().strip(), "a dog", longText.toString().strip(), longText.toString().strip()};
    ClosedFormModel a = model("a", 1f, 3);
    ClosedFormModel b = model("b", -2f, 3);
    Harvester h = Harvester.builder().base(a).target(b).site(Site.residPost(2)).text(FakeModels.corpus(texts))
        .contextLength(200).batchSequences(4).build();
    List<HarvestedBatch> batches = run(h);
    assertThat(batches).hasSize(1);
    HarvestedBatch hb = batches.get(0);
    assertThat(hb.rows()).isEqualTo(3 * 150 + 2);
    for (int r = 0; r < hb.rows(); r++) {
      int id = hb.tokens()[r];
      int pos = hb.positions()[r];
      assertThat(hb.sequences()[hb.sequenceOfRow()[r]][pos]).isEqualTo(id);
      for (int j = 0; j < 3; j++) {
        assertThat((double) hb.activations().base()[r * 3 + j])
            .isCloseTo(ClosedFormModel.value(1f, id, pos, j, 3), org.assertj.core.data.Offset.offset(1e-4));
        assertThat((double) hb.activations().target()[r * 3 + j])
            .isCloseTo(ClosedFormModel.value(-2f, id, pos, j, 3), org.assertj.core.data.Offset.offset(1e-4));
      }
    }
    // The models saw two passes: the short sequence alone ([CLS] a dog [SEP]) and the three long ones.
    assertThat(a.batches).hasSize(2);
    assertThat(a.batches.get(0).sequences()).isEqualTo(1);
    assertThat(a.batches.get(0).length()).isEqualTo(4);
    assertThat(a.batches.get(1).sequences()).isEqualTo(3);
    assertThat(a.batches.get(1).length()).isEqualTo(152);
    assertThat(b.batches.get(0).lengths()).isEqualTo(a.batches.get(0).lengths());
  }

  @Test
  void keepsFirstPositionsAndSpecialTokensWhenAsked() {
    Harvester h = Harvester.builder().base(model("a", 1, 2)).target(model("b", 1, 2)).site(Site.residPre(0))
        .text(FakeModels.corpus("a dog")).keepFirstPosition(true).keepSpecialTokens(true).build();
    List<HarvestedBatch> batches = run(h);
    assertThat(batches).hasSize(1);
    assertThat(batches.get(0).tokens()).containsExactly(1, new WordTokenizer("t", false).id("a"),
        new WordTokenizer("t", false).id("dog"), 2);
    assertThat(batches.get(0).positions()).containsExactly(0, 1, 2, 3);
  }

  @Test
  void stopsAtMaxTokensAndAResumedRunGivesTheSameBatches() {
    Harvester h = Harvester.builder().base(model("a", 1, 2)).target(model("b", 3, 2)).site(Site.residPost(0))
        .text(FakeModels.corpus(TEXTS)).contextLength(4).batchSequences(2).maxTokens(13).build();
    List<HarvestedBatch> all = run(h);
    assertThat(all.stream().mapToInt(HarvestedBatch::rows).sum()).isEqualTo(13);
    // Resume after the first two batches (4 sequences).
    long rowsDone = all.get(0).rows() + all.get(1).rows();
    List<HarvestedBatch> rest = new ArrayList<>();
    h.run(4, rowsDone, rest::add);
    assertThat(rest).hasSize(all.size() - 2);
    for (int i = 0; i < rest.size(); i++) {
      HarvestedBatch x = all.get(i + 2);
      HarvestedBatch y = rest.get(i);
      assertThat(y.firstSequence()).isEqualTo(x.firstSequence());
      assertThat(y.tokens()).isEqualTo(x.tokens());
      assertThat(y.activations().base()).isEqualTo(x.activations().base());
      assertThat(y.activations().target()).isEqualTo(x.activations().target());
    }
    assertThatThrownBy(() -> h.run(3, 0, b -> {})).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void refusesTokenizersThatDisagreeNamingTheDocumentAndToken() {
    ClosedFormModel b = new ClosedFormModel("b", 4, 2, 1, new WordTokenizer("b-tokenizer.json", true), 512);
    Harvester h = Harvester.builder().base(model("a", 1, 2)).target(b).site(Site.residPost(0))
        .text(FakeModels.corpus("the cat", "a dog eats")).build();
    assertThatThrownBy(() -> run(h)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("document 1 (doc1) at token 2")
        .hasMessageContaining("b-tokenizer.json");
  }

  @Test
  void refusesModelsThatDoNotFitTogether() {
    assertThatThrownBy(() -> Harvester.builder().base(model("a", 1, 2)).target(model("b", 1, 3))
        .site(Site.residPost(0)).text(FakeModels.corpus("x")).build())
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("d = 2").hasMessageContaining("d = 3");
    assertThatThrownBy(() -> Harvester.builder().base(model("a", 1, 2)).target(model("b", 1, 2))
        .site(Site.residPost(4)).text(FakeModels.corpus("x")).build())
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("layers 0 to 3");
    assertThatThrownBy(() -> Harvester.builder().base(model("a", 1, 2)).target(model("b", 1, 2))
        .site(Site.residPost(0)).text(FakeModels.corpus("x")).contextLength(600).build())
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("512");
    assertThatThrownBy(() -> Harvester.builder().contextLength(1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Harvester.builder().base(model("a", 1, 2)).build()).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void sitesParseInEveryNamingAndSayWhereTheyAre() {
    assertThat(Site.parse("resid_post 6")).isEqualTo(Site.residPost(6));
    assertThat(Site.parse("resid_pre.0")).isEqualTo(Site.residPre(0));
    assertThat(Site.parse("blocks.13.hook_resid_post")).isEqualTo(Site.residPost(13));
    assertThat(Site.parse("RESID_POST11")).isEqualTo(Site.residPost(11));
    assertThat(Site.residPost(6).blocksBefore()).isEqualTo(7);
    assertThat(Site.residPre(6).blocksBefore()).isEqualTo(6);
    assertThat(Site.residPost(6)).hasToString("resid_post 6");
    for (String bad : new String[] {"resid_mid 3", "resid_post", "blocks.3.hook_resid_post 4", "resid_post 99999999999"}) {
      assertThatThrownBy(() -> Site.parse(bad)).as(bad).isInstanceOf(InvalidInputException.class);
    }
  }
}
