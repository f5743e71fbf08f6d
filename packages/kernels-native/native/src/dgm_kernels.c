/*
 * dgm.js native kernels: single-precision GEMM and NHWC convolutions (im2col / col2im + GEMM)
 * over OpenBLAS, exposed to Node through N-API. Every function works in place on Float32Arrays
 * (for dgm.js: views on the tfjs wasm heap), so no tensor data is copied between JS and C.
 *
 * Safety: every array argument is checked against the extents the call will touch before any
 * memory is read or written; a mismatch throws a RangeError instead of corrupting memory.
 *
 * Threads: the GEMMs run on OpenBLAS's thread count (setNumThreads, default 1 as set by the
 * JS loader); the im2col / col2im loops run on the calling thread. The scratch buffer is per
 * N-API environment (per worker thread), so workers never share it.
 */
#include "dgm_napi.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DGM_KERNELS_VERSION "1"

/* ------------------------------------------------------------------------------------------ */
/* Per-environment scratch                                                                    */

typedef struct {
  float* buf;
  size_t cap; /* floats */
} Scratch;

static void scratch_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  Scratch* s = (Scratch*)data;
  if (s) {
    free(s->buf);
    free(s);
  }
}

static float* scratch_get(napi_env env, size_t n) {
  Scratch* s = NULL;
  if (napi_get_instance_data(env, (void**)&s) != napi_ok || s == NULL) return NULL;
  if (s->cap < n) {
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
    void* p = NULL;
    if (posix_memalign(&p, 64, n * sizeof(float)) != 0) return NULL;
    s->buf = (float*)p;
    s->cap = n;
  }
  return s->buf;
}

/* Rows of the im2col matrix processed per GEMM: keeps a chunk (rows x K floats) in L2. */
static size_t chunk_floats = 131072;

static int64_t chunk_rows(int64_t K, int64_t M) {
  int64_t rows = (int64_t)chunk_floats / (K > 0 ? K : 1);
  if (rows < 32) rows = 32;
  rows = (rows + 7) / 8 * 8;
  return rows < M ? rows : M;
}

/* ------------------------------------------------------------------------------------------ */
/* GEMM                                                                                       */

/* Elements a row-major (rows x cols, leading dimension ld) operand spans; 0 when empty. */
static int64_t span(int64_t rows, int64_t cols, int64_t ld) {
  if (rows <= 0 || cols <= 0) return 0;
  return (rows - 1) * ld + cols;
}

static void scale_matrix(float* c, int64_t m, int64_t n, int64_t ldc, float beta) {
  for (int64_t i = 0; i < m; i++) {
    float* row = c + i * ldc;
    if (beta == 0.0f)
      memset(row, 0, (size_t)n * sizeof(float));
    else
      for (int64_t j = 0; j < n; j++) row[j] *= beta;
  }
}

/*
 * Some OpenBLAS kernels (Sandybridge's sgemm, seen here) return with the upper halves of the ymm
 * registers dirty; every SSE (non-VEX) instruction after that pays for merging them (the
 * portable copies and the baseline loops of this file ran 2.7x slower). vzeroupper after each
 * BLAS call, on CPUs that have AVX, clears that state.
 */
bool dgm_cpu_avx = false;
#if DGM_X86
__attribute__((target("avx"), noinline)) static void vzeroupper(void) {
  __builtin_ia32_vzeroupper();
}
#endif
static inline void after_blas(void) {
#if DGM_X86
  if (dgm_cpu_avx) vzeroupper();
#endif
}

static void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    scale_matrix(c, m, n, ldc, beta);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c,
              (blasint)ldc);
  after_blas();
}

/*
 * sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc
 *       [, strideA, batchA, strideB, batchB, strideC, batch])
 * C_i = alpha op(A_{i % batchA}) op(B_{i % batchB}) + beta C_i for i < batch (row-major).
 */
static napi_value js_sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 19;
  napi_value argv[19];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 13 && argc != 19)
    return throw_type(env, "sgemm: expected 13 arguments (or 19 with batch strides)");
  bool ta, tb;
  int64_t m, n, k, lda, ldb, ldc;
  int64_t stride_a = 0, batch_a = 1, stride_b = 0, batch_b = 1, stride_c = 0, batch = 1;
  double alpha, beta;
  float *a, *b, *c;
  size_t la, lb, lc;
  if (arg_bool(env, argv[0], &ta) || arg_bool(env, argv[1], &tb))
    return throw_type(env, "sgemm: transA/transB must be booleans");
  if (arg_int(env, argv[2], &m) || arg_int(env, argv[3], &n) || arg_int(env, argv[4], &k) ||
      arg_int(env, argv[7], &lda) || arg_int(env, argv[9], &ldb) || arg_int(env, argv[12], &ldc))
    return throw_type(env, "sgemm: m, n, k, lda, ldb, ldc must be integers");
  if (arg_double(env, argv[5], &alpha) || arg_double(env, argv[10], &beta))
    return throw_type(env, "sgemm: alpha and beta must be numbers");
  if (arg_f32(env, argv[6], &a, &la) || arg_f32(env, argv[8], &b, &lb) ||
      arg_f32(env, argv[11], &c, &lc))
    return throw_type(env, "sgemm: a, b and c must be Float32Arrays");
  if (argc == 19) {
    if (arg_int(env, argv[13], &stride_a) || arg_int(env, argv[14], &batch_a) ||
        arg_int(env, argv[15], &stride_b) || arg_int(env, argv[16], &batch_b) ||
        arg_int(env, argv[17], &stride_c) || arg_int(env, argv[18], &batch))
      return throw_type(env, "sgemm: batch strides and counts must be integers");
  }
  if (m < 0 || n < 0 || k < 0 || batch < 0 || batch_a < 1 || batch_b < 1 || stride_a < 0 ||
      stride_b < 0 || stride_c < 0)
    return throw_range(env, "sgemm: negative size, stride or batch count");
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || lda > INT32_MAX || ldb > INT32_MAX ||
      ldc > INT32_MAX)
    return throw_range(env, "sgemm: a dimension exceeds the BLAS integer range");
  const int64_t ar = ta ? k : m, ac = ta ? m : k;
  const int64_t br = tb ? n : k, bc = tb ? k : n;
  if (lda < (ac > 1 ? ac : 1) || ldb < (bc > 1 ? bc : 1) || ldc < (n > 1 ? n : 1))
    return throw_range(env, "sgemm: a leading dimension is smaller than its row length");
  if (batch == 0 || m == 0 || n == 0) return NULL;
  const int64_t na = batch_a < batch ? batch_a : batch;
  const int64_t nb = batch_b < batch ? batch_b : batch;
  if (k > 0 && ((na - 1) * stride_a + span(ar, ac, lda) > (int64_t)la ||
                (nb - 1) * stride_b + span(br, bc, ldb) > (int64_t)lb))
    return throw_range(env, "sgemm: a or b is shorter than its shape and strides require");
  if ((batch - 1) * stride_c + span(m, n, ldc) > (int64_t)lc)
    return throw_range(env, "sgemm: c is shorter than its shape and strides require");
  for (int64_t i = 0; i < batch; i++) {
    gemm(ta, tb, m, n, k, (float)alpha, a + (i % batch_a) * stride_a, lda,
         b + (i % batch_b) * stride_b, ldb, (float)beta, c + i * stride_c, ldc);
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Bias + activation                                                                          */

enum { ACT_LINEAR = 0, ACT_RELU = 1, ACT_RELU6 = 2, ACT_ELU = 3, ACT_SIGMOID = 4, ACT_LEAKY = 5 };

static void activate_row(float* restrict r, int64_t n, int act, float alpha) {
  switch (act) {
    case ACT_RELU:
      for (int64_t j = 0; j < n; j++) r[j] = r[j] > 0.0f ? r[j] : 0.0f;
      break;
    case ACT_RELU6:
      for (int64_t j = 0; j < n; j++) r[j] = r[j] < 0.0f ? 0.0f : (r[j] > 6.0f ? 6.0f : r[j]);
      break;
    case ACT_ELU:
      for (int64_t j = 0; j < n; j++) r[j] = r[j] >= 0.0f ? r[j] : expm1f(r[j]);
      break;
    case ACT_SIGMOID:
      for (int64_t j = 0; j < n; j++) r[j] = 1.0f / (1.0f + expf(-r[j]));
      break;
    case ACT_LEAKY:
      for (int64_t j = 0; j < n; j++) r[j] = r[j] < 0.0f ? alpha * r[j] : r[j];
      break;
    default:
      break;
  }
}

/*
 * biasActivation(c, rows, cols, bias | null, activation, alpha): in place on the rows x cols
 * matrix c, adds bias (length cols: one per column; or rows * cols: elementwise) then applies
 * the activation (0 linear, 1 relu, 2 relu6, 3 elu, 4 sigmoid, 5 leakyrelu with slope alpha).
 */
static napi_value js_bias_activation(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6) return throw_type(env, "biasActivation: expected 6 arguments");
  float *c, *bias;
  size_t lc, lbias;
  int64_t rows, cols, act;
  double alpha;
  if (arg_f32(env, argv[0], &c, &lc)) return throw_type(env, "biasActivation: c must be a Float32Array");
  if (arg_int(env, argv[1], &rows) || arg_int(env, argv[2], &cols) || arg_int(env, argv[4], &act))
    return throw_type(env, "biasActivation: rows, cols and activation must be integers");
  if (arg_double(env, argv[5], &alpha)) return throw_type(env, "biasActivation: alpha must be a number");
  int nb = arg_f32_or_null(env, argv[3], &bias, &lbias);
  if (nb < 0) return throw_type(env, "biasActivation: bias must be a Float32Array or null");
  if (rows < 0 || cols < 0 || act < 0 || act > ACT_LEAKY)
    return throw_range(env, "biasActivation: bad size or activation code");
  if ((int64_t)lc < rows * cols) return throw_range(env, "biasActivation: c is too short");
  const bool full = bias && (int64_t)lbias == rows * cols && rows != 1;
  if (bias && !full && (int64_t)lbias != cols)
    return throw_range(env, "biasActivation: bias length must be cols or rows * cols");
  for (int64_t i = 0; i < rows; i++) {
    float* restrict r = c + i * cols;
    if (bias) {
      const float* restrict bb = full ? bias + i * cols : bias;
      for (int64_t j = 0; j < cols; j++) r[j] += bb[j];
    }
    activate_row(r, cols, (int)act, (float)alpha);
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Convolutions (NHWC input, HWIO filter, NHWC output)                                         */

typedef struct {
  int64_t n, h, w, ci, oh, ow, co, kh, kw, sh, sw, dh, dw, pt, pl;
} Geom;

static const char* read_geom(napi_env env, napi_value v, Geom* g) {
  const int32_t* p;
  size_t len;
  if (arg_i32s(env, v, &p, &len) || len != 15)
    return "geometry must be an Int32Array of 15 values [n, h, w, cin, outH, outW, cout, kh, kw, "
           "strideH, strideW, dilationH, dilationW, padTop, padLeft]";
  *g = (Geom){p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13],
              p[14]};
  if (g->n < 0 || g->h < 0 || g->w < 0 || g->ci < 0 || g->oh < 0 || g->ow < 0 || g->co < 0 ||
      g->kh < 1 || g->kw < 1 || g->sh < 1 || g->sw < 1 || g->dh < 1 || g->dw < 1 || g->pt < 0 ||
      g->pl < 0)
    return "geometry has a negative size or pad, or a zero kernel, stride or dilation";
  return NULL;
}

/* True when the convolution is a plain matrix product (1x1 filter, stride 1, no padding). */
static bool is_pointwise(const Geom* g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
         g->oh == g->h && g->ow == g->w;
}

/* Rows r0 .. r0+nr-1 (output pixels) of the im2col matrix, each kh*kw*ci long. */
static void im2col(const float* restrict x, float* restrict col, const Geom* g, int64_t r0,
                   int64_t nr) {
  const int64_t ci = g->ci, kw = g->kw, K = g->kh * kw * ci, hw = g->oh * g->ow;
  int64_t n = r0 / hw, rem = r0 % hw, oh = rem / g->ow, ow = rem % g->ow;
  for (int64_t r = 0; r < nr; r++) {
    float* dst = col + r * K;
    const float* xn = x + n * g->h * g->w * ci;
    const int64_t ih0 = oh * g->sh - g->pt, iw0 = ow * g->sw - g->pl;
    const bool row_inside = g->dw == 1 && iw0 >= 0 && iw0 + kw <= g->w;
    for (int64_t i = 0; i < g->kh; i++) {
      const int64_t ih = ih0 + i * g->dh;
      float* d = dst + i * kw * ci;
      if (ih < 0 || ih >= g->h) {
        memset(d, 0, (size_t)(kw * ci) * sizeof(float));
        continue;
      }
      const float* xrow = xn + ih * g->w * ci;
      if (row_inside) {
        memcpy(d, xrow + iw0 * ci, (size_t)(kw * ci) * sizeof(float));
        continue;
      }
      for (int64_t j = 0; j < kw; j++) {
        const int64_t iw = iw0 + j * g->dw;
        if (iw < 0 || iw >= g->w)
          memset(d + j * ci, 0, (size_t)ci * sizeof(float));
        else
          memcpy(d + j * ci, xrow + iw * ci, (size_t)ci * sizeof(float));
      }
    }
    if (++ow == g->ow) {
      ow = 0;
      if (++oh == g->oh) {
        oh = 0;
        n++;
      }
    }
  }
}

static inline void add_run(float* restrict d, const float* restrict s, int64_t len) {
  for (int64_t c = 0; c < len; c++) d[c] += s[c];
}

/* Scatter-adds rows r0 .. r0+nr-1 of a column matrix into the NHWC image dx. */
static void col2im(const float* restrict col, float* restrict dx, const Geom* g, int64_t r0,
                   int64_t nr) {
  const int64_t ci = g->ci, kw = g->kw, K = g->kh * kw * ci, hw = g->oh * g->ow;
  int64_t n = r0 / hw, rem = r0 % hw, oh = rem / g->ow, ow = rem % g->ow;
  for (int64_t r = 0; r < nr; r++) {
    const float* src = col + r * K;
    float* xn = dx + n * g->h * g->w * ci;
    const int64_t ih0 = oh * g->sh - g->pt, iw0 = ow * g->sw - g->pl;
    const bool row_inside = g->dw == 1 && iw0 >= 0 && iw0 + kw <= g->w;
    for (int64_t i = 0; i < g->kh; i++) {
      const int64_t ih = ih0 + i * g->dh;
      if (ih < 0 || ih >= g->h) continue;
      const float* s = src + i * kw * ci;
      float* xrow = xn + ih * g->w * ci;
      if (row_inside) {
        add_run(xrow + iw0 * ci, s, kw * ci);
        continue;
      }
      for (int64_t j = 0; j < kw; j++) {
        const int64_t iw = iw0 + j * g->dw;
        if (iw >= 0 && iw < g->w) add_run(xrow + iw * ci, s + j * ci, ci);
      }
    }
    if (++ow == g->ow) {
      ow = 0;
      if (++oh == g->oh) {
        oh = 0;
        n++;
      }
    }
  }
}

typedef enum { CONV_FWD, CONV_BWD_FILTER, CONV_BWD_INPUT } ConvKind;

/* ------------------------------------------------------------------------------------------ */
/* Path choice for stride-1 convolutions                                                      */

/* auto: the measured table of dgm_conv.c; direct: whenever covered; im2col: never direct. */
enum { PATH_AUTO = 0, PATH_DIRECT = 1, PATH_IM2COL = 2 };
static const char* const PATH_NAMES[] = {"auto", "direct", "im2col"};
static _Atomic int conv_path = PATH_AUTO;

static void geom_array(const Geom* g, int64_t out[15]) {
  const int64_t v[15] = {g->n,  g->h,  g->w,  g->ci, g->oh, g->ow, g->co, g->kh,
                         g->kw, g->sh, g->sw, g->dh, g->dw, g->pt, g->pl};
  memcpy(out, v, sizeof v);
}

/* Whether conv_common runs kind on g through dgm_conv.c at level isa (g not pointwise). */
static bool use_direct(int isa, ConvKind kind, const Geom* g) {
  if (conv_path == PATH_IM2COL) return false;
  int64_t gg[15];
  geom_array(g, gg);
  return conv_path == PATH_DIRECT ? dgm_conv_covered(isa, (int)kind, gg) != 0
                                  : dgm_conv_prefer_direct(isa, (int)kind, gg) != 0;
}

static int read_string(napi_env env, napi_value v, char* buf, size_t cap) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return -1;
  return len + 1 < cap ? 0 : -1;
}

/* setConvPath('auto' | 'direct' | 'im2col'): returns the previous mode. */
static napi_value js_set_conv_path(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[16];
  int mode = -1;
  if (argc >= 1 && read_string(env, argv[0], name, sizeof name) == 0)
    for (int i = 0; i < 3; i++)
      if (strcmp(name, PATH_NAMES[i]) == 0) mode = i;
  if (mode < 0) return throw_type(env, "setConvPath: expected 'auto', 'direct' or 'im2col'");
  napi_value prev;
  CHECK_NAPI(env, napi_create_string_utf8(env, PATH_NAMES[conv_path], NAPI_AUTO_LENGTH, &prev));
  conv_path = mode;
  return prev;
}

/* Deprecated: setConvDirect(true) = setConvPath('auto'), false = 'im2col'; old value as a bool. */
static napi_value js_set_conv_direct(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool on;
  if (argc < 1 || arg_bool(env, argv[0], &on)) return throw_type(env, "setConvDirect: expected a boolean");
  napi_value prev;
  CHECK_NAPI(env, napi_get_boolean(env, conv_path != PATH_IM2COL, &prev));
  conv_path = on ? PATH_AUTO : PATH_IM2COL;
  return prev;
}

static const char* const CONV_NAMES[] = {"conv2d", "conv2dBackpropFilter", "conv2dBackpropInput"};

/*
 * convPath(kind, geometry): the path the named convolution ('conv2d', 'conv2dBackpropFilter',
 * 'conv2dBackpropInput') takes now for the geometry: 'pointwise' (a plain GEMM), 'direct' or
 * 'im2col'.
 */
static napi_value js_conv_path(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[32];
  int kind = -1;
  if (argc >= 1 && read_string(env, argv[0], name, sizeof name) == 0)
    for (int i = 0; i < 3; i++)
      if (strcmp(name, CONV_NAMES[i]) == 0) kind = i;
  if (kind < 0 || argc < 2)
    return throw_type(env, "convPath(kind, geometry): kind is 'conv2d', 'conv2dBackpropFilter' or "
                           "'conv2dBackpropInput'");
  Geom g;
  const char* err = read_geom(env, argv[1], &g);
  if (err) {
    char msg[256];
    snprintf(msg, sizeof msg, "convPath: %s", err);
    return throw_range(env, msg);
  }
  const char* path = is_pointwise(&g)                           ? "pointwise"
                     : use_direct(dgm_isa, (ConvKind)kind, &g) ? "direct"
                                                               : "im2col";
  napi_value out;
  CHECK_NAPI(env, napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &out));
  return out;
}

/*
 * conv2d(x, filter, y, geometry)                y = conv(x, filter)
 * conv2dBackpropFilter(x, dy, dfilter, geometry) dfilter = d(sum dy * y)/d filter
 * conv2dBackpropInput(dy, filter, dx, geometry)  dx = d(sum dy * y)/d x
 * All arrays NHWC / HWIO float32; outputs are overwritten.
 */
static napi_value conv_common(napi_env env, napi_callback_info info, ConvKind kind) {
  const char* name = CONV_NAMES[kind];
  char msg[256];
  size_t argc = 4;
  napi_value argv[4];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 4) {
    snprintf(msg, sizeof msg, "%s: expected 4 arguments", name);
    return throw_type(env, msg);
  }
  float *p0, *p1, *p2;
  size_t l0, l1, l2;
  if (arg_f32(env, argv[0], &p0, &l0) || arg_f32(env, argv[1], &p1, &l1) ||
      arg_f32(env, argv[2], &p2, &l2)) {
    snprintf(msg, sizeof msg, "%s: the first three arguments must be Float32Arrays", name);
    return throw_type(env, msg);
  }
  Geom g;
  const char* err = read_geom(env, argv[3], &g);
  if (err) {
    snprintf(msg, sizeof msg, "%s: %s", name, err);
    return throw_range(env, msg);
  }
  const int64_t xs = g.n * g.h * g.w * g.ci, ws = g.kh * g.kw * g.ci * g.co,
                ys = g.n * g.oh * g.ow * g.co;
  int64_t need0, need1, need2;
  switch (kind) {
    case CONV_FWD: need0 = xs, need1 = ws, need2 = ys; break;
    case CONV_BWD_FILTER: need0 = xs, need1 = ys, need2 = ws; break;
    default: need0 = ys, need1 = ws, need2 = xs; break;
  }
  if ((int64_t)l0 != need0 || (int64_t)l1 != need1 || (int64_t)l2 != need2) {
    snprintf(msg, sizeof msg,
             "%s: array lengths %zu, %zu, %zu do not match the geometry (expected %lld, %lld, %lld)",
             name, l0, l1, l2, (long long)need0, (long long)need1, (long long)need2);
    return throw_range(env, msg);
  }
  if (g.kh * g.kw * g.ci > INT32_MAX || g.co > INT32_MAX || g.n * g.oh * g.ow > INT32_MAX)
    return throw_range(env, "convolution too large for the BLAS integer range");
  const int64_t K = g.kh * g.kw * g.ci, M = g.n * g.oh * g.ow, co = g.co;
  if (need2 == 0) return NULL;
  if (kind == CONV_BWD_INPUT) memset(p2, 0, (size_t)need2 * sizeof(float));
  if (M == 0 || K == 0 || co == 0) {
    if (kind != CONV_BWD_INPUT) memset(p2, 0, (size_t)need2 * sizeof(float));
    return NULL;
  }
  if (is_pointwise(&g)) {
    /* The input is its own im2col matrix (M x ci). */
    if (kind == CONV_FWD)
      gemm(false, false, M, co, K, 1.0f, p0, K, p1, co, 0.0f, p2, co);
    else if (kind == CONV_BWD_FILTER)
      gemm(true, false, K, co, M, 1.0f, p0, K, p1, co, 0.0f, p2, co);
    else
      gemm(false, true, M, K, co, 1.0f, p0, co, p1, co, 0.0f, p2, K);
    return NULL;
  }
  const int isa = dgm_isa; /* one level for the whole call (setIsa may run on another thread) */
  if (use_direct(isa, kind, &g)) {
    int64_t gg[15];
    geom_array(&g, gg);
    const int64_t need = dgm_conv_direct_scratch(isa, (int)kind, gg);
    if (need >= 0) {
      float* s = scratch_get(env, (size_t)(need > 0 ? need : 1));
      if (!s) {
        napi_throw_error(env, NULL, "dgm_kernels: out of memory for the convolution scratch");
        return NULL;
      }
      dgm_conv_direct(isa, (int)kind, gg, p0, p1, p2, s);
      return NULL;
    }
  }
  const int64_t rows = chunk_rows(K, M);
  float* col = scratch_get(env, (size_t)(rows * K));
  if (!col) {
    napi_throw_error(env, NULL, "dgm_kernels: out of memory for the im2col buffer");
    return NULL;
  }
  for (int64_t r0 = 0; r0 < M; r0 += rows) {
    const int64_t nr = M - r0 < rows ? M - r0 : rows;
    switch (kind) {
      case CONV_FWD:
        im2col(p0, col, &g, r0, nr);
        gemm(false, false, nr, co, K, 1.0f, col, K, p1, co, 0.0f, p2 + r0 * co, co);
        break;
      case CONV_BWD_FILTER:
        im2col(p0, col, &g, r0, nr);
        gemm(true, false, K, co, nr, 1.0f, col, K, p1 + r0 * co, co, r0 == 0 ? 0.0f : 1.0f, p2,
             co);
        break;
      default:
        gemm(false, true, nr, K, co, 1.0f, p0 + r0 * co, co, p1, co, 0.0f, col, K);
        col2im(col, p2, &g, r0, nr);
        break;
    }
  }
  return NULL;
}

static napi_value js_conv2d(napi_env env, napi_callback_info info) {
  return conv_common(env, info, CONV_FWD);
}
static napi_value js_conv2d_bwd_filter(napi_env env, napi_callback_info info) {
  return conv_common(env, info, CONV_BWD_FILTER);
}
static napi_value js_conv2d_bwd_input(napi_env env, napi_callback_info info) {
  return conv_common(env, info, CONV_BWD_INPUT);
}

/* ------------------------------------------------------------------------------------------ */
/* Instruction-set level (dgm_napi.h)                                                          */

_Atomic int dgm_isa = DGM_ISA_GENERIC;
static const char* const ISA_NAMES[DGM_N_ISA] = {"generic", "avx2", "avx512"};
/* Why DGM_NATIVE_ISA was not followed, or "" (set once, at the first load). */
static char isa_note[160];
static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

/* Whether this build has the level and the CPU (and OS) runs it. */
static bool isa_supported(int level) {
  if (level == DGM_ISA_GENERIC) return true;
#if DGM_X86
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (level == DGM_ISA_AVX2) return avx2;
  if (level == DGM_ISA_AVX512)
    return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#endif
  return false;
}

static int isa_from_name(const char* name) {
  for (int i = 0; i < DGM_N_ISA; i++)
    if (strcmp(name, ISA_NAMES[i]) == 0) return i;
  return -1;
}

/* The best supported level, unless DGM_NATIVE_ISA names a supported one. */
/* OpenBLAS kernel families without AVX (x86 SSE kernels): their GEMMs are 2-3x slower. */
bool dgm_blas_sse = false;
static const char* const SSE_BLAS[] = {"katmai",  "coppermine", "northwood", "prescott", "banias",
                                       "atom",    "core2",      "penryn",    "dunnington",
                                       "nehalem", "athlon",     "opteron",   "opteron_sse3",
                                       "barcelona", "nano",     "bobcat"};

static void isa_init(void) {
#if DGM_X86
  __builtin_cpu_init();
  dgm_cpu_avx = __builtin_cpu_supports("avx");
#endif
  const char* core = openblas_get_corename();
  for (size_t i = 0; core && i < sizeof SSE_BLAS / sizeof SSE_BLAS[0]; i++)
    if (strcasecmp(core, SSE_BLAS[i]) == 0) dgm_blas_sse = true;
  int best = DGM_ISA_GENERIC;
  for (int i = 0; i < DGM_N_ISA; i++)
    if (isa_supported(i)) best = i;
  dgm_isa = best;
  const char* want = getenv("DGM_NATIVE_ISA");
  if (!want || !*want) return;
  const int l = isa_from_name(want);
  if (l < 0)
    snprintf(isa_note, sizeof isa_note,
             "DGM_NATIVE_ISA=%.40s is not one of avx512, avx2, generic; using %s", want,
             ISA_NAMES[best]);
  else if (!isa_supported(l))
    snprintf(isa_note, sizeof isa_note, "DGM_NATIVE_ISA=%s is not supported here; using %s", want,
             ISA_NAMES[best]);
  else
    dgm_isa = l;
}

/* setIsa('avx512' | 'avx2' | 'generic'): the level of every kernel from now on; returns the old. */
static napi_value js_set_isa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[16];
  const int l =
      argc >= 1 && read_string(env, argv[0], name, sizeof name) == 0 ? isa_from_name(name) : -1;
  if (l < 0) return throw_type(env, "setIsa: expected 'avx512', 'avx2' or 'generic'");
  if (!isa_supported(l)) {
    char msg[128];
    snprintf(msg, sizeof msg,
             "setIsa: '%s' is not supported by this CPU or build (see info().isas)", ISA_NAMES[l]);
    return throw_range(env, msg);
  }
  napi_value prev;
  CHECK_NAPI(env, napi_create_string_utf8(env, ISA_NAMES[dgm_isa], NAPI_AUTO_LENGTH, &prev));
  dgm_isa = l;
  return prev;
}

/* ------------------------------------------------------------------------------------------ */
/* Threads, tuning, info                                                                      */

static napi_value js_set_num_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n;
  if (argc != 1 || arg_int(env, argv[0], &n) || n < 1 || n > 1024)
    return throw_range(env, "setNumThreads: expected an integer from 1 to 1024");
  openblas_set_num_threads((int)n);
  return NULL;
}

static napi_value js_get_num_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  CHECK_NAPI(env, napi_create_int32(env, openblas_get_num_threads(), &out));
  return out;
}

/* setChunkFloats(n): im2col chunk size in floats (tuning; default 131072). Returns the old one. */
static napi_value js_set_chunk_floats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n;
  if (argc != 1 || arg_int(env, argv[0], &n) || n < 1024 || n > (1 << 26))
    return throw_range(env, "setChunkFloats: expected an integer from 1024 to 2^26");
  napi_value out;
  CHECK_NAPI(env, napi_create_double(env, (double)chunk_floats, &out));
  chunk_floats = (size_t)n;
  return out;
}

static napi_value js_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, v;
  CHECK_NAPI(env, napi_create_object(env, &obj));
  const char* core = openblas_get_corename();
  const char* config = openblas_get_config();
  CHECK_NAPI(env, napi_create_string_utf8(env, core ? core : "unknown", NAPI_AUTO_LENGTH, &v));
  CHECK_NAPI(env, napi_set_named_property(env, obj, "corename", v));
  CHECK_NAPI(env, napi_create_string_utf8(env, config ? config : "unknown", NAPI_AUTO_LENGTH, &v));
  CHECK_NAPI(env, napi_set_named_property(env, obj, "config", v));
  CHECK_NAPI(env, napi_create_int32(env, openblas_get_num_threads(), &v));
  CHECK_NAPI(env, napi_set_named_property(env, obj, "threads", v));
  CHECK_NAPI(env, napi_create_string_utf8(env, DGM_KERNELS_VERSION, NAPI_AUTO_LENGTH, &v));
  CHECK_NAPI(env, napi_set_named_property(env, obj, "abi", v));
  CHECK_NAPI(env, napi_create_string_utf8(env, ISA_NAMES[dgm_isa], NAPI_AUTO_LENGTH, &v));
  CHECK_NAPI(env, napi_set_named_property(env, obj, "isa", v));
  napi_value arr;
  CHECK_NAPI(env, napi_create_array(env, &arr));
  uint32_t k = 0;
  for (int i = DGM_N_ISA - 1; i >= 0; i--) {
    if (!isa_supported(i)) continue;
    CHECK_NAPI(env, napi_create_string_utf8(env, ISA_NAMES[i], NAPI_AUTO_LENGTH, &v));
    CHECK_NAPI(env, napi_set_element(env, arr, k++, v));
  }
  CHECK_NAPI(env, napi_set_named_property(env, obj, "isas", arr));
  if (isa_note[0])
    CHECK_NAPI(env, napi_create_string_utf8(env, isa_note, NAPI_AUTO_LENGTH, &v));
  else
    CHECK_NAPI(env, napi_get_null(env, &v));
  CHECK_NAPI(env, napi_set_named_property(env, obj, "isaNote", v));
  CHECK_NAPI(env, napi_create_string_utf8(env, PATH_NAMES[conv_path], NAPI_AUTO_LENGTH, &v));
  CHECK_NAPI(env, napi_set_named_property(env, obj, "convPath", v));
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  pthread_once(&isa_once, isa_init);
  Scratch* s = (Scratch*)calloc(1, sizeof(Scratch));
  if (!s || napi_set_instance_data(env, s, scratch_finalize, NULL) != napi_ok) {
    free(s);
    napi_throw_error(env, NULL, "dgm_kernels: could not allocate instance data");
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"sgemm", NULL, js_sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"biasActivation", NULL, js_bias_activation, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2d", NULL, js_conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackpropFilter", NULL, js_conv2d_bwd_filter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackpropInput", NULL, js_conv2d_bwd_input, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setNumThreads", NULL, js_set_num_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getNumThreads", NULL, js_get_num_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setChunkFloats", NULL, js_set_chunk_floats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setConvDirect", NULL, js_set_conv_direct, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setConvPath", NULL, js_set_conv_path, NULL, NULL, NULL, napi_enumerable, NULL},
      {"convPath", NULL, js_conv_path, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setIsa", NULL, js_set_isa, NULL, NULL, NULL, napi_enumerable, NULL},
      {"info", NULL, js_info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  if (dgm_math_register(env, exports) != 0 || dgm_ops_register(env, exports) != 0) {
    napi_throw_error(env, NULL, "dgm_kernels: could not register functions");
    return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
