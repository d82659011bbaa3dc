// Runs every kernel of crosscoder_kernels.cu on the CPU emulator (emulator.h) against independent
// oracles: plain loops in f64, std::sort with Java's Float.compare, a bf16 rounding by nearest
// candidate, an f16 decoding by ldexp. Launch configurations are those of README.md, plus tiny grids
// that make every grid-stride and row-stride loop take more than one turn.
//
// Build and run with run-emulated-tests.sh (needs g++ only).

#include "emulator.h"

#include <algorithm>
#include <cinttypes>
#include <random>
#include <string>

// The kernels' expf is CUDA's (within 2 ulp), modelled by the emulator at its worst (emulator.h).
#define expf emu_expf
#include KERNELS_INC
#undef expf

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                            \
  do {                                                              \
    checks++;                                                       \
    if (!(cond)) {                                                  \
      failures++;                                                   \
      if (failures < 40) {                                          \
        std::fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);   \
        std::fprintf(stderr, __VA_ARGS__);                          \
        std::fprintf(stderr, "\n");                                 \
      }                                                             \
    }                                                               \
  } while (0)

static std::mt19937_64 rng(20250801);

static unsigned bitsOf(float f) { return __float_as_uint(f); }
static float fromBits(unsigned u) { return __uint_as_float(u); }

static float uniform(float lo, float hi) {
  return std::uniform_real_distribution<float>(lo, hi)(rng);
}

/** Mostly ordinary values with the awkward ones mixed in. */
static float awkward() {
  switch (rng() % 16) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return fromBits(0x7fc00000u);
    case 3: return fromBits(0xffc00123u);          // negative NaN with payload
    case 4: return INFINITY;
    case 5: return -INFINITY;
    case 6: return fromBits(0x00000001u + (unsigned)(rng() % 1000));  // subnormal
    case 7: return (float)(int)(rng() % 5) - 2.0f;  // small integers: many ties
    default: return uniform(-3.0f, 3.0f);
  }
}

static unsigned gridFor(unsigned long long n) {
  unsigned long long g = (n + 255) / 256;
  return (unsigned)std::max(1ull, std::min(g, 65535ull * 8));
}

// ---------------------------------------------------------------------------------------------
// Element-wise

static void testElementwise() {
  for (unsigned long long n : {1ull, 255ull, 256ull, 1000ull, 5000ull}) {
    for (unsigned grid : {gridFor(n), 1u, 3u}) {
      std::vector<float> x(n), y(n), out(n, 7.0f);
      for (auto& v : x) v = awkward();
      for (auto& v : y) v = awkward();

      std::vector<float> f(n, 1.0f);
      emu::launch(grid, 256, 0, [&] { cc_fill_f32(f.data(), n, -2.5f); });
      for (size_t i = 0; i < n; i++) CHECK(bitsOf(f[i]) == bitsOf(-2.5f), "fill %zu", i);

      std::vector<float> s = x;
      emu::launch(grid, 256, 0, [&] { cc_scale_f32(s.data(), n, 0.75f); });
      for (size_t i = 0; i < n; i++) {
        float e = (float)(0.75 * (double)x[i]);  // one rounding of an exact double product
        CHECK(bitsOf(s[i]) == bitsOf(e) || (std::isnan(s[i]) && std::isnan(e)), "scale %zu", i);
      }

      std::vector<float> ay = y;
      emu::launch(grid, 256, 0, [&] { cc_axpy_f32(x.data(), ay.data(), n, 1.25f); });
      for (size_t i = 0; i < n; i++) {
        float e = std::fmaf(1.25f, x[i], y[i]);
        CHECK(bitsOf(ay[i]) == bitsOf(e) || (std::isnan(ay[i]) && std::isnan(e)), "axpy %zu", i);
      }

      emu::launch(grid, 256, 0, [&] { cc_add_f32(x.data(), y.data(), out.data(), n); });
      for (size_t i = 0; i < n; i++) {
        float e = (float)((double)x[i] + (double)y[i]);
        CHECK(bitsOf(out[i]) == bitsOf(e) || (std::isnan(out[i]) && std::isnan(e)), "add %zu", i);
      }
      emu::launch(grid, 256, 0, [&] { cc_sub_f32(x.data(), y.data(), out.data(), n); });
      for (size_t i = 0; i < n; i++) {
        float e = (float)((double)x[i] - (double)y[i]);
        CHECK(bitsOf(out[i]) == bitsOf(e) || (std::isnan(out[i]) && std::isnan(e)), "sub %zu", i);
      }
      emu::launch(grid, 256, 0, [&] { cc_mul_f32(x.data(), y.data(), out.data(), n); });
      for (size_t i = 0; i < n; i++) {
        float e = (float)((double)x[i] * (double)y[i]);
        CHECK(bitsOf(out[i]) == bitsOf(e) || (std::isnan(out[i]) && std::isnan(e)), "mul %zu", i);
      }
      // in place: out == x
      std::vector<float> inplace = x;
      emu::launch(grid, 256, 0, [&] { cc_add_f32(inplace.data(), y.data(), inplace.data(), n); });
      for (size_t i = 0; i < n; i++) {
        float e = (float)((double)x[i] + (double)y[i]);
        CHECK(bitsOf(inplace[i]) == bitsOf(e) || (std::isnan(inplace[i]) && std::isnan(e)), "add in place %zu", i);
      }

      emu::launch(grid, 256, 0, [&] { cc_relu_backward_f32(x.data(), y.data(), out.data(), n); });
      for (size_t i = 0; i < n; i++) {
        float e = y[i] > 0 ? x[i] : 0.0f;
        CHECK(bitsOf(out[i]) == bitsOf(e), "relu backward %zu", i);
      }
    }
  }
}

/** bf16 rounding oracle: nearest of the two bf16 neighbours by exact f64 distance, ties to even. */
static unsigned short bf16Oracle(float f) {
  unsigned u = bitsOf(f);
  if (std::isnan(f)) return (unsigned short)((u >> 16) | 0x40);
  if (std::isinf(f)) return (unsigned short)(u >> 16);
  unsigned short down = (unsigned short)(u >> 16);  // toward zero
  unsigned short up = (unsigned short)(down + 1);    // away from zero (may become inf)
  double dd = std::fabs((double)fromBits((unsigned)down << 16) - (double)f);
  double du = std::fabs((double)fromBits((unsigned)up << 16) - (double)f);
  if ((up & 0x7fff) == 0x7f80) {
    // Overflow rounds to infinity when f is at or beyond the midpoint of max and 2^128.
    double max = (double)fromBits((unsigned)down << 16);
    double next = std::ldexp(1.0, 128) * (f < 0 ? -1 : 1);
    du = std::fabs(next - (double)f);
    (void)max;
  }
  if (dd < du) return down;
  if (du < dd) return up;
  return (down & 1) ? up : down;
}

static void testBf16() {
  std::vector<float> src;
  for (int i = 0; i < 20000; i++) src.push_back(awkward());
  for (int i = 0; i < 20000; i++) src.push_back(fromBits((unsigned)rng()));
  // exact ties and overflow edges
  src.push_back(fromBits(0x3f808000u));  // tie, even down
  src.push_back(fromBits(0x3f818000u));  // tie, odd -> up
  src.push_back(fromBits(0x7f7fffffu));  // max float -> inf
  src.push_back(fromBits(0x7f7f7fffu));  // just below the midpoint -> bf16 max
  src.push_back(fromBits(0x7f7f8000u));  // midpoint, odd... 0x7f7f is odd -> up -> inf
  src.push_back(fromBits(0xff7fffffu));
  src.push_back(fromBits(0x7f800001u));  // signalling NaN: must stay NaN
  src.push_back(fromBits(0xff800001u));
  unsigned long long n = src.size();
  std::vector<unsigned short> dst(n);
  emu::launch(7, 256, 0, [&] { cc_f32_to_bf16(src.data(), dst.data(), n); });
  for (size_t i = 0; i < n; i++) {
    CHECK(dst[i] == bf16Oracle(src[i]), "bf16 of %08x: %04x, expected %04x", bitsOf(src[i]), dst[i], bf16Oracle(src[i]));
  }
  std::vector<float> back(n);
  emu::launch(gridFor(n), 256, 0, [&] { cc_bf16_to_f32(dst.data(), back.data(), n); });
  for (size_t i = 0; i < n; i++) {
    CHECK(bitsOf(back[i]) == ((unsigned)dst[i] << 16), "bf16 widen %zu", i);
  }
}

static void testAdam() {
  unsigned long long n = 3001;
  std::vector<float> p(n), g(n), m(n), v(n);
  for (size_t i = 0; i < n; i++) {
    p[i] = uniform(-1, 1);
    g[i] = uniform(-1e-2f, 1e-2f) * (i % 7 == 0 ? 1e-20f : 1.0f);
    m[i] = uniform(-1e-3f, 1e-3f);
    v[i] = uniform(0, 1e-4f);
  }
  float beta1 = 0.9f, beta2 = 0.999f, lr = 1e-3f, eps = 1e-8f;
  long step = 7;
  double bc1 = 1 - std::pow((double)beta1, step), bc2 = 1 - std::pow((double)beta2, step);
  float stepSize = (float)(lr / bc1), rsqrtBc2 = (float)(1 / std::sqrt(bc2));
  std::vector<float> p2 = p, m2 = m, v2 = v;
  emu::launch(3, 256, 0, [&] { cc_adam_f32(p2.data(), g.data(), m2.data(), v2.data(), n, beta1, beta2, stepSize, rsqrtBc2, eps); });
  // Java's ScalarElementwise.adam, each f32 operation rounded (double then float is exact for one op).
  float c1 = 1 - beta1, c2 = 1 - beta2;
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = (float)((double)(float)((double)beta1 * m[i]) + (double)(float)((double)c1 * gi));
    float g2 = (float)((double)gi * gi);
    float vi = (float)((double)(float)((double)beta2 * v[i]) + (double)(float)((double)g2 * c2));
    float denom = (float)((double)(float)((double)(float)std::sqrt((double)vi) * rsqrtBc2) + (double)eps);
    float upd = (float)((double)(float)((double)stepSize * mi) / (double)denom);
    float pi = (float)((double)p[i] - (double)upd);
    CHECK(bitsOf(m2[i]) == bitsOf(mi), "adam m %zu", i);
    CHECK(bitsOf(v2[i]) == bitsOf(vi), "adam v %zu", i);
    CHECK(bitsOf(p2[i]) == bitsOf(pi), "adam p %zu: %.9g vs %.9g", i, p2[i], pi);
  }
}

// ---------------------------------------------------------------------------------------------
// Matrices

static void testScaleMatrixAndBias() {
  unsigned rows = 37, cols = 45, ld = 50;
  std::vector<float> c(rows * ld);
  for (auto& v : c) v = awkward();
  for (float beta : {0.0f, 0.5f, -3.0f}) {
    for (unsigned grid : {gridFor((unsigned long long)rows * cols), 1u, 2u}) {
      std::vector<float> d = c;
      emu::launch(grid, 256, 0, [&] { cc_scale_matrix_f32(d.data(), rows, cols, ld, beta); });
      for (unsigned r = 0; r < rows; r++) {
        for (unsigned j = 0; j < ld; j++) {
          float o = c[r * ld + j];
          float e = j >= cols ? o : (beta == 0 ? 0.0f : (float)((double)beta * o));
          bool ok = bitsOf(d[r * ld + j]) == bitsOf(e) || (std::isnan(e) && std::isnan(d[r * ld + j]) && j < cols);
          CHECK(ok, "scale matrix beta %g (%u, %u)", beta, r, j);
        }
      }
    }
  }
  std::vector<float> x(rows * cols), bias(cols);
  for (auto& v : x) v = awkward();
  for (auto& v : bias) v = awkward();
  for (int relu : {0, 1}) {
    for (unsigned grid : {gridFor((unsigned long long)rows * cols), 1u}) {
      std::vector<float> out(rows * cols, 9.0f);
      emu::launch(grid, 256, 0, [&] { cc_bias_add_f32(x.data(), bias.data(), out.data(), rows, cols, relu); });
      for (unsigned r = 0; r < rows; r++) {
        for (unsigned j = 0; j < cols; j++) {
          float s = (float)((double)x[r * cols + j] + (double)bias[j]);
          float e = relu ? (s > 0 ? s : 0.0f) : s;
          float o = out[r * cols + j];
          CHECK(bitsOf(o) == bitsOf(e) || (!relu && std::isnan(o) && std::isnan(e)), "bias add relu %d (%u, %u)", relu, r, j);
          if (relu) CHECK(!std::isnan(o), "relu gave NaN");
        }
      }
    }
  }
}

static void testRowNorms() {
  unsigned rows = 11, cols = 700, ld = 710;
  std::vector<float> x(rows * ld);
  for (auto& v : x) v = uniform(-2, 2);
  x[3 * ld + 5] = 3e30f;  // squares overflow f32 but not f64
  x[3 * ld + 6] = -3e30f;
  for (unsigned grid : {rows, 1u, 4u}) {
    std::vector<float> out(rows, -1.0f);
    emu::launch(grid, 256, 0, [&] { cc_row_norms_f32(x.data(), rows, cols, ld, out.data()); });
    for (unsigned r = 0; r < rows; r++) {
      long double s = 0;
      for (unsigned c = 0; c < cols; c++) s += (long double)x[r * ld + c] * x[r * ld + c];
      double e = (double)std::sqrt(s);
      CHECK(std::fabs(out[r] - e) <= 1.0000001 * std::ldexp(std::fabs(e), -24), "row norm %u: %.9g vs %.17g", r, out[r], e);
    }
  }
}

static void testColumnSums() {
  for (unsigned rows : {1u, 255u, 256u, 257u, 700u}) {
    unsigned cols = 300;
    std::vector<float> x((size_t)rows * cols);
    for (auto& v : x) v = uniform(-1, 1);
    for (unsigned grid : {gridFor(cols), 1u}) {
      std::vector<float> out(cols);
      emu::launch(grid, 256, 0, [&] { cc_column_sums_f32(x.data(), rows, cols, out.data()); });
      for (unsigned c = 0; c < cols; c++) {
        // The contract's arithmetic: f32 runs of 256 rows in order, added in f64.
        double total = 0;
        for (unsigned r0 = 0; r0 < rows; r0 += 256) {
          float run = 0;
          for (unsigned r = r0; r < std::min(rows, r0 + 256); r++) run = (float)((double)run + x[(size_t)r * cols + c]);
          total += run;
        }
        CHECK(bitsOf(out[c]) == bitsOf((float)total), "column sum %u of %u rows", c, rows);
        long double exact = 0;
        for (unsigned r = 0; r < rows; r++) exact += x[(size_t)r * cols + c];
        CHECK(std::fabs(out[c] - (double)exact) <= 1e-4 * rows / 256.0 + 1e-5, "column sum accuracy %u", c);
      }
    }
  }
}

static void testBlockSums() {
  for (unsigned long long n : {1ull, 4095ull, 4096ull, 4097ull, 3 * 4096ull + 123}) {
    std::vector<float> x(n);
    for (auto& v : x) v = (float)((int)(rng() % 81) - 40);  // small integers: every f32 sum (< 2^24) exact
    unsigned long long blocks = (n + 4095) / 4096;
    for (int squares : {0, 1}) {
      for (unsigned grid : {(unsigned)blocks, 1u}) {
        std::vector<double> partial(blocks, -1.0);
        emu::launch(grid, 256, 0, [&] { cc_block_sums_f32(x.data(), n, squares, partial.data()); });
        double total = 0;
        for (unsigned long long b = 0; b < blocks; b++) {
          double e = 0;
          for (unsigned long long i = b * 4096; i < std::min(n, (b + 1) * 4096); i++) e += squares ? (double)x[i] * x[i] : x[i];
          CHECK(partial[b] == e, "block sum %llu of %llu squares %d: %.17g vs %.17g", b, n, squares, partial[b], e);
          total += e;
        }
        std::vector<double> out(1, -1.0);
        emu::launch(1, 256, 0, [&] { cc_sum_f64(partial.data(), blocks, out.data()); });
        CHECK(out[0] == total, "sum f64 %.17g vs %.17g", out[0], total);
        emu::launch(3, 256, 0, [&] { cc_sum_f64(partial.data(), blocks, out.data()); });
        CHECK(out[0] == total, "sum f64 on 3 blocks");
      }
    }
  }
  // Non-integers: f32 rounding only.
  unsigned long long n = 10000;
  std::vector<float> x(n);
  for (auto& v : x) v = uniform(0, 1);
  std::vector<double> partial(3);
  emu::launch(3, 256, 0, [&] { cc_block_sums_f32(x.data(), n, 0, partial.data()); });
  for (int b = 0; b < 3; b++) {
    double e = 0;
    for (unsigned long long i = b * 4096; i < std::min(n, (b + 1) * 4096ull); i++) e += x[i];
    CHECK(std::fabs(partial[b] - e) <= e * 1e-5, "block sum f32 accuracy");
  }
  // Many partials, more than one per thread.
  std::vector<double> many(1000);
  double total = 0;
  for (auto& v : many) { v = (double)(rng() % 1000000); total += v; }
  std::vector<double> out(1);
  emu::launch(1, 256, 0, [&] { cc_sum_f64(many.data(), many.size(), out.data()); });
  CHECK(out[0] == total, "sum f64 of 1000");
}

// ---------------------------------------------------------------------------------------------
// Sparse rows

struct Csr {
  std::vector<int> rowStart, colIndex;
  std::vector<float> values;
};

static Csr randomCsr(unsigned rows, unsigned cols, unsigned maxPerRow) {
  Csr s;
  s.rowStart.push_back(0);
  for (unsigned r = 0; r < rows; r++) {
    unsigned k = (unsigned)(rng() % (maxPerRow + 1));
    for (unsigned t = 0; t < k; t++) {
      s.colIndex.push_back((int)(rng() % cols));  // duplicates allowed
      s.values.push_back(uniform(-1, 1));
    }
    s.rowStart.push_back((int)s.colIndex.size());
  }
  if (s.colIndex.empty()) {  // keep data() non-null
    s.colIndex.push_back(0);
    s.values.push_back(0);
  }
  return s;
}

static void testCsrCheck() {
  unsigned rows = 50, cols = 40;
  Csr s = randomCsr(rows, cols, 70);
  unsigned grid = (rows + 7) / 8;
  std::vector<int> error(3, 0);
  emu::launch(grid, 256, 0, [&] { cc_csr_check(s.rowStart.data(), s.colIndex.data(), rows, cols, error.data()); });
  CHECK(error[0] == 0 && error[1] == 0 && error[2] == 0, "valid csr reported %d", error[0]);

  Csr bad = s;
  int t = bad.rowStart[20] + 1;
  if (bad.rowStart[21] > t) {
    bad.colIndex[t] = (int)cols;
    error.assign(3, 0);
    emu::launch(1, 256, 0, [&] { cc_csr_check(bad.rowStart.data(), bad.colIndex.data(), rows, cols, error.data()); });
    CHECK(error[0] == 2 && error[1] == t && error[2] == (int)cols, "bad column: %d %d %d", error[0], error[1], error[2]);
  }
  bad = s;
  bad.colIndex[bad.rowStart[33]] = -5;
  bad.rowStart[34] = bad.rowStart[33] - 1 >= 0 ? bad.rowStart[33] - 1 : 0;  // row 33 decreases
  bad.rowStart[33] = std::max(bad.rowStart[33], 1);
  bad.rowStart[34] = bad.rowStart[33] - 1;
  error.assign(3, 0);
  emu::launch(grid, 256, 0, [&] { cc_csr_check(bad.rowStart.data(), bad.colIndex.data(), rows, cols, error.data()); });
  // Row 33 decreases; row 34 (from rowStart[34] to rowStart[35]) may contain the -5: one of them.
  bool decrease = error[0] == 1 && error[1] == 33 && error[2] == 0;
  bool column = error[0] == 2 && bad.colIndex[error[1]] == error[2] && (error[2] < 0 || error[2] >= (int)cols);
  CHECK(decrease || column, "decrease: %d %d %d", error[0], error[1], error[2]);
  // Only a decrease.
  bad = s;
  bad.rowStart[10] = bad.rowStart[11] + 3;
  for (int& c : bad.colIndex) c = c % (int)cols;
  error.assign(3, 0);
  bad.colIndex.resize(bad.colIndex.size() + 10, 0);
  emu::launch(grid, 256, 0, [&] { cc_csr_check(bad.rowStart.data(), bad.colIndex.data(), rows, cols, error.data()); });
  CHECK(error[0] == 1 && error[1] == 10 && error[2] == 0, "only decrease: %d %d %d", error[0], error[1], error[2]);
}

static void testSpmm() {
  unsigned rows = 23, cols = 31;
  for (unsigned n : {1u, 100u, 300u}) {
    Csr s = randomCsr(rows, cols, 12);
    std::vector<float> dense((size_t)cols * n);
    for (auto& v : dense) v = uniform(-1, 1);
    std::vector<float> out0((size_t)rows * n);
    for (auto& v : out0) v = uniform(-1, 1);
    out0[0] = NAN;
    for (float beta : {0.0f, 0.5f}) {
      for (unsigned grid : {rows, 1u, 5u}) {
        std::vector<float> out = out0;
        float alpha = 1.5f;
        emu::launch(grid, 256, 0, [&] {
          cc_spmm_f32(s.rowStart.data(), s.colIndex.data(), s.values.data(), dense.data(), out.data(), rows, n, alpha, beta);
        });
        for (unsigned r = 0; r < rows; r++) {
          for (unsigned j = 0; j < n; j++) {
            float acc = 0;
            double exact = 0;
            for (int t = s.rowStart[r]; t < s.rowStart[r + 1]; t++) {
              acc = std::fmaf(s.values[t], dense[(size_t)s.colIndex[t] * n + j], acc);
              exact += (double)s.values[t] * dense[(size_t)s.colIndex[t] * n + j];
            }
            float a = (float)((double)alpha * acc);
            float e = beta == 0 ? a : (float)((double)a + (double)(float)((double)beta * out0[(size_t)r * n + j]));
            float o = out[(size_t)r * n + j];
            CHECK(bitsOf(o) == bitsOf(e) || (std::isnan(o) && std::isnan(e)), "spmm beta %g (%u, %u)", beta, r, j);
            if (beta == 0) CHECK(std::fabs(o - alpha * exact) <= 1e-5, "spmm accuracy");
          }
        }
      }
    }
    // transpose: out (cols x n) += alpha * S^T dense (rows x n)
    std::vector<float> dr((size_t)rows * n);
    for (auto& v : dr) v = uniform(-1, 1);
    std::vector<float> outT0((size_t)cols * n);
    for (auto& v : outT0) v = uniform(-1, 1);
    for (unsigned grid : {rows, 2u}) {
      std::vector<float> outT = outT0;
      emu::launch(grid, 256, 0, [&] {
        cc_spmm_t_f32(s.rowStart.data(), s.colIndex.data(), s.values.data(), dr.data(), outT.data(), rows, n, -0.5f);
      });
      std::vector<double> e(outT0.begin(), outT0.end());
      for (unsigned r = 0; r < rows; r++)
        for (int t = s.rowStart[r]; t < s.rowStart[r + 1]; t++)
          for (unsigned j = 0; j < n; j++) e[(size_t)s.colIndex[t] * n + j] += -0.5 * s.values[t] * dr[(size_t)r * n + j];
      for (size_t i = 0; i < e.size(); i++) CHECK(std::fabs(outT[i] - e[i]) <= 1e-5, "spmm_t %zu: %g vs %g", i, outT[i], e[i]);
    }
    // csr to dense
    std::vector<float> dense2((size_t)rows * cols, 0.0f);
    emu::launch(rows, 256, 0, [&] {
      cc_csr_to_dense(s.rowStart.data(), s.colIndex.data(), s.values.data(), dense2.data(), rows, cols);
    });
    std::vector<double> e2((size_t)rows * cols, 0.0);
    for (unsigned r = 0; r < rows; r++)
      for (int t = s.rowStart[r]; t < s.rowStart[r + 1]; t++) e2[(size_t)r * cols + s.colIndex[t]] += s.values[t];
    for (size_t i = 0; i < e2.size(); i++) CHECK(std::fabs(dense2[i] - e2[i]) <= 1e-6, "csr to dense %zu", i);
  }
}

static void testCompress() {
  for (unsigned cols : {1u, 31u, 32u, 33u, 70u, 200u}) {
    unsigned rows = 13;
    std::vector<float> x((size_t)rows * cols);
    for (auto& v : x) {
      unsigned k = rng() % 5;
      v = k == 0 ? 0.0f : k == 1 ? -0.0f : awkward();
    }
    for (unsigned grid : {(rows + 7) / 8, 1u}) {
      std::vector<int> counts(rows, -1);
      emu::launch(grid, 256, 0, [&] { cc_count_nonzeros(x.data(), rows, cols, counts.data()); });
      std::vector<int> rowStart(rows + 1, 0);
      std::vector<int> expectCols;
      std::vector<float> expectVals;
      for (unsigned r = 0; r < rows; r++) {
        int k = 0;
        for (unsigned c = 0; c < cols; c++) {
          float v = x[(size_t)r * cols + c];
          bool nz = std::isnan(v) || v != 0.0f;
          if (nz) {
            k++;
            expectCols.push_back((int)c);
            expectVals.push_back(v);
          }
        }
        CHECK(counts[r] == k, "count row %u cols %u: %d vs %d", r, cols, counts[r], k);
        rowStart[r + 1] = rowStart[r] + k;
      }
      size_t nnz = expectCols.size();
      std::vector<int> colIndex(nnz + 1, -7);
      std::vector<float> values(nnz + 1, 42.0f);
      emu::launch(grid, 256, 0, [&] { cc_compress_rows(x.data(), rows, cols, rowStart.data(), colIndex.data(), values.data()); });
      for (size_t t = 0; t < nnz; t++) {
        CHECK(colIndex[t] == expectCols[t], "compress col %zu (cols %u)", t, cols);
        CHECK(bitsOf(values[t]) == bitsOf(expectVals[t]), "compress value %zu", t);
      }
      CHECK(colIndex[nnz] == -7 && values[nnz] == 42.0f, "compress wrote past the end");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Selection

static unsigned javaBits(float f) { return std::isnan(f) ? 0x7fc00000u : bitsOf(f); }

/** Java's Float.compare. */
static int javaCompare(float a, float b) {
  if (a < b) return -1;
  if (a > b) return 1;
  int ab = (int)javaBits(a), bb = (int)javaBits(b);
  return ab == bb ? 0 : (ab < bb ? -1 : 1);
}

static void testOrderKey() {
  std::vector<float> v;
  for (int i = 0; i < 3000; i++) v.push_back(i % 2 ? awkward() : fromBits((unsigned)rng()));
  for (size_t i = 0; i + 1 < v.size(); i++) {
    float a = v[i], b = v[i + 1];
    unsigned oa = cc_order_of(a), ob = cc_order_of(b);
    int c = javaCompare(a, b);
    CHECK((c < 0) == (oa < ob) && (c == 0) == (oa == ob), "order of %08x vs %08x", bitsOf(a), bitsOf(b));
    CHECK(bitsOf(cc_float_of_order(oa)) == javaBits(a), "decode %08x", bitsOf(a));
  }
  CHECK(cc_order_of(-0.0f) < cc_order_of(0.0f), "-0 < 0");
  CHECK(cc_order_of(NAN) > cc_order_of(INFINITY), "NaN > inf");
  CHECK(cc_topk_key(1.0f, 3) > cc_topk_key(1.0f, 4), "lower index ranks higher");
  CHECK(cc_topk_key(-INFINITY, 0xffffffffu) > 0, "no real key is 0");
}

static void topkCase(unsigned rows, unsigned cols, unsigned k, bool ties, unsigned grid, bool forceScratch) {
  std::vector<float> x((size_t)rows * cols);
  for (auto& v : x) {
    if (ties) {
      const float set[] = {0.0f, -0.0f, 1.0f, -1.0f, NAN, -INFINITY, INFINITY, fromBits(0xffc00001u)};
      v = set[rng() % 8];
    } else {
      v = rng() % 10 == 0 ? awkward() : uniform(-100, 100);
    }
  }
  unsigned kpad = 1;
  while (kpad < k) kpad <<= 1;
  bool scratchUsed = forceScratch || kpad > 2048;
  std::vector<unsigned long long> scratch(scratchUsed ? (size_t)rows * kpad : 1);
  std::vector<float> values((size_t)rows * k + 1, 123.0f);
  std::vector<int> indices((size_t)rows * k + 1, -9);
  size_t smem = scratchUsed ? 0 : (size_t)kpad * 8;
  emu::launch(grid, 256, smem, [&] {
    cc_row_topk(x.data(), rows, cols, k, kpad, values.data(), indices.data(), scratchUsed ? scratch.data() : nullptr);
  });
  for (unsigned r = 0; r < rows; r++) {
    std::vector<unsigned> order(cols);
    for (unsigned c = 0; c < cols; c++) order[c] = c;
    const float* row = &x[(size_t)r * cols];
    std::stable_sort(order.begin(), order.end(), [&](unsigned a, unsigned b) { return javaCompare(row[a], row[b]) > 0; });
    bool ok = true;
    for (unsigned t = 0; t < k; t++) {
      ok &= indices[(size_t)r * k + t] == (int)order[t];
      ok &= bitsOf(values[(size_t)r * k + t]) == javaBits(row[order[t]]);
    }
    CHECK(ok, "topk rows %u cols %u k %u ties %d grid %u scratch %d: row %u wrong", rows, cols, k, ties, grid, scratchUsed, r);
  }
  CHECK(values[(size_t)rows * k] == 123.0f && indices[(size_t)rows * k] == -9, "topk wrote past the end");
}

static void testRowTopK() {
  topkCase(1, 1, 1, false, 1, false);
  topkCase(3, 5, 3, false, 3, false);
  topkCase(3, 5, 5, true, 1, false);
  topkCase(4, 100, 1, false, 4, false);
  topkCase(4, 100, 100, false, 2, false);
  topkCase(5, 300, 17, true, 5, false);
  topkCase(5, 300, 17, false, 2, true);
  topkCase(2, 1000, 64, false, 2, false);
  topkCase(2, 1000, 64, true, 1, false);
  topkCase(2, 2500, 1000, false, 2, false);
  topkCase(2, 2500, 1000, true, 2, false);
  topkCase(2, 3000, 2049, false, 2, false);  // kpad 4096: global scratch
  topkCase(1, 5000, 5000, true, 1, false);
  topkCase(3, 777, 256, false, 1, true);
  topkCase(3, 777, 257, true, 3, false);
  // All equal: the select must go down to the position bits.
  {
    unsigned rows = 2, cols = 600, k = 300;
    std::vector<float> x((size_t)rows * cols, 0.5f);
    std::vector<float> values((size_t)rows * k);
    std::vector<int> indices((size_t)rows * k);
    emu::launch(rows, 256, 512 * 8, [&] { cc_row_topk(x.data(), rows, cols, k, 512, values.data(), indices.data(), nullptr); });
    bool ok = true;
    for (unsigned r = 0; r < rows; r++)
      for (unsigned t = 0; t < k; t++) ok &= indices[r * k + t] == (int)t && values[r * k + t] == 0.5f;
    CHECK(ok, "topk all equal");
  }
}

/** The host side of BatchTopK as the Java launcher does it: 8 histogram passes, then the mask. */
static void testBatchTopK() {
  for (unsigned long long n : {1ull, 1000ull, 70000ull}) {
    for (bool ties : {false, true}) {
      std::vector<float> scores(n);
      for (auto& v : scores) v = ties ? (float)(rng() % 4) : (rng() % 20 == 0 ? awkward() : uniform(0, 10));
      for (unsigned long long keep : {1ull, n / 3 + 1, n}) {
        unsigned grid = std::min(gridFor(n), 40u);
        unsigned long long prefix = 0;
        unsigned long long remaining = keep;
        for (int shift = 56; shift >= 0; shift -= 8) {
          std::vector<unsigned> hist(256, 0);
          emu::launch(grid, 256, 0, [&] { cc_radix_histogram(scores.data(), n, prefix, (unsigned)shift, hist.data()); });
          unsigned long long above = 0;
          int d = 255;
          for (; d >= 0; d--) {
            if (above + hist[d] >= remaining) break;
            above += hist[d];
          }
          prefix |= (unsigned long long)d << shift;
          remaining -= above;
        }
        std::vector<float> x(n);
        for (auto& v : x) v = uniform(1, 2);
        std::vector<float> x0 = x;
        emu::launch(grid, 256, 0, [&] { cc_batch_topk_mask(scores.data(), x.data(), n, prefix); });
        std::vector<unsigned> order(n);
        for (unsigned i = 0; i < n; i++) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](unsigned a, unsigned b) { return javaCompare(scores[a], scores[b]) > 0; });
        std::vector<bool> kept(n, false);
        for (unsigned long long t = 0; t < keep; t++) kept[order[t]] = true;
        bool ok = true;
        for (unsigned long long i = 0; i < n; i++) ok &= bitsOf(x[i]) == (kept[i] ? bitsOf(x0[i]) : 0u);
        CHECK(ok, "batch topk n %llu keep %llu ties %d", n, keep, ties);
        // in place (x == scores)
        std::vector<float> s2 = scores;
        emu::launch(grid, 256, 0, [&] { cc_batch_topk_mask(s2.data(), s2.data(), n, prefix); });
        ok = true;
        for (unsigned long long i = 0; i < n; i++) ok &= bitsOf(s2[i]) == (kept[i] ? bitsOf(scores[i]) : 0u);
        CHECK(ok, "batch topk in place");
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Pair statistics

/** binary16 decoding by arithmetic (and Java's NaN rule: payload shifted into the f32 significand). */
static float f16Oracle(unsigned short h) {
  int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  if (e == 31) {
    if (m == 0) return sign ? -INFINITY : INFINITY;
    return fromBits(((unsigned)sign << 31) | 0x7f800000u | ((unsigned)m << 13));
  }
  double mag = e == 0 ? std::ldexp((double)m, -24) : std::ldexp(1.0 + m / 1024.0, e - 15);
  return (float)(sign ? -mag : mag);
}

static void testF16() {
  for (unsigned h = 0; h < 65536; h++) {
    float a = cc_f16_to_f32((unsigned short)h), e = f16Oracle((unsigned short)h);
    CHECK(bitsOf(a) == bitsOf(e), "f16 %04x: %08x vs %08x", h, bitsOf(a), bitsOf(e));
  }
}

static float widen(const std::vector<unsigned char>& buf, int type, size_t i) {
  if (type == 0) { float f; std::memcpy(&f, &buf[i * 4], 4); return f; }
  unsigned short h; std::memcpy(&h, &buf[i * 2], 2);
  return type == 1 ? f16Oracle(h) : fromBits((unsigned)h << 16);
}

static std::vector<unsigned char> encode(const std::vector<float>& v, int type) {
  std::vector<unsigned char> out(v.size() * (type == 0 ? 4 : 2));
  for (size_t i = 0; i < v.size(); i++) {
    if (type == 0) { std::memcpy(&out[i * 4], &v[i], 4); continue; }
    unsigned short h;
    if (type == 2) {
      h = bf16Oracle(v[i]);
    } else {
      h = (unsigned short)(rng() & 0xffff);  // random binary16 patterns: all classes, NaNs included
      if (rng() % 3 == 0) h = (unsigned short)(0x3c00 + (rng() % 64));  // some around 1 (ties with others)
    }
    std::memcpy(&out[i * 2], &h, 2);
  }
  return out;
}

static void testPairSegments() {
  unsigned rows = 3, cols = 9000, segLen = 4096, segs = (cols + segLen - 1) / segLen;
  for (int at = 0; at < 3; at++) {
    for (int bt = 0; bt < 3; bt++) {
      std::vector<float> va((size_t)rows * cols), vb((size_t)rows * cols);
      for (size_t i = 0; i < va.size(); i++) {
        va[i] = rng() % 50 == 0 ? awkward() : uniform(-1, 1);
        vb[i] = rng() % 4 == 0 ? va[i] : (rng() % 50 == 0 ? awkward() : va[i] + uniform(-0.01f, 0.01f));
      }
      va[5] = 3e38f; vb[5] = -3e38f;  // d overflows to -inf: finite inputs, counted in the sums
      std::vector<unsigned char> a = encode(va, at), b = encode(vb, bt);
      unsigned blocks = rows * segs;
      std::vector<double> sums(4 * blocks, -1);
      std::vector<float> maxAbs(blocks, -1);
      std::vector<unsigned long long> counts(2 * blocks, 99);
      emu::launch(blocks, 256, 0, [&] {
        cc_pair_segments(a.data(), at, b.data(), bt, cols, segLen, segs, sums.data(), maxAbs.data(), counts.data());
      });
      for (unsigned g = 0; g < blocks; g++) {
        unsigned r = g / segs, s = g % segs;
        long double dot = 0, xx = 0, yy = 0, dd = 0;
        float mx = 0;
        unsigned long long changed = 0, nonFinite = 0;
        for (unsigned c = s * segLen; c < std::min(cols, (s + 1) * segLen); c++) {
          size_t i = (size_t)r * cols + c;
          float x = widen(a, at, i), y = widen(b, bt, i);
          if (bitsOf(x) != bitsOf(y)) changed++;
          if (!std::isfinite(x) || !std::isfinite(y)) { nonFinite++; continue; }
          float d = (float)((double)y - (double)x);
          dot += (long double)x * y; xx += (long double)x * x; yy += (long double)y * y; dd += (long double)d * d;
          mx = std::max(mx, std::fabs(d));
        }
        auto close = [](double got, long double e) {
          if (std::isinf((double)e)) return got == (double)e;
          return std::fabs(got - (double)e) <= 1e-12 * std::fabs((double)e) + 1e-300;
        };
        CHECK(close(sums[4 * g], dot) && close(sums[4 * g + 1], xx) && close(sums[4 * g + 2], yy) && close(sums[4 * g + 3], dd),
            "pair sums types %d %d seg %u: %.17g %.17g %.17g %.17g vs %.17Lg %.17Lg %.17Lg %.17Lg", at, bt, g,
            sums[4 * g], sums[4 * g + 1], sums[4 * g + 2], sums[4 * g + 3], dot, xx, yy, dd);
        CHECK(bitsOf(maxAbs[g]) == bitsOf(mx), "pair max types %d %d seg %u: %g vs %g", at, bt, g, maxAbs[g], mx);
        CHECK(counts[2 * g] == changed && counts[2 * g + 1] == nonFinite, "pair counts types %d %d seg %u: %llu %llu vs %llu %llu",
            at, bt, g, counts[2 * g], counts[2 * g + 1], changed, nonFinite);
      }
    }
  }
  // More segments than columns need: the extra segments are empty and write zeros.
  std::vector<float> va(100, 1.0f), vb(100, 2.0f);
  std::vector<double> sums(4 * 4, -1);
  std::vector<float> maxAbs(4, -1);
  std::vector<unsigned long long> counts(8, 99);
  emu::launch(4, 256, 0, [&] { cc_pair_segments(va.data(), 0, vb.data(), 0, 50, 40, 2, sums.data(), maxAbs.data(), counts.data()); });
  // row 0: seg 0 = cols 0..39, seg 1 = 40..49; row 1 likewise
  CHECK(sums[0] == 80 && sums[1] == 40 && sums[2] == 160 && sums[3] == 40 && maxAbs[0] == 1 && counts[0] == 40, "small segs 0");
  CHECK(sums[4] == 20 && counts[2] == 10 && counts[3] == 0, "small segs 1");
  CHECK(sums[12] == 20 && counts[6] == 10, "small segs 3");
}

// ---------------------------------------------------------------------------------------------
// Transformer kernels

/** The f32 unit roundoff, 2^-24: the relative error of one rounding. */
static const double U = std::ldexp(1.0, -24);

/** The grid of README.md's "per warp-row" kernels. */
static unsigned warpGridFor(unsigned rows) { return std::max(1u, (rows + 7) / 8); }

/** Runs one of the two RMSNorm kernels (warp: one warp per row, else one block per row). */
static void runRmsNorm(bool warp, unsigned grid, const float* x, const float* w, float* out, unsigned rows, unsigned cols, float eps) {
  emu::launch(grid, 256, 0, [&] {
    if (warp) {
      cc_rms_norm_warp_f32(x, w, out, rows, cols, eps);
    } else {
      cc_rms_norm_f32(x, w, out, rows, cols, eps);
    }
  });
}

/**
 * RMSNorm against a long double oracle: out = x * (1 / sqrt(mean(x^2) + eps)) * w. The kernel
 * rounds three times after an f64 sum of exact squares, so 4 roundings bound it. Rows: ordinary, a
 * large norm (x40), all zeros (the scale is 1 / sqrt(eps); with eps = 0 it is inf and 0 * inf is
 * NaN, as on the CPU), squares that overflow f32 but not f64, squares below f32's range.
 */
static void testRmsNorm() {
  for (unsigned cols : {1u, 7u, 32u, 33u, 129u, 257u, 700u}) {
    const unsigned rows = 6;
    std::vector<float> x((size_t)rows * cols), w(cols);
    for (auto& v : x) v = uniform(-2, 2);
    for (auto& v : w) v = uniform(-1.5f, 1.5f);
    w[0] = 0.0f;
    for (unsigned c = 0; c < cols; c++) {
      x[1 * cols + c] *= 40;
      x[2 * cols + c] = 0.0f;
      x[4 * cols + c] = (c % 2 ? -1e-20f : 1e-20f);
    }
    x[3 * cols] = 3e30f;
    if (cols > 1) x[3 * cols + 1] = -3e30f;
    for (float eps : {1e-6f, 0.0f}) {
      for (bool warp : {false, true}) {
        // The launcher's grid, and (with eps > 0) grids that make the row loops turn.
        std::vector<unsigned> grids = {warp ? warpGridFor(rows) : rows};
        if (eps > 0) grids.push_back(warp ? 1u : 4u);
        for (unsigned grid : grids) {
          std::vector<float> out((size_t)rows * cols + 1, 42.0f);
          runRmsNorm(warp, grid, x.data(), w.data(), out.data(), rows, cols, eps);
          std::vector<float> y = x;  // in place
          runRmsNorm(warp, grid, y.data(), w.data(), y.data(), rows, cols, eps);
          for (unsigned r = 0; r < rows; r++) {
            long double squares = 0;
            for (unsigned c = 0; c < cols; c++) squares += (long double)x[r * cols + c] * x[r * cols + c];
            long double scale = 1.0L / std::sqrt(squares / cols + (long double)eps);
            for (unsigned c = 0; c < cols; c++) {
              size_t i = (size_t)r * cols + c;
              double want = (double)((long double)x[i] * scale * w[c]);
              float got = out[i];
              if (std::isnan(want)) {
                CHECK(std::isnan(got), "rms norm warp %d cols %u eps %g (%u, %u): %g, expected NaN", warp, cols, eps, r, c, got);
              } else {
                CHECK(std::fabs(got - want) <= 4 * U * std::fabs(want) + 1e-45, "rms norm warp %d grid %u cols %u eps %g (%u, %u): %.9g vs %.17g",
                    warp, grid, cols, eps, r, c, got, want);
              }
              CHECK(bitsOf(y[i]) == bitsOf(got), "rms norm in place warp %d cols %u (%u, %u)", warp, cols, r, c);
            }
          }
          CHECK(out[(size_t)rows * cols] == 42.0f, "rms norm wrote past the end");
        }
      }
    }
  }
}

/**
 * Rotate-half RoPE: bit for bit the CPU's float arithmetic (a*c and b*s rounded, then their
 * difference; this file is built with -ffp-contract=off, so the float expression below is exactly
 * that), and within 2 roundings of the f64 rotation. Odd head sizes, repeated positions, grids
 * that make the grid-stride loop turn; a row whose position is outside the tables is left alone.
 */
static void testRotary() {
  for (unsigned headDim : {2u, 8u, 34u, 130u}) {
    for (unsigned heads : {1u, 3u}) {
      const unsigned rows = 7, half = headDim / 2, tableRows = 11;
      std::vector<float> cosT((size_t)tableRows * half), sinT((size_t)tableRows * half);
      for (size_t i = 0; i < cosT.size(); i++) {
        double angle = uniform(-10, 10);
        cosT[i] = (float)std::cos(angle);
        sinT[i] = (float)std::sin(angle);
      }
      std::vector<float> x((size_t)rows * heads * headDim);
      for (auto& v : x) v = rng() % 50 == 0 ? awkward() : uniform(-2, 2);
      const unsigned long long n = (unsigned long long)rows * heads * half;
      for (bool badPositions : {false, true}) {
        std::vector<int> pos = {0, 10, 3, 3, 7, 1, 0};
        if (badPositions) {
          pos[2] = -1;
          pos[5] = (int)tableRows;
        }
        for (unsigned grid : {gridFor(n), 1u, 3u}) {
          std::vector<float> y = x;
          y.push_back(42.0f);
          emu::launch(grid, 256, 0, [&] { cc_rotary_f32(y.data(), pos.data(), cosT.data(), sinT.data(), rows, heads, half, tableRows); });
          for (unsigned r = 0; r < rows; r++) {
            bool skipped = pos[r] < 0 || pos[r] >= (int)tableRows;
            for (unsigned h = 0; h < heads; h++) {
              size_t at = ((size_t)r * heads + h) * headDim;
              for (unsigned i = 0; i < half; i++) {
                float a = x[at + i], b = x[at + half + i];
                if (skipped) {
                  CHECK(bitsOf(y[at + i]) == bitsOf(a) && bitsOf(y[at + half + i]) == bitsOf(b),
                      "rotary changed row %u with position %d outside the table", r, pos[r]);
                  continue;
                }
                float c = cosT[(size_t)pos[r] * half + i], s = sinT[(size_t)pos[r] * half + i];
                float e1 = a * c - b * s;
                float e2 = b * c + a * s;
                bool ok1 = bitsOf(y[at + i]) == bitsOf(e1) || (std::isnan(e1) && std::isnan(y[at + i]));
                bool ok2 = bitsOf(y[at + half + i]) == bitsOf(e2) || (std::isnan(e2) && std::isnan(y[at + half + i]));
                CHECK(ok1 && ok2, "rotary headDim %u heads %u grid %u row %u head %u i %u", headDim, heads, grid, r, h, i);
                double w1 = (double)a * c - (double)b * s, w2 = (double)b * c + (double)a * s;
                if (std::isfinite(w1) && std::isfinite(w2)) {
                  double m1 = std::fabs((double)a * c) + std::fabs((double)b * s);
                  double m2 = std::fabs((double)b * c) + std::fabs((double)a * s);
                  CHECK(std::fabs(y[at + i] - w1) <= 2 * U * m1 + 1e-45 && std::fabs(y[at + half + i] - w2) <= 2 * U * m2 + 1e-45,
                      "rotary accuracy headDim %u row %u i %u", headDim, r, i);
                }
              }
            }
          }
          CHECK(y.back() == 42.0f, "rotary wrote past the end");
        }
      }
    }
  }
}

struct SoftmaxShape {
  unsigned rows, cols, ld, firstQuery;
  int window;
};

/** The causal mask written as the contract says it, key by key (not as the kernel's range). */
static bool visibleKey(unsigned long long q, unsigned long long j, int window) {
  return j <= q && (window <= 0 || q - j < (unsigned long long)window);
}

/**
 * The f64 softmax of row i's visible keys; NaN where the row's arithmetic is NaN (a NaN score, or
 * every visible score -inf), as the CPU's is. Returns the row maximum through `maxOut`.
 */
static std::vector<double> softmaxOracle(const std::vector<float>& x, const SoftmaxShape& sh, unsigned i, double* maxOut) {
  unsigned long long q = (unsigned long long)sh.firstQuery + i;
  const float* row = &x[(size_t)i * sh.ld];
  double max = -INFINITY;
  bool nan = false;
  for (unsigned j = 0; j < sh.cols; j++) {
    if (visibleKey(q, j, sh.window)) {
      nan |= std::isnan(row[j]);
      max = std::max(max, (double)row[j]);
    }
  }
  if (nan) max = NAN;
  double sum = 0;
  std::vector<double> e(sh.cols, 0.0);
  for (unsigned j = 0; j < sh.cols; j++) {
    if (visibleKey(q, j, sh.window)) {
      e[j] = std::exp((double)row[j] - max);
      sum += e[j];
    }
  }
  for (unsigned j = 0; j < sh.cols; j++) {
    if (visibleKey(q, j, sh.window)) e[j] /= sum;
  }
  *maxOut = max;
  return e;
}

/**
 * The causal softmax against an f64 oracle, with a bound derived from the kernel's arithmetic:
 * e_j = expf(fl(x_j - m)) has relative error d_j <= 2^-22 (2 ulp) + |x_j - m| 2^-24 (the rounded
 * difference moves the exponent), the f64 sum inherits at most max d, and the reciprocal and the
 * product round twice: |got - want| <= want (d_j + max d + 3 * 2^-24). And, tighter, against the
 * f64 softmax of the differences rounded in f32 as the contract (and the CPU) rounds them: within
 * 10 * 2^-24 relative (expf's 2 ulp in e_j and in the sum, and two roundings). Shapes: the conformance
 * suite's and more (rows past 256 columns, padding, windows of 1, wider than the row and negative,
 * query offsets near 2^31, rows with no visible key); special rows: a visible -inf (becomes 0), a
 * visible NaN (the row NaN), every visible score -inf (NaN, as on the CPU). Hidden keys must be
 * exactly +0.0, padding and memory after the last row untouched.
 */
static void testCausalSoftmax() {
  const std::vector<SoftmaxShape> shapes = {
      {1, 1, 1, 0, 0}, {7, 7, 7, 0, 0}, {33, 33, 40, 0, 0}, {5, 12, 12, 7, 0}, {5, 12, 15, 7, 3},
      {45, 129, 129, 0, 16}, {3, 300, 301, 297, 1}, {2, 3, 3, 10, 2}, {6, 600, 603, 0, 0}, {3, 513, 520, 1000, 0}, {6, 10, 10, 0, -5}, {6, 10, 10, 0, 100},
      {9, 300, 300, 250, 64}, {3, 5, 5, 2147483640u, 0}, {3, 5, 5, 2147483640u, 3}, {4, 700, 700, 2, 0}};
  const float padding = fromBits(0x7fc0abcdu);
  for (const SoftmaxShape& sh : shapes) {
    size_t size = (size_t)(sh.rows - 1) * sh.ld + sh.cols;
    std::vector<float> x(size + 1);
    for (size_t i = 0; i < size; i++) x[i] = i % sh.ld >= sh.cols ? padding : uniform(-8, 8);
    x[size] = 42.0f;
    // Special rows, where the row has visible keys: row 1 a -inf, row 2 a NaN, row 3 all -inf,
    // row 4 all far below 0 and row 5 far above (exp(x) would underflow or overflow f32 without
    // the maximum subtracted: a wrong maximum shows there).
    for (unsigned i = 1; i < std::min(sh.rows, 6u); i++) {
      unsigned long long q = (unsigned long long)sh.firstQuery + i;
      std::vector<unsigned> vis;
      for (unsigned j = 0; j < sh.cols; j++) if (visibleKey(q, j, sh.window)) vis.push_back(j);
      if (vis.size() < 2) continue;
      float* row = &x[(size_t)i * sh.ld];
      if (i == 1) row[vis[0]] = -INFINITY;
      if (i == 2) row[vis[vis.size() / 2]] = NAN;
      if (i == 3) for (unsigned j : vis) row[j] = -INFINITY;
      if (i == 4) for (unsigned j : vis) row[j] = uniform(-160, -150);
      if (i == 5) for (unsigned j : vis) row[j] = uniform(90, 100);
    }
    for (unsigned grid : {sh.rows, 3u}) {
      std::vector<float> y = x;
      emu::launch(grid, 256, 0, [&] { cc_causal_softmax_f32(y.data(), sh.rows, sh.cols, sh.ld, sh.firstQuery, sh.window); });
      for (unsigned i = 0; i < sh.rows; i++) {
        double max;
        std::vector<double> want = softmaxOracle(x, sh, i, &max);
        unsigned long long q = (unsigned long long)sh.firstQuery + i;
        const float* in = &x[(size_t)i * sh.ld];
        double maxD = 0;
        for (unsigned j = 0; j < sh.cols; j++) {
          if (visibleKey(q, j, sh.window) && std::isfinite(in[j] - max)) maxD = std::max(maxD, 4 * U + std::fabs(in[j] - max) * U);
        }
        std::vector<double> contract(sh.cols, 0.0);
        double contractSum = 0;
        for (unsigned j = 0; j < sh.cols; j++) {
          if (visibleKey(q, j, sh.window)) {
            contract[j] = std::exp((double)(in[j] - (float)max));  // the difference rounded in f32
            contractSum += contract[j];
          }
        }
        for (double& v : contract) v /= contractSum;
        bool ok = true;
        for (unsigned j = 0; j < sh.ld && (size_t)i * sh.ld + j < size; j++) {
          float got = y[(size_t)i * sh.ld + j];
          if (j >= sh.cols) {
            ok &= bitsOf(got) == bitsOf(padding);
          } else if (!visibleKey(q, j, sh.window)) {
            ok &= bitsOf(got) == 0u;
          } else if (std::isnan(want[j])) {
            ok &= std::isnan(got);
          } else if (want[j] == 0) {
            ok &= bitsOf(got) == 0u;  // a visible -inf score: exp(-inf) = +0
          } else {
            double d = 4 * U + std::fabs(in[j] - max) * U;
            ok &= std::fabs(got - want[j]) <= want[j] * (d + maxD + 3 * U) + 1e-45;
            // The contract rounds x - m in f32 (as the CPU does); from those differences on, only
            // expf (2 ulp here and, averaged, in the sum) and two roundings remain.
            ok &= std::fabs(got - contract[j]) <= contract[j] * (10 * U + 1e-12) + 1e-45;
          }
          if (!ok) {
            CHECK(false, "causal softmax rows %u cols %u ld %u q0 %u window %d grid %u: (%u, %u) = %.9g, expected %.17g", sh.rows, sh.cols,
                sh.ld, sh.firstQuery, sh.window, grid, i, j, got, j < sh.cols ? want[j] : 0.0);
            break;
          }
        }
        checks++;
      }
      CHECK(y[size] == 42.0f, "causal softmax wrote past the last row");
    }
  }
}

/**
 * The SwiGLU gate against f64: fl(fl(g / fl(1 + expf(-g))) * u) is within 2^-22 (expf) + 3
 * roundings of g / (1 + e^-g) * u. Gates below -88.72 overflow expf(-g) to inf and give a signed
 * zero (exactly what Java's float arithmetic gives); inf, NaN and zero inputs give what f64 gives.
 * Bit for bit, the contract's f32 rounding of each operation given the platform's expf. In place
 * on either input must give the same bits.
 */
static void testSiluMultiply() {
  const float specialG[] = {0.0f, -0.0f, -100.0f, 100.0f, 1e-30f, -87.0f, -88.0f, -89.0f, 20.0f, 88.0f,
      INFINITY, -INFINITY, NAN, fromBits(0x00000005u), -1e-45f};
  const float specialU[] = {0.0f, -0.0f, NAN, 1e-30f};
  for (unsigned long long n : {1ull, 255ull, 256ull, 1000ull, 5000ull}) {
    std::vector<float> g(n), u(n);
    for (auto& v : g) v = uniform(-30, 30);
    for (auto& v : u) v = uniform(-1, 1);
    for (size_t k = 0; k < sizeof specialG / sizeof *specialG; k++) g[(k * 131) % n] = specialG[k];
    for (size_t k = 0; k < sizeof specialU / sizeof *specialU; k++) u[(k * 71 + 5) % n] = specialU[k];
    for (unsigned grid : {gridFor(n), 1u, 3u}) {
      std::vector<float> out(n + 1, 42.0f), onGate = g, onUp = u;
      emu::launch(grid, 256, 0, [&] { cc_silu_mul_f32(g.data(), u.data(), out.data(), n); });
      emu::launch(grid, 256, 0, [&] { cc_silu_mul_f32(onGate.data(), u.data(), onGate.data(), n); });
      emu::launch(grid, 256, 0, [&] { cc_silu_mul_f32(g.data(), onUp.data(), onUp.data(), n); });
      for (size_t i = 0; i < n; i++) {
        double want = (double)g[i] / (1 + std::exp(-(double)g[i])) * u[i];
        float got = out[i];
        bool ok;
        if (std::isnan(want)) {
          ok = std::isnan(got);
        } else if (std::isinf(want)) {
          ok = got == want;
        } else if (-g[i] > 88.72284f) {
          ok = got == 0.0f || std::isnan(u[i]);
        } else {
          ok = std::fabs(got - want) <= 8 * U * std::fabs(want) + 1e-44;
        }
        CHECK(ok, "silu n %llu grid %u: g %.9g u %.9g -> %.9g, expected %.17g", n, grid, g[i], u[i], got, want);
        // The contract's (and the CPU's) rounding, each operation on its own, with this platform's expf.
        float contract = (g[i] / (1.0f + emu_expf(-g[i]))) * u[i];
        CHECK(bitsOf(got) == bitsOf(contract) || (std::isnan(got) && std::isnan(contract)), "silu rounding g %.9g u %.9g", g[i], u[i]);
        CHECK(bitsOf(onGate[i]) == bitsOf(got) && bitsOf(onUp[i]) == bitsOf(got), "silu in place %zu", i);
      }
      CHECK(out[n] == 42.0f, "silu wrote past the end");
    }
  }
}

/** java.util.Random (its documented 48-bit LCG), to rebuild the inputs of the Java conformance suite. */
struct JavaRandom {
  unsigned long long seed;
  explicit JavaRandom(long long s) : seed(((unsigned long long)s ^ 0x5DEECE66DULL) & ((1ULL << 48) - 1)) {}
  int next(int bits) {
    seed = (seed * 0x5DEECE66DULL + 0xBULL) & ((1ULL << 48) - 1);
    return (int)(long long)(seed >> (48 - bits));
  }
  double nextDouble() { return (double)(((long long)next(26) << 27) + next(27)) * 0x1.0p-53; }
  float nextFloat() { return (float)next(24) / (float)(1 << 24); }
};

/**
 * The cases of crosscoder-core's KernelsConformanceTest (which CudaKernelsConformanceTest runs on
 * a GPU) for the kernels that use expf or a new reduction, rebuilt input for input with
 * java.util.Random's generator and checked with that suite's tolerances (EPS = 2^-23), with the
 * emulator's expf at CUDA's documented worst. A pass here says the GPU run should pass too, as far
 * as the emulator's model of expf and of the launch reaches.
 */
static void testConformanceSuiteCases() {
  const double EPS = std::ldexp(1.0, -23);
  // causalSoftmaxMatchesF64UnderTheMask
  const std::vector<SoftmaxShape> shapes = {{1, 1, 1, 0, 0}, {7, 7, 7, 0, 0}, {33, 33, 40, 0, 0}, {5, 12, 12, 7, 0},
      {5, 12, 15, 7, 3}, {129, 129, 129, 0, 16}, {3, 300, 301, 297, 1}, {40, 1030, 1030, 990, 0}, {2, 3, 3, 10, 2}};
  for (const SoftmaxShape& sh : shapes) {
    JavaRandom r(31LL * sh.rows + sh.cols + sh.window);
    std::vector<float> x((size_t)(sh.rows - 1) * sh.ld + sh.cols);
    for (size_t i = 0; i < x.size(); i++) x[i] = i % sh.ld >= sh.cols ? NAN : (float)(r.nextDouble() * 16 - 8);
    std::vector<float> y = x;
    emu::launch(sh.rows, 256, 0, [&] { cc_causal_softmax_f32(y.data(), sh.rows, sh.cols, sh.ld, sh.firstQuery, sh.window); });
    for (unsigned i = 0; i < sh.rows; i++) {
      double max;
      std::vector<double> want = softmaxOracle(x, sh, i, &max);
      int visible = 0;
      for (unsigned j = 0; j < sh.cols; j++) visible += visibleKey((unsigned long long)sh.firstQuery + i, j, sh.window);
      for (unsigned j = 0; j < sh.cols; j++) {
        float got = y[(size_t)i * sh.ld + j];
        CHECK(std::fabs(got - want[j]) <= (visible + 8) * EPS * want[j] + 1e-38, "suite softmax %u x %u q0 %u w %d (%u, %u): %.9g vs %.17g",
            sh.rows, sh.cols, sh.firstQuery, sh.window, i, j, got, want[j]);
      }
    }
  }
  // siluMultiplyMatchesF64InPlaceOnEitherInput
  for (int n : {1, 7, 33, 129, 100003}) {
    JavaRandom r(400 + n);
    std::vector<float> g(n), u(n);
    for (int i = 0; i < n; i++) g[i] = (float)(r.nextDouble() * 60 - 30);
    const float special[] = {0.0f, -0.0f, -100.0f, 100.0f, 1e-30f, -87.0f, 20.0f};
    for (int i = 0; i < std::min(n, 7); i++) g[i * (n / 7 + 1) % n] = special[i];
    for (int i = 0; i < n; i++) u[i] = r.nextFloat() * 2 - 1;
    std::vector<float> out(n);
    emu::launch(gridFor(n), 256, 0, [&] { cc_silu_mul_f32(g.data(), u.data(), out.data(), (unsigned long long)n); });
    int bad = 0;
    for (int i = 0; i < n; i++) {
      double want = g[i] / (1 + std::exp(-(double)g[i])) * u[i];
      bad += !(std::fabs(out[i] - want) <= 8 * EPS * std::fabs(want) + 1e-37);
    }
    CHECK(bad == 0, "suite silu n %d: %d outside the suite's tolerance", n, bad);
  }
  // rmsNormMatchesF64InPlaceAndOut, through both kernels
  for (unsigned cols : {1u, 7u, 33u, 129u, 1000u}) {
    JavaRandom r(200 + cols);
    const unsigned rows = 5;
    std::vector<float> x((size_t)rows * cols), w(cols);
    for (auto& v : x) v = r.nextFloat() * 2 - 1;
    for (unsigned i = 0; i < cols; i++) x[i] *= 40;
    for (auto& v : w) v = r.nextFloat() * 2 - 1;
    for (bool warp : {false, true}) {
      std::vector<float> out((size_t)rows * cols);
      runRmsNorm(warp, warp ? warpGridFor(rows) : rows, x.data(), w.data(), out.data(), rows, cols, 1e-5f);
      for (unsigned i = 0; i < rows; i++) {
        double squares = 0;
        for (unsigned c = 0; c < cols; c++) squares += (double)x[i * cols + c] * x[i * cols + c];
        double s = 1 / std::sqrt(squares / cols + (double)1e-5f);
        for (unsigned c = 0; c < cols; c++) {
          double want = x[i * cols + c] * s * w[c];
          CHECK(std::fabs(out[i * cols + c] - want) <= (cols + 8) * EPS * std::fabs(want) + 1e-30, "suite rms norm warp %d cols %u", warp, cols);
        }
      }
    }
  }
}

int main() {
  testOrderKey();
  testF16();
  testElementwise();
  testBf16();
  testAdam();
  testScaleMatrixAndBias();
  testRowNorms();
  testColumnSums();
  testBlockSums();
  testCsrCheck();
  testSpmm();
  testCompress();
  testRowTopK();
  testBatchTopK();
  testPairSegments();
  testRmsNorm();
  testRotary();
  testCausalSoftmax();
  testSiluMultiply();
  testConformanceSuiteCases();
  std::printf("%d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
