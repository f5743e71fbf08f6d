/*
 * dgm.js native kernels: a fused Adam update and memory-bound ops (sums over leading or trailing
 * axes, a broadcast bias add, the step function of relu gradients). Plain C loops that GCC
 * vectorises at -O3; every array length is checked before memory is touched.
 */
#include "dgm_napi.h"

/* No fused multiply-adds: the Adam update must round exactly like tfjs's separate ops. */
#pragma GCC optimize("fp-contract=off")

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGS(n)                                                          \
  size_t argc = (n);                                                     \
  napi_value argv[(n)];                                                  \
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL)); \
  if (argc < (n)) return throw_type(env, "dgm_kernels: too few arguments");

/* ------------------------------------------------------------------------------------------ */
/* Loops                                                                                      */

/* Adam in one pass; float32 arithmetic in the order of tf.train.adam's ops. */
DGM_BODY void adam_loop_body(float* restrict P, const float* restrict G, float* restrict M,
                             float* restrict V, size_t n, float b1, float b2, float a1, float a2,
                             float c1, float c2, float eps, float nlr) {
  for (size_t i = 0; i < n; i++) {
    const float gi = G[i];
    const float mi = M[i] * b1 + gi * a1;
    const float vi = V[i] * b2 + (gi * gi) * a2;
    M[i] = mi;
    V[i] = vi;
    P[i] = (nlr * ((mi / c1) / (sqrtf(vi / c2) + eps))) + P[i];
  }
}
DGM_MULTI_VOID(adam_loop,
               (float* restrict P, const float* restrict G, float* restrict M, float* restrict V,
                size_t n, float b1, float b2, float a1, float a2, float c1, float c2, float eps,
                float nlr),
               (P, G, M, V, n, b1, b2, a1, a2, c1, c2, eps, nlr))

DGM_BODY void sum_leading_loop_body(const float* restrict x, int64_t rows, int64_t cols,
                                    double* restrict acc) {
  for (int64_t i = 0; i < rows; i++) {
    const float* restrict r = x + i * cols;
    for (int64_t j = 0; j < cols; j++) acc[j] += (double)r[j];
  }
}
DGM_MULTI_VOID(sum_leading_loop,
               (const float* restrict x, int64_t rows, int64_t cols, double* restrict acc),
               (x, rows, cols, acc))

DGM_BODY void sum_trailing_loop_body(const float* restrict x, int64_t rows, int64_t cols,
                                     float* restrict out) {
  for (int64_t i = 0; i < rows; i++) {
    const float* restrict r = x + i * cols;
    /* Eight independent double partial sums: vectorises without reassociating one chain. */
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8)
      for (int l = 0; l < 8; l++) s[l] += (double)r[j + l];
    double t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; j < cols; j++) t += (double)r[j];
    out[i] = (float)t;
  }
}
DGM_MULTI_VOID(sum_trailing_loop,
               (const float* restrict x, int64_t rows, int64_t cols, float* restrict out),
               (x, rows, cols, out))

/* out may alias x (never bias). */
DGM_BODY void add_bias_loop_body(const float* x, int64_t rows, int64_t cols,
                                 const float* restrict b, float* out) {
  for (int64_t i = 0; i < rows; i++) {
    const float* xr = x + i * cols;
    float* orow = out + i * cols;
    for (int64_t j = 0; j < cols; j++) orow[j] = xr[j] + b[j];
  }
}
DGM_MULTI_VOID(add_bias_loop,
               (const float* x, int64_t rows, int64_t cols, const float* restrict b, float* out),
               (x, rows, cols, b, out))

DGM_BODY void step_loop_body(const float* x, size_t n, float a, float* out) {
  for (size_t i = 0; i < n; i++) {
    const float v = x[i];
    out[i] = v != v ? v : (v > 0.0f ? 1.0f : a);
  }
}
DGM_MULTI_VOID(step_loop, (const float* x, size_t n, float a, float* out), (x, n, a, out))

/* ------------------------------------------------------------------------------------------ */
/* N-API entry points                                                                         */

/*
 * adam(param, grad, m, v, lr, beta1, beta2, eps, c1, c2), in place, for every i:
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   param += -lr (m / c1) / (sqrt(v / c2) + eps)
 * where c1, c2 are 1 - beta^t (the update of tf.train.adam).
 */
static napi_value js_adam(napi_env env, napi_callback_info info) {
  ARGS(10);
  float *p, *g, *m, *v;
  size_t np, ng, nm, nv;
  if (arg_f32(env, argv[0], &p, &np) || arg_f32(env, argv[1], &g, &ng) ||
      arg_f32(env, argv[2], &m, &nm) || arg_f32(env, argv[3], &v, &nv))
    return throw_type(env, "adam: param, grad, m and v must be Float32Arrays");
  if (ng != np || nm != np || nv != np)
    return throw_range(env, "adam: param, grad, m and v must have the same length");
  double lr, b1, b2, eps, c1, c2;
  if (arg_double(env, argv[4], &lr) || arg_double(env, argv[5], &b1) ||
      arg_double(env, argv[6], &b2) || arg_double(env, argv[7], &eps) ||
      arg_double(env, argv[8], &c1) || arg_double(env, argv[9], &c2))
    return throw_type(env, "adam: lr, beta1, beta2, eps and the bias corrections must be numbers");
  adam_loop(p, g, m, v, np, (float)b1, (float)b2, (float)(1.0 - b1), (float)(1.0 - b2),
            (float)c1, (float)c2, (float)eps, (float)-lr);
  return NULL;
}

/* Reads (x, rows, cols, out) and checks x covers rows x cols and out covers `need` floats. */
static int sum_args(napi_env env, napi_callback_info info, const char* who, float** x,
                    int64_t* rows, int64_t* cols, float** out, int leading) {
  size_t argc = 4;
  napi_value argv[4];
  char msg[160];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    snprintf(msg, sizeof msg, "%s: expected (x, rows, cols, out)", who);
    throw_type(env, msg);
    return -1;
  }
  size_t nx, no;
  if (arg_f32(env, argv[0], x, &nx) || arg_f32(env, argv[3], out, &no)) {
    snprintf(msg, sizeof msg, "%s: x and out must be Float32Arrays", who);
    throw_type(env, msg);
    return -1;
  }
  if (arg_int(env, argv[1], rows) || arg_int(env, argv[2], cols) || *rows < 0 || *cols < 0) {
    snprintf(msg, sizeof msg, "%s: rows and cols must be non-negative integers", who);
    throw_type(env, msg);
    return -1;
  }
  const size_t need = (size_t)(leading ? *cols : *rows);
  if ((size_t)(*rows * *cols) > nx || need > no) {
    snprintf(msg, sizeof msg, "%s: x or out is shorter than the extents", who);
    throw_range(env, msg);
    return -1;
  }
  return 0;
}

/* sumLeading(x, rows, cols, out): out[j] = sum_i x[i * cols + j], accumulated in double. */
static napi_value js_sum_leading(napi_env env, napi_callback_info info) {
  float *x, *out;
  int64_t rows, cols;
  if (sum_args(env, info, "sumLeading", &x, &rows, &cols, &out, 1)) return NULL;
  double* acc = (double*)calloc(cols > 0 ? (size_t)cols : 1, sizeof(double));
  if (!acc) return throw_range(env, "sumLeading: out of memory");
  sum_leading_loop(x, rows, cols, acc);
  for (int64_t j = 0; j < cols; j++) out[j] = (float)acc[j];
  free(acc);
  return NULL;
}

/* sumTrailing(x, rows, cols, out): out[i] = sum_j x[i * cols + j], accumulated in double. */
static napi_value js_sum_trailing(napi_env env, napi_callback_info info) {
  float *x, *out;
  int64_t rows, cols;
  if (sum_args(env, info, "sumTrailing", &x, &rows, &cols, &out, 0)) return NULL;
  sum_trailing_loop(x, rows, cols, out);
  return NULL;
}

/* addBias(x, rows, cols, bias, out): out[i, j] = x[i, j] + bias[j] (out may be x). */
static napi_value js_add_bias(napi_env env, napi_callback_info info) {
  ARGS(5);
  float *x, *b, *out;
  size_t nx, nb, no;
  int64_t rows, cols;
  if (arg_f32(env, argv[0], &x, &nx) || arg_f32(env, argv[3], &b, &nb) ||
      arg_f32(env, argv[4], &out, &no))
    return throw_type(env, "addBias: x, bias and out must be Float32Arrays");
  if (arg_int(env, argv[1], &rows) || arg_int(env, argv[2], &cols) || rows < 0 || cols < 0)
    return throw_type(env, "addBias: rows and cols must be non-negative integers");
  if ((size_t)(rows * cols) > nx || (size_t)(rows * cols) > no || (size_t)cols > nb)
    return throw_range(env, "addBias: x, bias or out is shorter than the extents");
  add_bias_loop(x, rows, cols, b, out);
  return NULL;
}

/* step(x, alpha, out): out = x > 0 ? 1 : alpha, NaN stays NaN (tf.step). */
static napi_value js_step(napi_env env, napi_callback_info info) {
  ARGS(3);
  float *x, *out;
  size_t nx, no;
  double alpha;
  if (arg_f32(env, argv[0], &x, &nx) || arg_f32(env, argv[2], &out, &no))
    return throw_type(env, "step: x and out must be Float32Arrays");
  if (arg_double(env, argv[1], &alpha)) return throw_type(env, "step: alpha must be a number");
  if (no < nx) return throw_range(env, "step: out is shorter than x");
  step_loop(x, nx, (float)alpha, out);
  return NULL;
}

int dgm_ops_register(napi_env env, napi_value exports) {
  static const DgmExport list[] = {
      {"adam", js_adam},         {"sumLeading", js_sum_leading}, {"sumTrailing", js_sum_trailing},
      {"addBias", js_add_bias},  {"step", js_step},
  };
  return dgm_define(env, exports, list, sizeof list / sizeof list[0]);
}
