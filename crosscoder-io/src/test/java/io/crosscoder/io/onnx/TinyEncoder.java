package io.crosscoder.io.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Tiny transformer-shaped ONNX models written byte by byte for the runner's tests (with {@link
 * OnnxBytes}'s field writers and the field numbers of the ONNX specification's onnx.proto), and a
 * float64 forward pass of the same weights. The post-LN variant is what {@link EncoderGraph}
 * accepts, built differently from the bundled BERT exports: one {@code LayerNormalization} node
 * per norm (opset 17, default epsilon 1e-5), no {@code token_type_ids}, positions from {@code
 * Range}. Each block is "attention-like" only structurally: {@code a = LN(h + mask * softmax(h
 * Wa))}, {@code h' = LN(a + relu(a Wf))}; rows do not mix, which the structural rule does not
 * need. The other variants are encoders the runner must refuse.
 */
final class TinyEncoder {
  static final int VOCABULARY = 11;
  static final int WIDTH = 4;
  static final int POSITIONS = 6;
  static final int LAYERS = 2;
  static final double EPS = 1e-5;

  enum Variant {
    /** The accepted shape, int64 ids. */
    POST_LN,
    /** The accepted shape with int32 ids and mask. */
    POST_LN_INT32,
    /** Pre-LN blocks: h' = h + f(LN(h)), then a final LN. */
    PRE_LN,
    /** POST_LN with an extra graph input the runner would not know how to feed. */
    EXTRA_INPUT,
    /** POST_LN with every LayerNormalization replaced by Identity. */
    NO_LAYER_NORM,
  }

  final float[] words = random(VOCABULARY * WIDTH, 1);
  final float[] positions = random(POSITIONS * WIDTH, 2);
  final float[][] gammas = new float[1 + 2 * LAYERS][];
  final float[][] betas = new float[1 + 2 * LAYERS][];
  final float[][] attention = new float[LAYERS][];
  final float[][] feedForward = new float[LAYERS][];

  TinyEncoder() {
    for (int i = 0; i < gammas.length; i++) {
      gammas[i] = random(WIDTH, 10 + i);
      betas[i] = random(WIDTH, 20 + i);
    }
    for (int l = 0; l < LAYERS; l++) {
      attention[l] = random(WIDTH * WIDTH, 30 + l);
      feedForward[l] = random(WIDTH * WIDTH, 40 + l);
    }
  }

  private static float[] random(int n, long seed) {
    Random r = new Random(seed);
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) r.nextGaussian();
    }
    return out;
  }

  /** The serialized ModelProto of {@code variant}. */
  byte[] model(Variant variant) {
    int idType = variant == Variant.POST_LN_INT32 ? 6 : 7; // INT32 : INT64
    List<byte[]> nodes = new ArrayList<>();
    List<byte[]> inits = new ArrayList<>();
    inits.add(floats("word_embeddings", words, VOCABULARY, WIDTH));
    inits.add(floats("position_embeddings", positions, POSITIONS, WIDTH));
    inits.add(int64s("zero", new long[0], 0));
    inits.add(int64s("one", new long[0], 1));
    inits.add(int64s("axis2", new long[] {1}, 2));
    for (int i = 0; i < gammas.length; i++) {
      inits.add(floats("ln" + i + ".gamma", gammas[i], WIDTH));
      inits.add(floats("ln" + i + ".beta", betas[i], WIDTH));
    }
    for (int l = 0; l < LAYERS; l++) {
      inits.add(floats("block" + l + ".wa", attention[l], WIDTH, WIDTH));
      inits.add(floats("block" + l + ".wf", feedForward[l], WIDTH, WIDTH));
    }
    nodes.add(node("Gather", List.of("word_embeddings", "input_ids"), "words"));
    nodes.add(node("Shape", List.of("input_ids"), "shape"));
    nodes.add(node("Gather", List.of("shape", "one"), "length"));
    nodes.add(node("Range", List.of("zero", "length", "one"), "position_ids"));
    nodes.add(node("Gather", List.of("position_embeddings", "position_ids"), "positions"));
    nodes.add(node("Add", List.of("words", "positions"), "embeddings"));
    nodes.add(OnnxBytes.node("Cast", "mask_cast", List.of("attention_mask"), List.of("mask_f"), Map.of("to", 1L)));
    nodes.add(node("Unsqueeze", List.of("mask_f", "axis2"), "mask"));
    String layerNorm = variant == Variant.NO_LAYER_NORM ? "Identity" : "LayerNormalization";
    String h;
    if (variant == Variant.PRE_LN) {
      h = "embeddings";
      for (int l = 0; l < LAYERS; l++) {
        nodes.add(norm(layerNorm, h, 1 + 2 * l, "b" + l + ".n1"));
        nodes.add(node("MatMul", List.of("b" + l + ".n1", "block" + l + ".wa"), "b" + l + ".za"));
        nodes.add(node("Softmax", List.of("b" + l + ".za"), "b" + l + ".sa"));
        nodes.add(node("Mul", List.of("b" + l + ".sa", "mask"), "b" + l + ".ba"));
        nodes.add(node("Add", List.of(h, "b" + l + ".ba"), "b" + l + ".mid"));
        nodes.add(norm(layerNorm, "b" + l + ".mid", 2 + 2 * l, "b" + l + ".n2"));
        nodes.add(node("MatMul", List.of("b" + l + ".n2", "block" + l + ".wf"), "b" + l + ".zf"));
        nodes.add(node("Relu", List.of("b" + l + ".zf"), "b" + l + ".bf"));
        nodes.add(node("Add", List.of("b" + l + ".mid", "b" + l + ".bf"), "b" + l + ".out"));
        h = "b" + l + ".out";
      }
      nodes.add(norm(layerNorm, h, 0, "last_hidden_state"));
    } else {
      nodes.add(norm(layerNorm, "embeddings", 0, "h0"));
      h = "h0";
      for (int l = 0; l < LAYERS; l++) {
        nodes.add(node("MatMul", List.of(h, "block" + l + ".wa"), "b" + l + ".za"));
        nodes.add(node("Softmax", List.of("b" + l + ".za"), "b" + l + ".sa"));
        nodes.add(node("Mul", List.of("b" + l + ".sa", "mask"), "b" + l + ".ba"));
        nodes.add(node("Add", List.of(h, "b" + l + ".ba"), "b" + l + ".ra"));
        nodes.add(norm(layerNorm, "b" + l + ".ra", 1 + 2 * l, "b" + l + ".a"));
        nodes.add(node("MatMul", List.of("b" + l + ".a", "block" + l + ".wf"), "b" + l + ".zf"));
        nodes.add(node("Relu", List.of("b" + l + ".zf"), "b" + l + ".bf"));
        nodes.add(node("Add", List.of("b" + l + ".a", "b" + l + ".bf"), "b" + l + ".rf"));
        String next = l == LAYERS - 1 ? "last_hidden_state" : "h" + (l + 1);
        nodes.add(norm(layerNorm, "b" + l + ".rf", 2 + 2 * l, next));
        h = next;
      }
    }
    List<byte[]> inputs = new ArrayList<>(List.of(input("input_ids", idType), input("attention_mask", idType)));
    if (variant == Variant.EXTRA_INPUT) {
      inputs.add(input("position_ids", 7));
    }
    byte[] graph = OnnxBytes.write(out -> {
      for (byte[] n : nodes) {
        out.writeByteArray(1, n);
      }
      out.writeString(2, "tiny");
      for (byte[] t : inits) {
        out.writeByteArray(5, t);
      }
      for (byte[] in : inputs) {
        out.writeByteArray(11, in);
      }
      out.writeByteArray(12, OnnxBytes.write(o -> o.writeString(1, "last_hidden_state")));
    });
    return OnnxBytes.write(out -> {
      out.writeInt64(1, 8); // ir_version
      out.writeString(2, "crosscoder test");
      out.writeByteArray(7, graph);
      out.writeByteArray(8, OnnxBytes.write(o -> o.writeInt64(2, 17))); // opset_import ai.onnx 17
    });
  }

  private static byte[] node(String op, List<String> inputs, String output) {
    return OnnxBytes.node(op, output + "_node", inputs, List.of(output), Map.of());
  }

  private static byte[] norm(String op, String x, int index, String output) {
    List<String> inputs = op.equals("Identity") ? List.of(x) : List.of(x, "ln" + index + ".gamma", "ln" + index + ".beta");
    return OnnxBytes.node(op, output + "_node", inputs, List.of(output), Map.of());
  }

  /** A graph input: ValueInfoProto with a tensor type of {@code elemType} and shape [batch, sequence]. */
  private static byte[] input(String name, int elemType) {
    byte[] shape = OnnxBytes.write(s -> {
      s.writeByteArray(1, OnnxBytes.write(d -> d.writeString(2, "batch")));
      s.writeByteArray(1, OnnxBytes.write(d -> d.writeString(2, "sequence")));
    });
    byte[] tensorType = OnnxBytes.write(t -> {
      t.writeInt32(1, elemType);
      t.writeByteArray(2, shape);
    });
    byte[] type = OnnxBytes.write(t -> t.writeByteArray(1, tensorType));
    return OnnxBytes.write(v -> {
      v.writeString(1, name);
      v.writeByteArray(2, type);
    });
  }

  private static byte[] floats(String name, float[] values, long... dims) {
    return OnnxBytes.tensor(name, 1, dims).rawFloats(values).bytes();
  }

  private static byte[] int64s(String name, long[] dims, long... values) {
    ByteBuffer bb = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (long v : values) {
      bb.putLong(v);
    }
    return OnnxBytes.tensor(name, 7, dims).raw(bb.array()).bytes();
  }

  /** The residual stream of one unpadded sequence in float64: {@code [site][position][width]}. */
  double[][][] forward(int[] ids) {
    int n = ids.length;
    double[][][] sites = new double[LAYERS + 1][n][];
    for (int t = 0; t < n; t++) {
      double[] e = new double[WIDTH];
      for (int i = 0; i < WIDTH; i++) {
        e[i] = words[ids[t] * WIDTH + i] + positions[t * WIDTH + i];
      }
      double[] h = norm(e, 0);
      sites[0][t] = h;
      for (int l = 0; l < LAYERS; l++) {
        double[] s = softmax(times(h, attention[l]));
        double[] x = new double[WIDTH];
        for (int i = 0; i < WIDTH; i++) {
          x[i] = h[i] + s[i];
        }
        double[] a = norm(x, 1 + 2 * l);
        double[] f = times(a, feedForward[l]);
        for (int i = 0; i < WIDTH; i++) {
          x[i] = a[i] + Math.max(0, f[i]);
        }
        h = norm(x, 2 + 2 * l);
        sites[l + 1][t] = h;
      }
    }
    return sites;
  }

  private static double[] times(double[] x, float[] w) {
    double[] y = new double[WIDTH];
    for (int i = 0; i < WIDTH; i++) {
      for (int j = 0; j < WIDTH; j++) {
        y[j] += x[i] * w[i * WIDTH + j];
      }
    }
    return y;
  }

  private static double[] softmax(double[] z) {
    double max = Double.NEGATIVE_INFINITY;
    for (double v : z) {
      max = Math.max(max, v);
    }
    double sum = 0;
    double[] out = new double[z.length];
    for (int i = 0; i < z.length; i++) {
      out[i] = Math.exp(z[i] - max);
      sum += out[i];
    }
    for (int i = 0; i < z.length; i++) {
      out[i] /= sum;
    }
    return out;
  }

  private double[] norm(double[] x, int index) {
    double mean = 0;
    for (double v : x) {
      mean += v;
    }
    mean /= x.length;
    double var = 0;
    for (double v : x) {
      var += (v - mean) * (v - mean);
    }
    var /= x.length;
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      y[i] = (x[i] - mean) / Math.sqrt(var + EPS) * gammas[index][i] + betas[index][i];
    }
    return y;
  }
}
