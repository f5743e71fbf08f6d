/*
 * One instruction-set level of the direct convolutions: dgm_conv.c includes this file once per
 * level, after defining
 *   ISA        the level's suffix (avx512, avx2, generic): every name here ends in _<ISA>;
 *   VL         floats per vector (16, 8, 4): what one register of the level holds;
 *   TGT        the level's target attribute (empty for the portable copy);
 *   PB2, PB1   output pixels per forward block of 2 / 1 vectors of output channels;
 *   CB2, CB1   filter rows (tap column x input channel) per filter-gradient block, same;
 *   MID        the smaller block used for the rest of a row (then blocks of 2, then 1).
 * A block's accumulators (PB2 x 2 vectors) plus its filter vectors and one broadcast must fit
 * the level's register file (32 zmm for AVX-512, 16 ymm for AVX2, 16 xmm for SSE2): GCC then
 * keeps them in registers, and every inner step is NV vector loads, PB broadcasts and PB x NV
 * fused multiply-adds. Vectors wider than the registers are spilled to the stack on every use
 * (the AVX2 copy of 16-float vectors ran at 1.4 GFLOP/s): keep VL = one register.
 */

#define DC_CAT_(a, b) a##_##b
#define DC_CAT(a, b) DC_CAT_(a, b)
#define F(name) DC_CAT(name, ISA)
#define VEC F(vf)
#define DC_INLINE TGT static inline __attribute__((always_inline))

typedef float VEC __attribute__((vector_size(VL * sizeof(float))));
/* The same vector at any float-aligned address (loads and stores through it are unaligned). */
typedef float F(vfu) __attribute__((vector_size(VL * sizeof(float)), aligned(4), may_alias));

DC_INLINE VEC F(ld)(const float* p) { return *(const F(vfu)*)p; }

DC_INLINE void F(st)(float* p, VEC v) { *(F(vfu)*)p = v; }

/*
 * Forward block: PB output pixels (ow0 ..) x NV vectors of output channels (co0 ..) of output
 * row oh. p: padded image (pw columns, c channels); f: filter [kh][kw][c][cout]. Within one
 * filter row the (tap column, input channel) pairs are contiguous in both the padded image row
 * and the filter, so they run as one loop of kw * c steps.
 */
#define DC_FWD(NAME, PB, NV)                                                                   \
  DC_INLINE void F(NAME)(const float* restrict p, int64_t pw, int64_t c,                       \
                         const float* restrict f, int64_t kh, int64_t kw, int64_t cout,        \
                         int64_t co0, int64_t oh, int64_t ow0, float* restrict y) {            \
    VEC acc[PB][NV];                                                                           \
    _Pragma("GCC unroll 32") for (int q = 0; q < PB; q++)                                      \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[q][v] = (VEC){0};               \
    const int64_t kc = kw * c;                                                                 \
    for (int64_t i = 0; i < kh; i++) {                                                         \
      const float* xp = p + ((oh + i) * pw + ow0) * c;                                         \
      const float* fp = f + i * kc * cout + co0;                                               \
      for (int64_t t = 0; t < kc; t++) {                                                       \
        VEC wv[NV];                                                                            \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                   \
          wv[v] = F(ld)(fp + t * cout + VL * v);                                               \
        _Pragma("GCC unroll 32") for (int q = 0; q < PB; q++) {                                \
          const float xv = xp[q * c + t];                                                      \
          _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[q][v] += xv * wv[v];        \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
    _Pragma("GCC unroll 32") for (int q = 0; q < PB; q++)                                      \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                     \
        F(st)(y + (ow0 + q) * cout + co0 + VL * v, acc[q][v]);                                 \
  }

DC_FWD(fwd_big2, PB2, 2)
DC_FWD(fwd_mid2, MID, 2)
DC_FWD(fwd_two2, 2, 2)
DC_FWD(fwd_one2, 1, 2)
DC_FWD(fwd_big1, PB1, 1)
DC_FWD(fwd_mid1, MID, 1)
DC_FWD(fwd_two1, 2, 1)
DC_FWD(fwd_one1, 1, 1)

/* One output row of a forward convolution (all channels). */
TGT static void F(fwd_row)(const float* p, int64_t pw, int64_t c, const float* f, int64_t kh,
                           int64_t kw, int64_t cout, int64_t oh, int64_t ow, float* yrow) {
  int64_t co0 = 0;
  const int64_t nb2 = dc_nbig(ow, PB2, MID), nb1 = dc_nbig(ow, PB1, MID);
  for (; co0 + 2 * VL <= cout; co0 += 2 * VL) {
    int64_t o = 0;
    for (int64_t b = 0; b < nb2; b++, o += PB2)
      F(fwd_big2)(p, pw, c, f, kh, kw, cout, co0, oh, o, yrow);
    for (; o + MID <= ow; o += MID) F(fwd_mid2)(p, pw, c, f, kh, kw, cout, co0, oh, o, yrow);
    for (; o + 2 <= ow; o += 2) F(fwd_two2)(p, pw, c, f, kh, kw, cout, co0, oh, o, yrow);
    for (; o < ow; o++) F(fwd_one2)(p, pw, c, f, kh, kw, cout, co0, oh, o, yrow);
  }
  for (; co0 + VL <= cout; co0 += VL) {
    int64_t o = 0;
    for (int64_t b = 0; b < nb1; b++, o += PB1)
      F(fwd_big1)(p, pw, c, f, kh, kw, cout, co0, oh, o, yrow);
    for (; o + MID <= ow; o += MID) F(fwd_mid1)(p, pw, c, f, kh, kw, cout, co0, oh, o, yrow);
    for (; o + 2 <= ow; o += 2) F(fwd_two1)(p, pw, c, f, kh, kw, cout, co0, oh, o, yrow);
    for (; o < ow; o++) F(fwd_one1)(p, pw, c, f, kh, kw, cout, co0, oh, o, yrow);
  }
}

/* y = conv(x, f): x n x h x w x c, f kh x kw x c x cout, y n x oh x ow x cout; pad: scratch. */
TGT static void F(conv_fwd)(const float* x, const float* f, float* y, int64_t n, int64_t h,
                            int64_t w, int64_t c, int64_t oh, int64_t ow, int64_t cout,
                            int64_t kh, int64_t kw, int64_t pt, int64_t pl, float* pad) {
  const int64_t ph = oh + kh - 1, pw = ow + kw - 1;
  for (int64_t b = 0; b < n; b++) {
    pad_image(x + b * h * w * c, h, w, c, pad, ph, pw, pt, pl);
    for (int64_t r = 0; r < oh; r++)
      F(fwd_row)(pad, pw, c, f, kh, kw, cout, r, ow, y + ((b * oh + r) * ow) * cout);
  }
}

/*
 * Filter-gradient block: CB filter rows (t0 ..: tap column x input channel, contiguous) x NV
 * vectors of output channels (co0 ..) of one filter row, summed over `rows` output rows of ow
 * pixels (x rows xs floats apart in the padded image, dy rows ow * cout apart) and added into
 * df (that filter row's kw * c x cout block).
 */
#define DC_BWF(NAME, CB, NV)                                                                   \
  DC_INLINE void F(NAME)(const float* restrict xrow, int64_t c, int64_t xs,                    \
                         const float* restrict dyrow, int64_t cout, int64_t ow, int64_t rows,  \
                         int64_t t0, int64_t co0, float* restrict df) {                        \
    VEC acc[CB][NV];                                                                           \
    _Pragma("GCC unroll 32") for (int q = 0; q < CB; q++)                                      \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[q][v] = (VEC){0};               \
    for (int64_t r = 0; r < rows; r++) {                                                       \
      const float* xr = xrow + r * xs + t0;                                                    \
      const float* dr = dyrow + r * ow * cout + co0;                                           \
      for (int64_t o = 0; o < ow; o++) {                                                       \
        VEC d[NV];                                                                             \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                 \
          d[v] = F(ld)(dr + o * cout + VL * v);                                                \
        const float* xp = xr + o * c;                                                          \
        _Pragma("GCC unroll 32") for (int q = 0; q < CB; q++) {                                \
          const float xv = xp[q];                                                              \
          _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[q][v] += xv * d[v];         \
        }                                                                                      \
      }                                                                                        \
    }                                                                                          \
    _Pragma("GCC unroll 32") for (int q = 0; q < CB; q++)                                      \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                                   \
        float* dp = df + (t0 + q) * cout + co0 + VL * v;                                       \
        F(st)(dp, F(ld)(dp) + acc[q][v]);                                                      \
      }                                                                                        \
  }

DC_BWF(bwf_big2, CB2, 2)
DC_BWF(bwf_mid2, MID, 2)
DC_BWF(bwf_two2, 2, 2)
DC_BWF(bwf_one2, 1, 2)
DC_BWF(bwf_big1, CB1, 1)
DC_BWF(bwf_mid1, MID, 1)
DC_BWF(bwf_two1, 2, 1)
DC_BWF(bwf_one1, 1, 1)

/*
 * df = sum over pixels of x (tap-shifted) outer dy; df kh x kw x c x cout. The blocks sum over
 * groups of output rows of at least ~32 pixels (one row when rows are that wide), so that the
 * read-add-write of df per block stays small against the multiply-adds while the rows of x and
 * dy a group reads stay in L1.
 */
TGT static void F(conv_bwd_filter)(const float* x, const float* dy, float* df, int64_t n,
                                   int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow,
                                   int64_t cout, int64_t kh, int64_t kw, int64_t pt, int64_t pl,
                                   float* pad) {
  const int64_t ph = oh + kh - 1, pw = ow + kw - 1, kc = kw * c, xs = pw * c;
  const int64_t nb2 = dc_nbig(kc, CB2, MID), nb1 = dc_nbig(kc, CB1, MID);
  const int64_t group = ow >= 32 ? 1 : (32 + ow - 1) / ow;
  memset(df, 0, (size_t)(kh * kc * cout) * sizeof(float));
  for (int64_t b = 0; b < n; b++) {
    pad_image(x + b * h * w * c, h, w, c, pad, ph, pw, pt, pl);
    for (int64_t r = 0; r < oh; r += group) {
      const int64_t rows = oh - r < group ? oh - r : group;
      const float* dyrow = dy + ((b * oh + r) * ow) * cout;
      for (int64_t i = 0; i < kh; i++) {
        const float* xrow = pad + (r + i) * xs;
        float* dfi = df + i * kc * cout;
        int64_t co0 = 0;
        for (; co0 + 2 * VL <= cout; co0 += 2 * VL) {
          int64_t t = 0;
          for (int64_t q = 0; q < nb2; q++, t += CB2)
            F(bwf_big2)(xrow, c, xs, dyrow, cout, ow, rows, t, co0, dfi);
          for (; t + MID <= kc; t += MID)
            F(bwf_mid2)(xrow, c, xs, dyrow, cout, ow, rows, t, co0, dfi);
          for (; t + 2 <= kc; t += 2) F(bwf_two2)(xrow, c, xs, dyrow, cout, ow, rows, t, co0, dfi);
          for (; t < kc; t++) F(bwf_one2)(xrow, c, xs, dyrow, cout, ow, rows, t, co0, dfi);
        }
        for (; co0 + VL <= cout; co0 += VL) {
          int64_t t = 0;
          for (int64_t q = 0; q < nb1; q++, t += CB1)
            F(bwf_big1)(xrow, c, xs, dyrow, cout, ow, rows, t, co0, dfi);
          for (; t + MID <= kc; t += MID)
            F(bwf_mid1)(xrow, c, xs, dyrow, cout, ow, rows, t, co0, dfi);
          for (; t + 2 <= kc; t += 2) F(bwf_two1)(xrow, c, xs, dyrow, cout, ow, rows, t, co0, dfi);
          for (; t < kc; t++) F(bwf_one1)(xrow, c, xs, dyrow, cout, ow, rows, t, co0, dfi);
        }
      }
    }
  }
}

#undef DC_FWD
#undef DC_BWF
#undef DC_INLINE
#undef VEC
#undef F
#undef DC_CAT
#undef DC_CAT_
