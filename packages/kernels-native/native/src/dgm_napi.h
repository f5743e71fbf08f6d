/*
 * Shared N-API argument helpers for the dgm.js native kernels (each .c file includes this;
 * the functions are static, so every translation unit has its own copy).
 */
#ifndef DGM_NAPI_H
#define DGM_NAPI_H
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* ------------------------------------------------------------------------------------------ */
/* N-API helpers                                                                              */

#define CHECK_NAPI(env, call)                                  \
  do {                                                         \
    if ((call) != napi_ok) {                                   \
      napi_throw_error((env), NULL, "dgm_kernels: " #call);    \
      return NULL;                                             \
    }                                                          \
  } while (0)

static inline napi_value throw_range(napi_env env, const char* msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

static inline napi_value throw_type(napi_env env, const char* msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* Reads argument i as a Float32Array: data pointer and element count. Returns 0 on success. */
static inline int arg_f32(napi_env env, napi_value v, float** data, size_t* len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return -1;
  napi_typedarray_type type;
  void* ptr = NULL;
  size_t length = 0;
  napi_value ab;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset) != napi_ok) return -1;
  if (type != napi_float32_array) return -1;
  *data = (float*)ptr;
  *len = length;
  return 0;
}

/* A Float32Array or null/undefined (returns 1 for null). */
static inline int arg_f32_or_null(napi_env env, napi_value v, float** data, size_t* len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_null || t == napi_undefined) {
    *data = NULL;
    *len = 0;
    return 1;
  }
  return arg_f32(env, v, data, len);
}

static inline int arg_i32s(napi_env env, napi_value v, const int32_t** data, size_t* len) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return -1;
  napi_typedarray_type type;
  void* ptr = NULL;
  napi_value ab;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, v, &type, len, &ptr, &ab, &offset) != napi_ok) return -1;
  if (type != napi_int32_array) return -1;
  *data = (const int32_t*)ptr;
  return 0;
}

static inline int arg_int(napi_env env, napi_value v, int64_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return -1;
  if (!(d >= -9.0e15 && d <= 9.0e15) || d != floor(d)) return -1;
  *out = (int64_t)d;
  return 0;
}

static inline int arg_double(napi_env env, napi_value v, double* out) {
  return napi_get_value_double(env, v, out) == napi_ok ? 0 : -1;
}

static inline int arg_bool(napi_env env, napi_value v, bool* out) {
  napi_value b;
  if (napi_coerce_to_bool(env, v, &b) != napi_ok) return -1;
  return napi_get_value_bool(env, b, out) == napi_ok ? 0 : -1;
}

/*
 * Instruction sets. The hot loops are compiled once per x86-64 level (AVX-512, AVX2 + FMA, and
 * the baseline: SSE2) and called through the copy of the level in `dgm_isa`, which the addon
 * sets when it loads: the best level the CPU supports, or the one `DGM_NATIVE_ISA` names
 * (`setIsa()` switches at run time, for tests and benchmarks). Other architectures and compilers
 * build only the portable copy. Explicit dispatch (instead of GCC `target_clones`, which picks
 * once at load from the CPU alone) is what lets a test run the AVX2 code on an AVX-512 machine.
 */
enum { DGM_ISA_GENERIC = 0, DGM_ISA_AVX2 = 1, DGM_ISA_AVX512 = 2, DGM_N_ISA = 3 };

/* The level in use (process-wide, may change from any thread: read it once per call). */
extern _Atomic int dgm_isa;
/* Whether the CPU has AVX (set at load; x86-64 only). */
extern bool dgm_cpu_avx;
/* Whether OpenBLAS runs an SSE-only kernel family (Prescott, Nehalem, ...; set at load). */
extern bool dgm_blas_sse;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DGM_X86 1
/* Every feature named here is checked at load (dgm_isa_supported in dgm_kernels.c). */
#define DGM_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#define DGM_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define DGM_X86 0
#endif

/*
 * DGM_MULTI(ret, name, params, args) defines `static ret name params` that calls
 * `name##_body args` (an always-inline function defined before it) through a copy compiled for
 * the level in use; DGM_MULTI_VOID is the same for functions returning void.
 */
#if DGM_X86
#define DGM_MULTI(ret, name, params, args)                                    \
  DGM_TARGET_AVX512 static ret name##_avx512 params { return name##_body args; } \
  DGM_TARGET_AVX2 static ret name##_avx2 params { return name##_body args; }     \
  static ret name##_generic params { return name##_body args; }                  \
  static ret name params {                                                    \
    if (dgm_isa == DGM_ISA_AVX512) return name##_avx512 args;                 \
    if (dgm_isa == DGM_ISA_AVX2) return name##_avx2 args;                     \
    return name##_generic args;                                               \
  }
#define DGM_MULTI_VOID(name, params, args)                                    \
  DGM_TARGET_AVX512 static void name##_avx512 params { name##_body args; }       \
  DGM_TARGET_AVX2 static void name##_avx2 params { name##_body args; }           \
  static void name##_generic params { name##_body args; }                        \
  static void name params {                                                   \
    if (dgm_isa == DGM_ISA_AVX512)                                            \
      name##_avx512 args;                                                     \
    else if (dgm_isa == DGM_ISA_AVX2)                                         \
      name##_avx2 args;                                                       \
    else                                                                      \
      name##_generic args;                                                    \
  }
#else
#define DGM_MULTI(ret, name, params, args) \
  static ret name params { return name##_body args; }
#define DGM_MULTI_VOID(name, params, args) \
  static void name params { name##_body args; }
#endif

/* An always-inlined body for DGM_MULTI. */
#define DGM_BODY static inline __attribute__((always_inline))

/* Registers a file's functions on `exports` (each file defines one). */
typedef struct {
  const char* name;
  napi_callback fn;
} DgmExport;

static inline int dgm_define(napi_env env, napi_value exports, const DgmExport* list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    napi_value f;
    if (napi_create_function(env, list[i].name, NAPI_AUTO_LENGTH, list[i].fn, NULL, &f) != napi_ok)
      return -1;
    if (napi_set_named_property(env, exports, list[i].name, f) != napi_ok) return -1;
  }
  return 0;
}

/* Registration hooks of the other source files (called from dgm_kernels.c's init). */
int dgm_math_register(napi_env env, napi_value exports);
int dgm_ops_register(napi_env env, napi_value exports);

/*
 * Direct convolutions (dgm_conv.c), at level `isa` (read dgm_isa once per call and pass it to
 * all of them: another thread may switch it). kind: 0 forward, 1 filter gradient, 2 input
 * gradient. dgm_conv_covered: whether the level's direct kernels handle the geometry;
 * dgm_conv_prefer_direct: whether they are the faster path for it (the measured table);
 * dgm_conv_direct_scratch: floats of scratch they need (-1 when not covered).
 */
int dgm_conv_covered(int isa, int kind, const int64_t* geometry);
int dgm_conv_prefer_direct(int isa, int kind, const int64_t* geometry);
int64_t dgm_conv_direct_scratch(int isa, int kind, const int64_t* geometry);
void dgm_conv_direct(int isa, int kind, const int64_t* geometry, const float* a, const float* b,
                     float* out, float* scratch);

#endif
