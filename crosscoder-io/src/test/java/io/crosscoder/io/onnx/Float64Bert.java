package io.crosscoder.io.onnx;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.commons.math3.special.Erf;

/**
 * A plain float64 forward pass of a Hugging Face {@code BertModel} exported to ONNX by PyTorch,
 * written for the tests from the BERT paper and Hugging Face's {@code modeling_bert.py} (read for
 * the math only), independent of ONNX Runtime and of the code under test: the weights come from
 * {@link OnnxOracle} (the test's own protobuf decoding of the initializers), the matrix of each
 * {@code nn.Linear} is the second input of the MatMul node the exporter named after it ({@code
 * [in, out]}, so {@code y = x W + b}), and the LayerNorm epsilon and the attention scale are read
 * from the exporter's {@code Constant} nodes.
 *
 * <pre>
 * h_0 = LN(word[id] + position[t] + token_type[0])
 * per block: q, k, v = h Wq + bq, h Wk + bk, h Wv + bv, split into heads of size dh
 *            attention_head = softmax_over_real_keys(q k^T / sqrt(dh)) v        (padding keys get weight 0)
 *            a = LN(h + concat(heads) Wo + bo)
 *            h' = LN(a + gelu(a Wi + bi) Wo2 + bo2),  gelu(x) = x (1 + erf(x / sqrt 2)) / 2
 * LN(x) = (x - mean) / sqrt(var + eps) * gamma + beta   (biased variance)
 * </pre>
 */
final class Float64Bert {
  final int layers;
  final int width;
  final int heads;
  final int vocabulary;
  final double embeddingEps;
  private final double[][] words;
  private final double[][] positions;
  private final double[] tokenType0;
  private final double[] embGamma;
  private final double[] embBeta;
  private final Block[] blocks;

  private record Linear(double[][] w, double[] b) {
    /** x W + b for a row x. */
    double[] apply(double[] x) {
      double[] y = b.clone();
      for (int i = 0; i < x.length; i++) {
        double xi = x[i];
        double[] row = w[i];
        for (int j = 0; j < y.length; j++) {
          y[j] += xi * row[j];
        }
      }
      return y;
    }
  }

  private record Norm(double[] gamma, double[] beta, double eps) {
    double[] apply(double[] x) {
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
      double inv = 1 / Math.sqrt(var + eps);
      double[] y = new double[x.length];
      for (int i = 0; i < x.length; i++) {
        y[i] = (x[i] - mean) * inv * gamma[i] + beta[i];
      }
      return y;
    }
  }

  private record Block(Linear q, Linear k, Linear v, Linear o, Norm attentionNorm, Linear up, Linear down,
      Norm outputNorm) {}

  private Float64Bert(OnnxOracle.Graph g) {
    int n = 0;
    while (g.initializers().containsKey("encoder.layer." + n + ".output.LayerNorm.weight")) {
      n++;
    }
    layers = n;
    words = matrix(g, "embeddings.word_embeddings.weight");
    positions = matrix(g, "embeddings.position_embeddings.weight");
    tokenType0 = matrix(g, "embeddings.token_type_embeddings.weight")[0];
    vocabulary = words.length;
    width = words[0].length;
    embGamma = vector(g, "embeddings.LayerNorm.weight");
    embBeta = vector(g, "embeddings.LayerNorm.bias");
    embeddingEps = eps(g, "/embeddings/LayerNorm/Add");
    double scale = scalar(g, g.nodeInputs().get("/encoder/layer.0/attention/self/Div").get(1));
    heads = (int) Math.round(width / (scale * scale));
    blocks = new Block[layers];
    for (int l = 0; l < layers; l++) {
      String p = "encoder.layer." + l + ".";
      String node = "/encoder/layer." + l + "/";
      blocks[l] = new Block(linear(g, l, "attention.self.query"), linear(g, l, "attention.self.key"),
          linear(g, l, "attention.self.value"), linear(g, l, "attention.output.dense"),
          new Norm(vector(g, p + "attention.output.LayerNorm.weight"), vector(g, p + "attention.output.LayerNorm.bias"),
              eps(g, node + "attention/output/LayerNorm/Add")),
          linear(g, l, "intermediate.dense"), linear(g, l, "output.dense"),
          new Norm(vector(g, p + "output.LayerNorm.weight"), vector(g, p + "output.LayerNorm.bias"),
              eps(g, node + "output/LayerNorm/Add")));
    }
  }

  /** Reads the BERT weights of {@code file}. */
  static Float64Bert read(Path file, int maxLayers) throws IOException {
    Set<String> matMuls = new HashSet<>();
    for (int l = 0; l < maxLayers; l++) {
      for (String m : OnnxBgeModelsTest.LINEAR) {
        matMuls.add(OnnxBgeModelsTest.matMulNode(l, m));
      }
    }
    return new Float64Bert(OnnxOracle.read(file, n -> n.startsWith("embeddings.") || n.startsWith("encoder."), matMuls));
  }

  private static Linear linear(OnnxOracle.Graph g, int layer, String module) {
    String w = g.nodeInputs().get(OnnxBgeModelsTest.matMulNode(layer, module)).get(1);
    return new Linear(matrix(g, w), vector(g, "encoder.layer." + layer + "." + module + ".bias"));
  }

  private static double eps(OnnxOracle.Graph g, String addNode) {
    return scalar(g, g.nodeInputs().get(addNode).get(1));
  }

  private static double scalar(OnnxOracle.Graph g, String constant) {
    OnnxOracle.Stored s = g.constants().get(constant);
    if (s.raw().length == 4) {
      return ByteBuffer.wrap(s.raw()).order(ByteOrder.LITTLE_ENDIAN).getFloat();
    }
    return s.floatData().getFirst();
  }

  private static double[] vector(OnnxOracle.Graph g, String name) {
    float[] f = g.initializers().get(name).floats();
    double[] out = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      out[i] = f[i];
    }
    return out;
  }

  private static double[][] matrix(OnnxOracle.Graph g, String name) {
    OnnxOracle.Stored s = g.initializers().get(name);
    float[] f = s.floats();
    int rows = (int) s.dims()[0];
    int cols = (int) s.dims()[1];
    double[][] out = new double[rows][cols];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        out[r][c] = f[r * cols + c];
      }
    }
    return out;
  }

  /**
   * The residual stream of a right-padded batch: {@code [sequence][site][position][width]}, site 0
   * the embedding output and site {@code L + 1} the output of block {@code L}. Positions {@code t
   * >= lengths[s]} are padding: computed (as a batched model computes them) but never attended to.
   */
  double[][][][] forward(int[][] ids, int[] lengths) {
    double[][][][] out = new double[ids.length][][][];
    for (int s = 0; s < ids.length; s++) {
      out[s] = sequence(ids[s], lengths[s]);
    }
    return out;
  }

  private double[][][] sequence(int[] ids, int length) {
    int n = ids.length;
    double[][][] sites = new double[layers + 1][][];
    Norm embNorm = new Norm(embGamma, embBeta, embeddingEps);
    double[][] h = new double[n][];
    for (int t = 0; t < n; t++) {
      double[] e = new double[width];
      for (int i = 0; i < width; i++) {
        e[i] = words[ids[t]][i] + positions[t][i] + tokenType0[i];
      }
      h[t] = embNorm.apply(e);
    }
    sites[0] = h;
    int dh = width / heads;
    double scale = 1 / Math.sqrt(dh);
    for (int l = 0; l < layers; l++) {
      Block b = blocks[l];
      double[][] q = new double[n][];
      double[][] k = new double[n][];
      double[][] v = new double[n][];
      for (int t = 0; t < n; t++) {
        q[t] = b.q().apply(h[t]);
        k[t] = b.k().apply(h[t]);
        v[t] = b.v().apply(h[t]);
      }
      double[][] next = new double[n][];
      for (int t = 0; t < n; t++) {
        double[] context = new double[width];
        for (int head = 0; head < heads; head++) {
          int off = head * dh;
          double[] score = new double[length];
          double max = Double.NEGATIVE_INFINITY;
          for (int u = 0; u < length; u++) { // keys past the length are padding: masked out
            double dot = 0;
            for (int i = 0; i < dh; i++) {
              dot += q[t][off + i] * k[u][off + i];
            }
            score[u] = dot * scale;
            max = Math.max(max, score[u]);
          }
          double sum = 0;
          for (int u = 0; u < length; u++) {
            score[u] = Math.exp(score[u] - max);
            sum += score[u];
          }
          for (int u = 0; u < length; u++) {
            double w = score[u] / sum;
            for (int i = 0; i < dh; i++) {
              context[off + i] += w * v[u][off + i];
            }
          }
        }
        double[] attention = b.o().apply(context);
        double[] x = new double[width];
        for (int i = 0; i < width; i++) {
          x[i] = h[t][i] + attention[i];
        }
        double[] a = b.attentionNorm().apply(x);
        double[] up = b.up().apply(a);
        for (int i = 0; i < up.length; i++) {
          up[i] = up[i] * (1 + Erf.erf(up[i] / Math.sqrt(2))) / 2;
        }
        double[] down = b.down().apply(up);
        double[] y = new double[width];
        for (int i = 0; i < width; i++) {
          y[i] = a[i] + down[i];
        }
        next[t] = b.outputNorm().apply(y);
      }
      h = next;
      sites[l + 1] = h;
    }
    return sites;
  }

  /** The LayerNorm epsilons of all norms (embedding first), for the test to report. */
  List<Double> epsilons() {
    List<Double> out = new java.util.ArrayList<>();
    out.add(embeddingEps);
    for (Block b : blocks) {
      out.add(b.attentionNorm().eps());
      out.add(b.outputNorm().eps());
    }
    return out;
  }
}
