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
 * Hot loops are compiled for several x86-64 levels and picked at load time (GCC ifunc), since
 * the default x86-64 target has only 128-bit SSE2; elsewhere they build for the default target.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define DGM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DGM_CLONES
#endif

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

/* Direct convolutions (dgm_conv.c): scratch floats needed, or -1 when the geometry is not covered. */
int64_t dgm_conv_direct_scratch(int kind, const int64_t* geometry);
void dgm_conv_direct(int kind, const int64_t* geometry, const float* a, const float* b, float* out,
                     float* scratch);

#endif
