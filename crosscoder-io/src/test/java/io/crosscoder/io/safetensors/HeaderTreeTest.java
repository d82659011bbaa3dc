package io.crosscoder.io.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The header's own tree reader against Jackson's ({@code ObjectMapper.readTree} with duplicate
 * keys refused, which the header reader used before): the same nodes, node classes included (an
 * int is an {@code IntNode}, a long a {@code LongNode}), for random JSON values, and the same
 * refusals.
 */
class HeaderTreeTest {
  private static final ObjectMapper JACKSON = JsonMapper.builder()
      .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY).build();

  @Test
  void randomValuesGiveJacksonsTrees() throws IOException {
    SplittableRandom random = new SplittableRandom(11);
    for (int i = 0; i < 2000; i++) {
      String json = value(random, 0);
      JsonNode expected = JACKSON.readTree(json);
      JsonNode actual = ours(json);
      assertThat(actual).as(json).isEqualTo(expected);
      assertThat(actual.getClass()).as(json).isEqualTo(expected.getClass());
      assertThat(actual.toString()).as(json).isEqualTo(expected.toString());
    }
  }

  @Test
  void namedValues() throws IOException {
    for (String json : new String[] {"{\"dtype\":\"BF16\",\"shape\":[1536,8960],\"data_offsets\":[0,27525120]}",
        "[2147483647, 2147483648, 9223372036854775807, 9223372036854775808, -9223372036854775809]",
        "[2.0, -0.0, 1e400, -1e-400, 1.5e3]", "{\"a\":null,\"b\":true,\"c\":false,\"d\":\"\\u00e9\\n\"}", "[]", "{}",
        "\"text\"", "0", "-1", "null"}) {
      assertThat(ours(json)).as(json).isEqualTo(JACKSON.readTree(json));
    }
  }

  @Test
  void duplicateKeysAreRefusedAtAnyDepth() {
    for (String json : new String[] {"{\"a\":1,\"a\":2}", "{\"x\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}",
        "[{\"k\":[],\"k\":null}]", "{\"a\":null,\"a\":null}"}) {
      assertThatThrownBy(() -> JACKSON.readTree(json)).as(json).isInstanceOf(JsonProcessingException.class);
      assertThatThrownBy(() -> ours(json)).as(json).isInstanceOf(JsonProcessingException.class)
          .hasMessageContaining("Duplicate field");
    }
  }

  @Test
  void truncatedValuesAreRefused() {
    for (String json : new String[] {"{\"a\":", "[1,", "{\"a\":[1,2}", "{\"a\":{\"b\":1}"}) {
      assertThatThrownBy(() -> ours(json)).as(json).isInstanceOf(JsonProcessingException.class);
    }
  }

  private static JsonNode ours(String json) throws IOException {
    try (JsonParser p = SafetensorsHeader.JSON.createParser(json)) {
      p.nextToken();
      return SafetensorsHeader.readTree(p);
    }
  }

  private static String value(SplittableRandom random, int depth) {
    int kind = random.nextInt(depth > 3 ? 6 : 8);
    return switch (kind) {
      case 0 -> Integer.toString(random.nextInt());
      case 1 -> Long.toString(random.nextLong());
      case 2 -> new java.math.BigInteger(80, new java.util.Random(random.nextLong())).negate().toString();
      case 3 -> Double.toString(random.nextDouble(-1e6, 1e6));
      case 4 -> random.nextBoolean() ? (random.nextBoolean() ? "true" : "false") : "null";
      case 5 -> "\"" + "s\\u00e9\\\"x".repeat(random.nextInt(3)) + random.nextInt(100) + "\"";
      case 6 -> {
        StringBuilder b = new StringBuilder("[");
        int n = random.nextInt(5);
        for (int i = 0; i < n; i++) {
          b.append(i == 0 ? "" : ",").append(value(random, depth + 1));
        }
        yield b.append(']').toString();
      }
      default -> {
        StringBuilder b = new StringBuilder("{");
        int n = random.nextInt(5);
        for (int i = 0; i < n; i++) {
          b.append(i == 0 ? "" : ",").append("\"k").append(i).append("\":").append(value(random, depth + 1));
        }
        yield b.append('}').toString();
      }
    };
  }
}
