/*
 * A stand-in for libcublas, for tests on machines without a GPU. It exports the cuBLAS entry
 * points the Java bindings call, with the C signatures of cublas_api.h, and computes on HOST
 * memory: a "device address" handed to it is read and written as a host address. So a test can
 * check that arguments reach cuBLAS in the right order and with the right values, and that
 * results come back, without CUDA.
 *
 * Compiled by the tests with -DFAKE_VERSION=<major*10000 + minor*100 + patch>.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef FAKE_VERSION
#define FAKE_VERSION 130002
#endif

#define HANDLE_MAGIC 0x0C0B1A5
#define STATUS_NOT_INITIALIZED 1
#define STATUS_INVALID_VALUE 7
#define STATUS_NOT_SUPPORTED 15

typedef struct {
  int magic;
  int math_mode;
} fake_handle;

static int creates;
static int destroys;
static int fail_next;
static int last_math_mode = -1;
/* transa, transb, m, n, k, lda, ldb, ldc, atype, btype, ctype, compute, algo */
static int last_call[13];

int fake_creates(void) { return creates; }
int fake_destroys(void) { return destroys; }
void fake_fail_next(int status) { fail_next = status; }
int fake_last_math_mode(void) { return last_math_mode; }
int fake_last_call(int i) { return last_call[i]; }

static int take_failure(void) {
  int s = fail_next;
  fail_next = 0;
  return s;
}

static int valid(void *handle) {
  return handle != NULL && ((fake_handle *) handle)->magic == HANDLE_MAGIC;
}

int cublasCreate_v2(void **handle) {
  int s = take_failure();
  if (s) return s;
  if (handle == NULL) return STATUS_INVALID_VALUE;
  fake_handle *h = calloc(1, sizeof *h);
  h->magic = HANDLE_MAGIC;
  *handle = h;
  creates++;
  return 0;
}

/* Not freed, so that a second destroy of the same handle is seen and refused. */
int cublasDestroy_v2(void *handle) {
  if (!valid(handle)) return STATUS_NOT_INITIALIZED;
  ((fake_handle *) handle)->magic = 0;
  destroys++;
  return 0;
}

int cublasGetVersion_v2(void *handle, int *version) {
  if (!valid(handle)) return STATUS_NOT_INITIALIZED;
  *version = FAKE_VERSION;
  return 0;
}

int cublasGetProperty(int type, int *value) {
  switch (type) {
    case 0: *value = FAKE_VERSION / 10000; return 0;
    case 1: *value = FAKE_VERSION / 100 % 100; return 0;
    case 2: *value = FAKE_VERSION % 100; return 0;
    default: return STATUS_INVALID_VALUE;
  }
}

int cublasSetMathMode(void *handle, int mode) {
  if (!valid(handle)) return STATUS_NOT_INITIALIZED;
  if (mode < 0 || mode > 3) return STATUS_INVALID_VALUE;
  ((fake_handle *) handle)->math_mode = mode;
  last_math_mode = mode;
  return 0;
}

/* libJCublas2's cublasGemmEx wrapper asks for the math mode first. */
int cublasGetMathMode(void *handle, int *mode) {
  if (!valid(handle)) return STATUS_NOT_INITIALIZED;
  *mode = ((fake_handle *) handle)->math_mode;
  return 0;
}

static void record(int transa, int transb, int m, int n, int k, int lda, int ldb, int ldc,
                   int atype, int btype, int ctype, int compute, int algo) {
  int v[13] = {transa, transb, m, n, k, lda, ldb, ldc, atype, btype, ctype, compute, algo};
  memcpy(last_call, v, sizeof v);
}

static float bf16_to_float(uint16_t bits) {
  uint32_t wide = ((uint32_t) bits) << 16;
  float f;
  memcpy(&f, &wide, sizeof f);
  return f;
}

/* Column-major reference GEMM; a and b are read through 'load' at element index; C is not
   read when beta == 0. */
static void gemm(int transa, int transb, int m, int n, int k, float alpha,
                 double (*load)(const void *, long), const void *a, int lda,
                 const void *b, int ldb, float beta, float *c, int ldc) {
  for (int j = 0; j < n; j++) {
    for (int i = 0; i < m; i++) {
      double sum = 0;
      /* Reference BLAS: A and B are not referenced when alpha == 0. */
      for (int p = 0; alpha != 0.0f && p < k; p++) {
        long ia = transa ? (long) p + (long) i * lda : (long) i + (long) p * lda;
        long ib = transb ? (long) j + (long) p * ldb : (long) p + (long) j * ldb;
        sum += load(a, ia) * load(b, ib);
      }
      float *out = &c[(long) i + (long) j * ldc];
      *out = (float) (alpha * sum + (beta == 0.0f ? 0.0 : (double) beta * *out));
    }
  }
}

static double load_f32(const void *base, long i) { return ((const float *) base)[i]; }
static double load_bf16(const void *base, long i) { return bf16_to_float(((const uint16_t *) base)[i]); }

int cublasSgemm_v2(void *handle, int transa, int transb, int m, int n, int k,
                   const float *alpha, const float *a, int lda, const float *b, int ldb,
                   const float *beta, float *c, int ldc) {
  if (!valid(handle)) return STATUS_NOT_INITIALIZED;
  record(transa, transb, m, n, k, lda, ldb, ldc, -1, -1, -1, -1, -1);
  int s = take_failure();
  if (s) return s;
  if (alpha == NULL || beta == NULL) return STATUS_INVALID_VALUE;
  gemm(transa, transb, m, n, k, *alpha, load_f32, a, lda, b, ldb, *beta, c, ldc);
  return 0;
}

int cublasGemmEx(void *handle, int transa, int transb, int m, int n, int k,
                 const void *alpha, const void *a, int atype, int lda,
                 const void *b, int btype, int ldb, const void *beta,
                 void *c, int ctype, int ldc, int compute, int algo) {
  if (!valid(handle)) return STATUS_NOT_INITIALIZED;
  record(transa, transb, m, n, k, lda, ldb, ldc, atype, btype, ctype, compute, algo);
  int s = take_failure();
  if (s) return s;
  /* Only the combination the bindings use: BF16 x BF16 -> F32, compute 32F. */
  if (atype != 14 || btype != 14 || ctype != 0 || compute != 68) return STATUS_NOT_SUPPORTED;
  gemm(transa, transb, m, n, k, *(const float *) alpha, load_bf16, a, lda, b, ldb,
       *(const float *) beta, (float *) c, ldc);
  return 0;
}
