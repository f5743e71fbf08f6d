/*
 * dgm.js native kernels: vectorised float32 elementwise transcendental functions.
 * (Filled in by the elementwise-math work; registers nothing yet.)
 */
#include "dgm_napi.h"

int dgm_math_register(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
  return 0;
}
