/*
 * dgm.js native kernels: direct NHWC convolutions for stride 1 and dilation 1 (forward, filter
 * gradient, and input gradient as a forward convolution with the flipped filter), with output
 * channels (input channels for the input gradient) in multiples of one vector. No im2col
 * matrix: a register block of output pixels x 2 vectors of channels accumulates over the filter
 * taps and input channels, reading a zero-padded copy of one image at a time. Other geometries,
 * and those where im2col + OpenBLAS measured faster (dgm_conv_prefer_direct), take the im2col +
 * GEMM path of dgm_kernels.c.
 *
 * The kernels (dgm_conv_isa.h) are written with GCC vector extensions sized to each level's
 * registers and compiled once per level: AVX-512 (16 floats, 12 x 2 accumulator block), AVX2 +
 * FMA (8 floats, 6 x 2: 12 of the 16 ymm registers), and the portable copy (4 floats: SSE2 on
 * x86-64, NEON on arm64); the level in use is dgm_isa (dgm_napi.h).
 */
#include "dgm_napi.h"

#include <string.h>

/* Geometry: [n, h, w, ci, oh, ow, co, kh, kw, sh, sw, dh, dw, pt, pl] (as dgm_kernels.c). */
enum { N, H, W, CI, OH, OW, CO, KH, KW, SH, SW, DH, DW, PT, PL };

/* Copies image `x` (h x w x c) into `p` (ph x pw x c) at offset (pt, pl), zero elsewhere. */
static void pad_image(const float* x, int64_t h, int64_t w, int64_t c, float* p, int64_t ph,
                      int64_t pw, int64_t pt, int64_t pl) {
  memset(p, 0, (size_t)(ph * pw * c) * sizeof(float));
  for (int64_t r = 0; r < h; r++) {
    const int64_t pr = r + pt;
    if (pr < 0 || pr >= ph) continue;
    int64_t c0 = 0, c1 = w; /* input columns that land inside the padded row */
    if (pl < 0) c0 = -pl;
    if (c1 + pl > pw) c1 = pw - pl;
    if (c1 > c0)
      memcpy(p + (pr * pw + c0 + pl) * c, x + (r * w + c0) * c,
             (size_t)((c1 - c0) * c) * sizeof(float));
  }
}

/*
 * How many blocks of `big` to take from a run of n (pixels or filter rows), so that the rest
 * splits into blocks of `mid` when possible (96 filter rows with blocks of 12 and 4: 8 x 12;
 * 32 with blocks of 6 and 4: 4 x 6 + 2 x 4, not 5 x 6 + 2 singles). What the mid blocks leave
 * runs in blocks of 2, then 1.
 */
static inline int64_t dc_nbig(int64_t n, int64_t big, int64_t mid) {
  for (int64_t nb = n / big; nb >= 0; nb--)
    if ((n - nb * big) % mid == 0) return nb;
  return n / big;
}

/* The levels (see dgm_conv_isa.h for the parameters). */
#if DGM_X86
#define ISA avx512
#define VL 16
#define TGT DGM_TARGET_AVX512
#define PB2 12
#define PB1 24
#define CB2 12
#define CB1 24
#define MID 4
#include "dgm_conv_isa.h"
#undef ISA
#undef VL
#undef TGT
#undef PB2
#undef PB1
#undef CB2
#undef CB1
#undef MID

#define ISA avx2
#define VL 8
#define TGT DGM_TARGET_AVX2
#define PB2 6
#define PB1 12
#define CB2 6
#define CB1 12
#define MID 4
#include "dgm_conv_isa.h"
#undef ISA
#undef VL
#undef TGT
#undef PB2
#undef PB1
#undef CB2
#undef CB1
#undef MID
#endif

/* Portable: 16-byte vectors; without FMA a multiply-add needs a temporary register too. */
#define ISA generic
#define VL 4
#define TGT
#define PB2 4
#define PB1 8
#define CB2 4
#define CB1 8
#define MID 2
#include "dgm_conv_isa.h"
#undef ISA
#undef VL
#undef TGT
#undef PB2
#undef PB1
#undef CB2
#undef CB1
#undef MID

typedef void (*ConvFn)(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float*);

static const struct {
  ConvFn fwd, bwd_filter;
  int64_t vl;
} LEVELS[DGM_N_ISA] = {
    [DGM_ISA_GENERIC] = {conv_fwd_generic, conv_bwd_filter_generic, 4},
#if DGM_X86
    [DGM_ISA_AVX2] = {conv_fwd_avx2, conv_bwd_filter_avx2, 8},
    [DGM_ISA_AVX512] = {conv_fwd_avx512, conv_bwd_filter_avx512, 16},
#endif
};

/* `isa` when this build has a copy for it, else the portable level. */
static int level(int isa) {
  return isa >= 0 && isa < DGM_N_ISA && LEVELS[isa].fwd ? isa : DGM_ISA_GENERIC;
}

int dgm_conv_covered(int isa, int kind, const int64_t* g) {
  if (g[SH] != 1 || g[SW] != 1 || g[DH] != 1 || g[DW] != 1) return 0;
  /* Stride 1: the output size follows from the padding; anything else is not this path. */
  if (g[OH] < 1 || g[OW] < 1 || g[OH] + g[KH] - 1 < g[PT] || g[OW] + g[KW] - 1 < g[PL]) return 0;
  const int64_t vl = LEVELS[level(isa)].vl;
  if (kind == 2) /* input gradient: a forward convolution producing ci channels */
    return g[CI] % vl == 0 && g[CI] > 0 && g[KH] - 1 - g[PT] >= 0 && g[KW] - 1 - g[PL] >= 0;
  return g[CO] % vl == 0 && g[CO] > 0;
}

/*
 * Where the direct kernels beat im2col + OpenBLAS, per level: measured with
 * `scripts/bench-conv.mjs --all` (CPU time, 3x3 / 5x5 stride-1 convolutions from 4x4x256 to
 * 56x56x64) on an AMD EPYC (Zen 4), each level with OpenBLAS at the matching level (avx512:
 * Cooperlake; avx2: Haswell; portable: Prescott for SSE-only OpenBLAS kernels, Sandybridge for
 * the others). They win while the filter (kh kw ci co floats) stays cache-sized: above
 * `max_filter` im2col wins. The forward and input-gradient kernels also lose on rows narrower
 * than 8 columns (unless a multiple of 4; the row ends in 2- and 1-pixel blocks that reread the
 * whole filter) except for filters of at most `small_filter` floats. The portable kernels (SSE2,
 * 4-float vectors) beat an AVX OpenBLAS only on the smallest filters (first layers).
 * apps/bench/scripts/check-kernels.ts times both paths of the bench's conv layers at every level
 * the CI machine supports and fails when this table picks the slower one.
 */
typedef struct {
  int64_t max_filter, small_filter;
} Prefer;
static const Prefer PREFER[DGM_N_ISA] = {
    [DGM_ISA_GENERIC] = {1024, 1024},
    [DGM_ISA_AVX2] = {160000, 0},
    [DGM_ISA_AVX512] = {160000, 16384},
};
static const Prefer PREFER_GENERIC_SSE_BLAS = {40000, 16384};

int dgm_conv_prefer_direct(int isa, int kind, const int64_t* g) {
  if (!dgm_conv_covered(isa, kind, g)) return 0;
  const int64_t filter = g[KH] * g[KW] * g[CI] * g[CO];
  const int64_t width = kind == 2 ? g[W] : g[OW]; /* columns of the convolution that runs */
  const int l = level(isa);
  const Prefer p = l == DGM_ISA_GENERIC && dgm_blas_sse ? PREFER_GENERIC_SSE_BLAS : PREFER[l];
  if (filter > p.max_filter) return 0;
  if (kind == 1 || filter <= p.small_filter) return 1;
  return width >= 8 || width % 4 == 0;
}

int64_t dgm_conv_direct_scratch(int isa, int kind, const int64_t* g) {
  if (!dgm_conv_covered(isa, kind, g)) return -1;
  if (kind == 2) /* padded dy image + flipped filter */
    return (g[H] + g[KH] - 1) * (g[W] + g[KW] - 1) * g[CO] + g[KH] * g[KW] * g[CI] * g[CO];
  return (g[OH] + g[KH] - 1) * (g[OW] + g[KW] - 1) * g[CI];
}

/*
 * kind 0: out = conv(a = x, b = filter); 1: out = filter gradient (a = x, b = dy);
 * 2: out = input gradient (a = dy, b = filter). `scratch` holds dgm_conv_direct_scratch floats.
 * The caller checked dgm_conv_covered for the same `isa`.
 */
void dgm_conv_direct(int isa, int kind, const int64_t* g, const float* a, const float* b,
                     float* out, float* scratch) {
  const ConvFn conv_fwd = LEVELS[level(isa)].fwd, conv_bwd_filter = LEVELS[level(isa)].bwd_filter;
  if (kind == 0) {
    conv_fwd(a, b, out, g[N], g[H], g[W], g[CI], g[OH], g[OW], g[CO], g[KH], g[KW], g[PT], g[PL],
             scratch);
  } else if (kind == 1) {
    conv_bwd_filter(a, b, out, g[N], g[H], g[W], g[CI], g[OH], g[OW], g[CO], g[KH], g[KW], g[PT],
                    g[PL], scratch);
  } else {
    /* dx = conv(dy, f') with f'[i][j][co][ci] = f[kh-1-i][kw-1-j][ci][co], pads kh-1-pt, kw-1-pl. */
    const int64_t kh = g[KH], kw = g[KW], ci = g[CI], co = g[CO];
    float* pad = scratch;
    float* ff = scratch + (g[H] + kh - 1) * (g[W] + kw - 1) * co;
    for (int64_t i = 0; i < kh; i++)
      for (int64_t j = 0; j < kw; j++)
        for (int64_t c = 0; c < ci; c++)
          for (int64_t o = 0; o < co; o++)
            ff[((i * kw + j) * co + o) * ci + c] =
                b[(((kh - 1 - i) * kw + (kw - 1 - j)) * ci + c) * co + o];
    conv_fwd(a, ff, out, g[N], g[OH], g[OW], co, g[H], g[W], ci, kh, kw, kh - 1 - g[PT],
             kw - 1 - g[PL], pad);
  }
}
