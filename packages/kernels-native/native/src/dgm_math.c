/*
 * dgm.js native kernels: vectorised float32 elementwise transcendental functions (exp, expm1,
 * log, log1p, sigmoid, tanh, softplus, sqrt, rsqrt, erf) over Float32Arrays, one N-API call
 * per array.
 *
 * Every function is branch free: a range reduction with integer bit operations, a polynomial
 * fitted here (Lawson / minimax on the reduced interval, relative error < 1e-9), and selects for
 * the special values, so that GCC -O3 vectorises each loop (SSE2 / AVX2 / AVX-512 copies on
 * x86-64, called for the level in use: dgm_napi.h). No fast-math: NaN, +-Inf, +-0 and denormals
 * follow IEEE / C99 (exp(-Inf) = 0, log(0) = -Inf, log(-1) = NaN, log1p(-1) = -Inf,
 * tanh(-0) = -0, ...).
 * Accuracy (float64 references, every exponent; see src/math.test.ts): at most 1-2.5 ulp.
 */
#include "dgm_napi.h"

#include <string.h>

/*
 * The loops compute both sides of every select; with -ftrapping-math (the default) GCC may not
 * do that for comparisons that could raise FP exception flags, and does not vectorise. Nothing
 * here reads the flags, and NaN / Inf semantics are unchanged (this is not -ffast-math).
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
/* "No dependence between iterations": y[i] depends on x[i] only, even when y is x. */
#define DGM_IVDEP _Pragma("GCC ivdep")
#elif defined(__clang__)
#define DGM_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#else
#define DGM_IVDEP
#endif

/* ------------------------------------------------------------------------------------------ */
/* Scalar building blocks (always inlined into the vectorised loops)                          */

#define DGM_INLINE static inline __attribute__((always_inline))

DGM_INLINE uint32_t f2u(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

DGM_INLINE float u2f(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* 2^n for an integer n in [-126, 127] (a normal float). */
DGM_INLINE float pow2i(int32_t n) { return u2f((uint32_t)(n + 127) << 23); }

#define LOG2E 1.44269504088896341f
/* ln 2 split so that n * LN2_HI is exact for |n| < 2^15. */
#define LN2_HI 0.693359375f
#define LN2_LO (-2.12194440e-4f)
/* 1.5 * 2^23: adding and subtracting it rounds a float of magnitude < 2^22 to an integer. */
#define ROUND_MAGIC 12582912.0f

/* expm1(r) for |r| <= ln2 / 2 (+ a margin): r + r^2 P(r), relative error 2.4e-10. */
DGM_INLINE float expm1_poly(float r) {
  float p = 1.98458991e-4f;
  p = p * r + 1.39409152e-3f;
  p = p * r + 8.33338965e-3f;
  p = p * r + 4.16663587e-2f;
  p = p * r + 1.66666657e-1f;
  p = p * r + 0.5f;
  return r + (r * r) * p;
}

/*
 * Range reduction x = n ln2 + r, |r| <= ln2 / 2 (x finite, |x| < 2^20). Returns r and sets *n.
 */
DGM_INLINE float reduce_ln2(float x, int32_t* n) {
  const float t = x * LOG2E + ROUND_MAGIC;
  const float nf = t - ROUND_MAGIC;
  *n = (int32_t)nf;
  return (x - nf * LN2_HI) - nf * LN2_LO;
}

/* exp(x) for x not NaN; x below -104 gives 0 and above 89 gives +Inf. */
DGM_INLINE float exp_nonan(float x) {
  float xc = x < -104.0f ? -104.0f : x;
  xc = xc > 89.0f ? 89.0f : xc;
  int32_t n;
  const float r = reduce_ln2(xc, &n);
  const float p = 1.0f + expm1_poly(r);
  /* n in [-150, 128]: scale in two normal steps so denormal results round once. */
  const int32_t n1 = n >> 1;
  return (p * pow2i(n1)) * pow2i(n - n1);
}

DGM_INLINE float dgm_expf(float x) {
  const float xs = x == x ? x : 0.0f;
  const float y = exp_nonan(xs);
  return x == x ? y : x;
}

DGM_INLINE float dgm_expm1f(float x) {
  float xc = x == x ? x : 0.0f;
  xc = xc < -30.0f ? -30.0f : xc;
  xc = xc > 89.0f ? 89.0f : xc;
  int32_t n;
  const float r = reduce_ln2(xc, &n);
  const float q = expm1_poly(r);
  /* n <= 24: 2^n q + (2^n - 1) with 2^n - 1 exact (n >= -44 here), no cancellation. */
  const float t = pow2i(n < 24 ? n : 24);
  const float ys = t * q + (t - 1.0f);
  /* n > 24: (1 + q) 2^n - 1, scaled in two steps (overflows to +Inf like exp). */
  const int32_t n1 = n >> 1;
  const float yb = ((1.0f + q) * pow2i(n1)) * pow2i(n - n1) - 1.0f;
  float y = n > 24 ? yb : ys;
  y = x == 0.0f ? x : y; /* keeps -0 */
  return x == x ? y : x;
}

/*
 * log(u) + c for a positive normal finite u and a small correction c (|c| << ulp(log u)):
 * u = 2^k m with m in [sqrt(1/2), sqrt(2)), log(m) = f - f^2 / 2 + f^3 Q(f), f = m - 1.
 * `kadd` is added to k (for inputs pre-scaled by 2^23).
 */
DGM_INLINE float log_core(float u, float c, int32_t kadd) {
  uint32_t iu = f2u(u) + (0x3f800000u - 0x3f3504f3u);
  const int32_t k = (int32_t)(iu >> 23) - 127 + kadd;
  iu = (iu & 0x007fffffu) + 0x3f3504f3u;
  const float f = u2f(iu) - 1.0f;
  const float kf = (float)k;
  float q = 6.75753057e-2f;
  q = q * f - 1.16943248e-1f;
  q = q * f + 1.18935250e-1f;
  q = q * f - 1.24030866e-1f;
  q = q * f + 1.42185524e-1f;
  q = q * f - 1.66680902e-1f;
  q = q * f + 2.00021669e-1f;
  q = q * f - 2.50000089e-1f;
  q = q * f + 3.33333105e-1f;
  const float z = f * f;
  float y = (f * z) * q;
  y = y + (kf * LN2_LO + c);
  y = y - 0.5f * z;
  y = f + y;
  return y + kf * LN2_HI;
}

DGM_INLINE float dgm_logf(float x) {
  /* Denormals: scale by 2^23 first. Negative, zero, Inf and NaN inputs are selected below. */
  const int small = x < 1.17549435e-38f;
  const float u = small ? x * 8388608.0f : x;
  const float us = (u > 0.0f && u < INFINITY) ? u : 1.0f;
  float y = log_core(us, 0.0f, small ? -23 : 0);
  y = x == 0.0f ? -INFINITY : y;
  y = x < 0.0f ? NAN : y;
  y = x == INFINITY ? x : y;
  return x == x ? y : x;
}

/* log1p(x) for finite x > -1 (others give garbage; see dgm_log1pf). */
DGM_INLINE float log1p_core(float x) {
  const float us = 1.0f + x;
  /* c = (1 + x) - u, exact in both forms (Sterbenz): log1p(x) = log(u) + log1p(c / u), and
     log1p(c / u) ~ c / u. */
  const float c = x >= 1.0f ? 1.0f - (us - x) : x - (us - 1.0f);
  return log_core(us, c / us, 0);
}

DGM_INLINE float dgm_log1pf(float x) {
  float y = log1p_core(x > -1.0f && x < INFINITY ? x : 0.0f);
  y = x == -1.0f ? -INFINITY : y;
  y = x < -1.0f ? NAN : y;
  y = x == INFINITY ? x : y;
  y = x == 0.0f ? x : y; /* keeps -0 */
  return x == x ? y : x;
}

DGM_INLINE float dgm_sigmoidf(float x) {
  /* e = exp(-|x|) in (0, 1]: 1 / (1 + e) for x >= 0, e / (1 + e) below (exact into denormals). */
  const float e = exp_nonan(x == x ? -fabsf(x) : 0.0f);
  const float y = (x >= 0.0f ? 1.0f : e) / (1.0f + e);
  return x == x ? y : x;
}

DGM_INLINE float dgm_tanhf(float x) {
  /* |x| < 0.625: x + x z P(z), z = x^2 (relative error 1.6e-10). */
  const float z = x * x;
  float p = 2.14296277e-3f;
  p = p * z - 8.17739964e-3f;
  p = p * z + 2.17007045e-2f;
  p = p * z - 5.39467633e-2f;
  p = p * z + 1.33332059e-1f;
  p = p * z - 3.33333313e-1f;
  const float ys = x + x * (z * p);
  /* Above: tanh|x| = t / (t + 2), t = expm1(2|x|) (no cancellation); 1 from |x| = 9.5 on. */
  float a = fabsf(x);
  a = a > 9.5f ? 9.5f : a;
  const float t = dgm_expm1f(2.0f * a);
  const float yl = copysignf(t / (t + 2.0f), x);
  float y = fabsf(x) < 0.625f ? ys : yl;
  y = x == 0.0f ? x : y; /* -0 + (+0) would lose the sign */
  return x == x ? y : x;
}

DGM_INLINE float dgm_softplusf(float x) {
  /* max(x, 0) + log1p(exp(-|x|)): exp(-|x|) in [0, 1], so log1p_core needs no special cases. */
  const float e = exp_nonan(x == x ? -fabsf(x) : 0.0f);
  const float y = (x > 0.0f ? x : 0.0f) + log1p_core(e);
  return x == x ? y : x;
}

DGM_INLINE float dgm_erff(float x) {
  /* |x| < 0.9: x P(x^2) (relative error 3e-10), as x + x (P - 1) to round once at the end. */
  const float z = x * x;
  float p = 8.5132102e-05f;
  p = p * z - 8.17566761e-4f;
  p = p * z + 5.20386221e-3f;
  p = p * z - 2.68605091e-2f;
  p = p * z + 1.12837151e-1f;
  p = p * z - 3.76126349e-1f;
  p = p * z + 1.28379167e-1f; /* 2 / sqrt(pi) - 1 */
  const float ys = x + x * p;
  /*
   * 0.9 <= |x| < 3.95: erf = 1 - erfc, erfc = exp(g(s) - x^2) with g(s) = log(erfc) + x^2 a
   * polynomial in s = (|x| - 2.425) / 1.525 in [-1, 1] (error of erf 4e-11). From 3.95 on, 1.
   */
  const float a = fabsf(x);
  float ac = a < 0.9f ? 0.9f : a;
  ac = ac > 3.95f ? 3.95f : ac;
  ac = a == a ? ac : 1.0f;
  const float s = (ac - 2.425f) * 0.655737705f;
  float g = -1.93895703e-5f;
  g = g * s - 4.83164651e-4f;
  g = g * s + 8.34520382e-4f;
  g = g * s - 3.84976901e-3f;
  g = g * s + 1.26205236e-2f;
  g = g * s - 4.08779867e-2f;
  g = g * s + 1.36342689e-1f;
  g = g * s - 5.50957501e-1f;
  g = g * s - 1.53004396f;
  const float yl = copysignf(1.0f - exp_nonan(g - ac * ac), x);
  const float y = a < 0.9f ? ys : yl;
  return x == x ? y : x;
}

DGM_INLINE float dgm_sqrtf(float x) { return sqrtf(x); }

DGM_INLINE float dgm_rsqrtf(float x) { return 1.0f / sqrtf(x); }

/* ------------------------------------------------------------------------------------------ */
/* Loops: y[i] = f(x[i]); y may be x (in place: the same index is read before it is written)  */

/*
 * Blocks of a fixed 64 floats, so that the compiler emits only the vector code (no scalar
 * epilogue that would contract multiply-adds differently): the last partial block goes through
 * a zero-padded buffer. Every element is thus computed by the same instructions, whatever the
 * array's length or offset (results are reproducible bit for bit on one machine).
 */
#define DGM_BLOCK 64
#define UNARY_LOOP(name, fn)                                                     \
  DGM_BODY void name##_body(const float* x, float* y, size_t n) {                \
    size_t i = 0;                                                                \
    for (; i + DGM_BLOCK <= n; i += DGM_BLOCK) {                                 \
      const float* xb = x + i;                                                   \
      float* yb = y + i;                                                         \
      DGM_IVDEP for (size_t j = 0; j < DGM_BLOCK; j++) yb[j] = fn(xb[j]);         \
    }                                                                            \
    if (i < n) {                                                                 \
      float buf[DGM_BLOCK] = {0};                                                \
      memcpy(buf, x + i, (n - i) * sizeof(float));                               \
      for (size_t j = 0; j < DGM_BLOCK; j++) buf[j] = fn(buf[j]);                \
      memcpy(y + i, buf, (n - i) * sizeof(float));                               \
    }                                                                            \
  }                                                                              \
  DGM_MULTI_VOID(name, (const float* x, float* y, size_t n), (x, y, n))

UNARY_LOOP(exp_loop, dgm_expf)
UNARY_LOOP(expm1_loop, dgm_expm1f)
UNARY_LOOP(log_loop, dgm_logf)
UNARY_LOOP(log1p_loop, dgm_log1pf)
UNARY_LOOP(sigmoid_loop, dgm_sigmoidf)
UNARY_LOOP(tanh_loop, dgm_tanhf)
UNARY_LOOP(softplus_loop, dgm_softplusf)
UNARY_LOOP(erf_loop, dgm_erff)
UNARY_LOOP(sqrt_loop, dgm_sqrtf)
UNARY_LOOP(rsqrt_loop, dgm_rsqrtf)

typedef void (*UnaryLoop)(const float*, float*, size_t);

/* Op codes of `unary` (the index in this table; `unaryOps()` returns the names in order). */
static const struct {
  const char* name;
  UnaryLoop loop;
} UNARY_OPS[] = {
    {"exp", exp_loop},         {"expm1", expm1_loop},   {"log", log_loop},
    {"log1p", log1p_loop},     {"sigmoid", sigmoid_loop}, {"tanh", tanh_loop},
    {"softplus", softplus_loop}, {"sqrt", sqrt_loop},   {"rsqrt", rsqrt_loop},
    {"erf", erf_loop},
};
#define N_UNARY_OPS (sizeof UNARY_OPS / sizeof UNARY_OPS[0])

/* ------------------------------------------------------------------------------------------ */
/* N-API                                                                                      */

/* unary(op, x, y): y[i] = op(x[i]) for Float32Arrays of equal length (y === x allowed). */
static napi_value napi_unary(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "unary(op, x, y): expected 3 arguments");
  int64_t op;
  if (arg_int(env, argv[0], &op) != 0) return throw_type(env, "unary: op must be an integer");
  if (op < 0 || (uint64_t)op >= N_UNARY_OPS)
    return throw_range(env, "unary: unknown op code (see unaryOps())");
  float *x, *y;
  size_t nx, ny;
  if (arg_f32(env, argv[1], &x, &nx) != 0)
    return throw_type(env, "unary: x must be a Float32Array");
  if (arg_f32(env, argv[2], &y, &ny) != 0)
    return throw_type(env, "unary: y must be a Float32Array");
  if (nx != ny) return throw_range(env, "unary: x and y must have the same length");
  if (nx == 0) return NULL;
  /* Same array (in place) or disjoint memory; a shifted overlap would read written values. */
  if (x != y && (const char*)x < (const char*)(y + ny) && (const char*)y < (const char*)(x + nx))
    return throw_range(env, "unary: x and y overlap without being the same array");
  UNARY_OPS[op].loop(x, y, nx);
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Bernoulli cross-entropy with logits, fused                                                 */

/* softplus(l) - x l: the negative Bernoulli log-likelihood of x in [0, 1] under logits l. */
DGM_INLINE float dgm_bcef(float l, float x) { return dgm_softplusf(l) - x * l; }

/* y[i] = bce(l[i], x[i]); returns the sum in double when `sum` is set (y may then be NULL). */
DGM_BODY double bce_loop_body(const float* l, const float* x, float* y, size_t n, int sum) {
  double acc = 0.0;
  float buf[DGM_BLOCK];
  for (size_t i = 0; i < n; i += DGM_BLOCK) {
    const size_t m = n - i < DGM_BLOCK ? n - i : DGM_BLOCK;
    float lb[DGM_BLOCK] = {0}, xb[DGM_BLOCK] = {0};
    memcpy(lb, l + i, m * sizeof(float));
    memcpy(xb, x + i, m * sizeof(float));
    DGM_IVDEP for (size_t j = 0; j < DGM_BLOCK; j++) buf[j] = dgm_bcef(lb[j], xb[j]);
    if (y) memcpy(y + i, buf, m * sizeof(float));
    if (sum) {
      double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (size_t j = 0; j < m; j++) s[j & 7] += (double)buf[j];
      acc += ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    }
  }
  return acc;
}
DGM_MULTI(double, bce_loop, (const float* l, const float* x, float* y, size_t n, int sum),
          (l, x, y, n, sum))

/* out[i] = (g ? g[i] : gs) * (sigmoid(l[i]) - x[i]): the gradient with respect to l. */
DGM_BODY void bce_grad_loop_body(const float* l, const float* x, const float* g, float gs,
                                 float* out, size_t n) {
  for (size_t i = 0; i < n; i += DGM_BLOCK) {
    const size_t m = n - i < DGM_BLOCK ? n - i : DGM_BLOCK;
    float lb[DGM_BLOCK] = {0}, xb[DGM_BLOCK] = {0}, gb[DGM_BLOCK], ob[DGM_BLOCK];
    memcpy(lb, l + i, m * sizeof(float));
    memcpy(xb, x + i, m * sizeof(float));
    if (g) {
      memset(gb, 0, sizeof gb);
      memcpy(gb, g + i, m * sizeof(float));
    } else {
      for (size_t j = 0; j < DGM_BLOCK; j++) gb[j] = gs;
    }
    DGM_IVDEP for (size_t j = 0; j < DGM_BLOCK; j++) ob[j] = gb[j] * (dgm_sigmoidf(lb[j]) - xb[j]);
    memcpy(out + i, ob, m * sizeof(float));
  }
}
DGM_MULTI_VOID(bce_grad_loop,
               (const float* l, const float* x, const float* g, float gs, float* out, size_t n),
               (l, x, g, gs, out, n))

/*
 * bce(l, x, y | null): y[i] = softplus(l[i]) - x[i] l[i] and returns sum_i of it (double), for
 * Float32Arrays of equal length; with y null only the sum is computed.
 */
static napi_value napi_bce(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "bce(l, x, y): expected 3 arguments");
  float *l, *x, *y;
  size_t nl, nx, ny;
  if (arg_f32(env, argv[0], &l, &nl) || arg_f32(env, argv[1], &x, &nx))
    return throw_type(env, "bce: l and x must be Float32Arrays");
  const int r = arg_f32_or_null(env, argv[2], &y, &ny);
  if (r < 0) return throw_type(env, "bce: y must be a Float32Array or null");
  if (nx != nl || (r == 0 && ny != nl))
    return throw_range(env, "bce: l, x and y must have the same length");
  const double s = bce_loop(l, x, r == 0 ? y : NULL, nl, 1);
  napi_value out;
  CHECK_NAPI(env, napi_create_double(env, s, &out));
  return out;
}

/* bceGrad(l, x, g | null, gScalar, out): out[i] = (g ? g[i] : gScalar) (sigmoid(l[i]) - x[i]). */
static napi_value napi_bce_grad(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_type(env, "bceGrad(l, x, g, gScalar, out): expected 5 arguments");
  float *l, *x, *g, *out;
  size_t nl, nx, ng, no;
  double gs;
  if (arg_f32(env, argv[0], &l, &nl) || arg_f32(env, argv[1], &x, &nx) ||
      arg_f32(env, argv[4], &out, &no))
    return throw_type(env, "bceGrad: l, x and out must be Float32Arrays");
  const int r = arg_f32_or_null(env, argv[2], &g, &ng);
  if (r < 0) return throw_type(env, "bceGrad: g must be a Float32Array or null");
  if (arg_double(env, argv[3], &gs)) return throw_type(env, "bceGrad: gScalar must be a number");
  if (nx != nl || no != nl || (r == 0 && ng != nl))
    return throw_range(env, "bceGrad: l, x, g and out must have the same length");
  bce_grad_loop(l, x, r == 0 ? g : NULL, (float)gs, out, nl);
  return NULL;
}

/* unaryOps(): the op names, indexed by op code. */
static napi_value napi_unary_ops(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value arr;
  CHECK_NAPI(env, napi_create_array_with_length(env, N_UNARY_OPS, &arr));
  for (uint32_t i = 0; i < N_UNARY_OPS; i++) {
    napi_value s;
    CHECK_NAPI(env, napi_create_string_utf8(env, UNARY_OPS[i].name, NAPI_AUTO_LENGTH, &s));
    CHECK_NAPI(env, napi_set_element(env, arr, i, s));
  }
  return arr;
}

int dgm_math_register(napi_env env, napi_value exports) {
  static const DgmExport list[] = {
      {"unary", napi_unary},
      {"unaryOps", napi_unary_ops},
      {"bce", napi_bce},
      {"bceGrad", napi_bce_grad},
  };
  return dgm_define(env, exports, list, sizeof list / sizeof list[0]);
}
