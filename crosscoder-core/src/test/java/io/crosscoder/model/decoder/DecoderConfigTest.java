package io.crosscoder.model.decoder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.InvalidInputException;
import java.nio.file.Path;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * {@link DecoderConfig} on configs as real checkpoints write them (stories260K, Qwen2.5-1.5B,
 * Mistral-7B-v0.1, Llama-3.1-8B, Qwen3-0.6B, with their fields as published), the defaults of the
 * {@code transformers} classes, the sliding-window rules per architecture, and the rope
 * frequencies against values worked out by hand.
 */
class DecoderConfigTest {
  private static final Path FILE = Path.of("model", "config.json");
  private static final ObjectMapper JSON = new ObjectMapper();

  private static DecoderConfig parse(String json) {
    try {
      return DecoderConfig.parse(JSON.readTree(json.replace('\'', '"')), FILE);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new AssertionError(e);
    }
  }

  private static final String QWEN25_15B = """
      {'architectures': ['Qwen2ForCausalLM'], 'bos_token_id': 151643, 'eos_token_id': 151643,
       'hidden_act': 'silu', 'hidden_size': 1536, 'initializer_range': 0.02, 'intermediate_size': 8960,
       'max_position_embeddings': 131072, 'max_window_layers': 21, 'model_type': 'qwen2',
       'num_attention_heads': 12, 'num_hidden_layers': 28, 'num_key_value_heads': 2, 'rms_norm_eps': 1e-06,
       'rope_theta': 1000000.0, 'sliding_window': 131072, 'tie_word_embeddings': true,
       'torch_dtype': 'bfloat16', 'use_cache': true, 'use_sliding_window': false, 'vocab_size': 151936}""";

  @Test
  void qwen25IsReadWithItsBiasesAndNoWindow() {
    DecoderConfig c = parse(QWEN25_15B);
    assertThat(c.architecture()).isEqualTo(DecoderConfig.Architecture.QWEN2);
    assertThat(c.hiddenSize()).isEqualTo(1536);
    assertThat(c.headDim()).isEqualTo(128);
    assertThat(c.heads()).isEqualTo(12);
    assertThat(c.keyValueHeads()).isEqualTo(2);
    assertThat(c.intermediateSize()).isEqualTo(8960);
    assertThat(c.vocabularySize()).isEqualTo(151936);
    assertThat(c.ropeTheta()).isEqualTo(1e6);
    assertThat(c.rmsNormEps()).isEqualTo(1e-6);
    assertThat(c.tiedEmbeddings()).isTrue();
    assertThat(c.qkvBias()).isTrue();
    assertThat(c.outputBias()).isFalse();
    assertThat(c.qkNorm()).isFalse();
    assertThat(IntStream.range(0, 28).map(c::slidingWindow)).as("use_sliding_window false").containsOnly(0);
    assertThat(c.eosTokenIds()).containsExactly(151643);
    assertThat(c.padTokenId()).isEmpty();
    assertThat(c.dtype()).isEqualTo("bfloat16");
    assertThat(c.source()).isEqualTo(FILE);
    assertThat(c.toString()).contains("Qwen2ForCausalLM: 28 blocks, width 1536, 12 query / 2 key-value heads of 128");
  }

  @Test
  void qwen2WithUseSlidingWindowHasItFromMaxWindowLayersOn() {
    DecoderConfig c = parse(QWEN25_15B.replace("'use_sliding_window': false", "'use_sliding_window': true")
        .replace("'sliding_window': 131072", "'sliding_window': 4096"));
    assertThat(IntStream.range(0, 28).map(c::slidingWindow).toArray())
        .containsExactly(IntStream.range(0, 28).map(i -> i >= 21 ? 4096 : 0).toArray());
    DecoderConfig explicit = parse(QWEN25_15B.replace("'use_sliding_window': false", "'use_sliding_window': true,"
        + " 'layer_types': [" + "'sliding_attention', ".repeat(27) + "'full_attention']"));
    assertThat(explicit.slidingWindow(0)).isEqualTo(131072);
    assertThat(explicit.slidingWindow(27)).isZero();
  }

  @Test
  void mistralHasItsWindowOnEveryLayerOrNone() {
    String mistral = """
        {'architectures': ['MistralForCausalLM'], 'hidden_size': 4096, 'intermediate_size': 14336,
         'max_position_embeddings': 32768, 'num_attention_heads': 32, 'num_hidden_layers': 32,
         'num_key_value_heads': 8, 'rms_norm_eps': 1e-05, 'rope_theta': 10000.0, 'sliding_window': 4096,
         'tie_word_embeddings': false, 'vocab_size': 32000, 'bos_token_id': 1, 'eos_token_id': 2}""";
    DecoderConfig c = parse(mistral);
    assertThat(IntStream.range(0, 32).map(c::slidingWindow)).containsOnly(4096);
    assertThat(c.qkvBias()).isFalse();
    assertThat(c.toString()).contains("sliding window 4096 on 32 layers");
    DecoderConfig v02 = parse(mistral.replace("'sliding_window': 4096", "'sliding_window': null"));
    assertThat(IntStream.range(0, 32).map(v02::slidingWindow)).containsOnly(0);
  }

  @Test
  void llama31WithLlama3RopeScalingAndDefaults() {
    DecoderConfig c = parse("""
        {'architectures': ['LlamaForCausalLM'], 'attention_bias': false, 'bos_token_id': 128000,
         'eos_token_id': [128001, 128008, 128009], 'hidden_act': 'silu', 'hidden_size': 4096,
         'intermediate_size': 14336, 'max_position_embeddings': 131072, 'mlp_bias': false,
         'model_type': 'llama', 'num_attention_heads': 32, 'num_hidden_layers': 32, 'num_key_value_heads': 8,
         'rms_norm_eps': 1e-05, 'rope_scaling': {'factor': 8.0, 'low_freq_factor': 1.0,
         'high_freq_factor': 4.0, 'original_max_position_embeddings': 8192, 'rope_type': 'llama3'},
         'rope_theta': 500000.0, 'tie_word_embeddings': false, 'vocab_size': 128256}""");
    assertThat(c.ropeScaling()).isEqualTo(RopeScaling.llama3(8, 1, 4, 8192));
    assertThat(c.eosTokenIds()).containsExactly(128001, 128008, 128009);
    assertThat(c.qkvBias()).isFalse();
    assertThat(c.mlpBias()).isFalse();
    // Defaults of LlamaConfig when fields are absent.
    DecoderConfig bare = parse("{'model_type': 'llama', 'hidden_size': 64, 'intermediate_size': 172,"
        + " 'num_hidden_layers': 5, 'num_attention_heads': 8, 'vocab_size': 512, 'max_position_embeddings': 512}");
    assertThat(bare.architecture()).isEqualTo(DecoderConfig.Architecture.LLAMA);
    assertThat(bare.keyValueHeads()).isEqualTo(8);
    assertThat(bare.ropeTheta()).isEqualTo(10000);
    assertThat(bare.rmsNormEps()).isEqualTo(1e-6);
    assertThat(bare.tiedEmbeddings()).isFalse();
    assertThat(bare.ropeScaling()).isEqualTo(RopeScaling.NONE);
  }

  @Test
  void qwen3HasHeadNormsAndAnExplicitHeadDim() {
    DecoderConfig c = parse("""
        {'architectures': ['Qwen3ForCausalLM'], 'attention_bias': false, 'head_dim': 128, 'hidden_size': 1024,
         'intermediate_size': 3072, 'max_position_embeddings': 40960, 'max_window_layers': 28,
         'num_attention_heads': 16, 'num_hidden_layers': 28, 'num_key_value_heads': 8, 'rms_norm_eps': 1e-06,
         'rope_scaling': null, 'rope_theta': 1000000, 'sliding_window': null, 'tie_word_embeddings': true,
         'use_sliding_window': false, 'vocab_size': 151936}""");
    assertThat(c.qkNorm()).isTrue();
    assertThat(c.headDim()).isEqualTo(128);
    assertThat(c.qkvBias()).isFalse();
  }

  @Test
  void ropeParametersOfNewerConfigsAreRead() {
    DecoderConfig c = parse("{'architectures': ['LlamaForCausalLM'], 'hidden_size': 64, 'intermediate_size': 172,"
        + " 'num_hidden_layers': 5, 'num_attention_heads': 8, 'vocab_size': 512, 'max_position_embeddings': 512,"
        + " 'rope_parameters': {'rope_type': 'linear', 'factor': 2.0, 'rope_theta': 50000.0}}");
    assertThat(c.ropeTheta()).isEqualTo(50000);
    assertThat(c.ropeScaling()).isEqualTo(RopeScaling.linear(2));
  }

  @Test
  void inverseFrequenciesByHand() {
    // theta 10000, head_dim 8: 10000^(-2i/8) = 1, 0.1, 0.01, 0.001.
    assertThat(RopeScaling.NONE.inverseFrequencies(10000, 8)).containsExactly(1f, 0.1f, 0.01f, 0.001f);
    assertThat(RopeScaling.linear(4).inverseFrequencies(10000, 8)).containsExactly(0.25f, 0.025f, 0.0025f, 0.00025f);
    // llama3, factor 8, low 1, high 4, original 64: wavelengths 2 pi / inv = 6.28 (< 64/4 = 16: kept),
    // 62.8 (between 16 and 64: s = (64 / 62.83 - 1) / 3 = 0.0061972, 0.0125 + 0.0875 s = 0.0130422560),
    // 628 and 6283 (> 64: divided by 8).
    float[] llama3 = RopeScaling.llama3(8, 1, 4, 64).inverseFrequencies(10000, 8);
    assertThat(llama3[0]).isEqualTo(1f);
    assertThat((double) llama3[1]).isCloseTo(0.013042256043820463, within(1e-9));
    assertThat(llama3[2]).isEqualTo(0.00125f);
    assertThat(llama3[3]).isEqualTo(0.000125f);
  }

  @Test
  void unsupportedOrMalformedFieldsAreNamed() {
    assertThatThrownBy(() -> parse("{'model_type': 'gemma2', 'hidden_size': 8}"))
        .isInstanceOf(InvalidInputException.class).hasMessageStartingWith(FILE.toString())
        .hasMessageContaining("'model_type': 'gemma2' is not supported");
    assertThatThrownBy(() -> parse("{'hidden_size': 8}")).hasMessageContaining("'architectures': is missing");
    assertThatThrownBy(() -> parse(QWEN25_15B.replace("'rope_theta': 1000000.0",
        "'rope_theta': 1000000.0, 'rope_scaling': {'type': 'dynamic', 'factor': 2.0}")))
        .hasMessageContaining("'rope_scaling.type': 'dynamic' is not supported");
    assertThatThrownBy(() -> parse(QWEN25_15B.replace("'num_key_value_heads': 2", "'num_key_value_heads': 5")))
        .hasMessageContaining("'num_key_value_heads'").hasMessageContaining("not a multiple");
    assertThatThrownBy(() -> parse(QWEN25_15B.replace("'vocab_size': 151936", "'vocab_size': -3")))
        .hasMessageContaining("'vocab_size': must be a positive integer");
    assertThatThrownBy(() -> parse(QWEN25_15B.replace("'vocab_size': 151936", "'vocab_size': 1e12")))
        .hasMessageContaining("'vocab_size'");
    assertThatThrownBy(() -> parse(QWEN25_15B.replace("'hidden_size': 1536", "'hidden_size': 1537")))
        .hasMessageContaining("not a multiple of num_attention_heads");
    assertThatThrownBy(() -> parse(QWEN25_15B.replace("'eos_token_id': 151643", "'eos_token_id': 'x'")))
        .hasMessageContaining("'eos_token_id'");
    assertThatThrownBy(() -> DecoderConfig.parse(JSON.createArrayNode(), FILE)).hasMessageContaining("not a JSON object");
  }

  @Test
  void aConfigThatIsNotJsonOrMissingNamesTheFile(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path missing = dir.resolve("config.json");
    assertThatThrownBy(() -> DecoderConfig.read(missing)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining(missing.toString()).hasMessageContaining("no such file");
    java.nio.file.Files.writeString(missing, "{'a':");
    assertThatThrownBy(() -> DecoderConfig.read(missing)).hasMessageContaining("not valid JSON");
    JsonNode ok = JSON.readTree(QWEN25_15B.replace('\'', '"'));
    java.nio.file.Files.writeString(missing, ok.toString());
    assertThat(DecoderConfig.read(missing).layers()).isEqualTo(28);
  }
}
