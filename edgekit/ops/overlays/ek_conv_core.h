/* ek_conv_core.h: the part of the blocked conv1d / conv_transpose1d kernels that every
 * kernel set shares (portable C): the layer geometry, the padded window copies, the exact
 * requantize epilogue and a driver that runs a set's register-blocked micro-kernel.
 *
 * Both ops are written as "phases" of dot products over a window of Tp input columns:
 *   conv1d (1 phase):  output t = p reads columns t*s - pad + j, lane j <-> tap k = j
 *   conv_transpose1d (s phases, no zero insertion): phase r holds the outputs t with
 *      (t + pad) % s == r, in order p = 0, 1, ...; output p reads columns q - (Tp-1) + j,
 *      q = (t + pad) / s, lane j <-> tap k = r + s*(Tp-1-j)
 * Lanes whose tap is >= K carry a zero weight. G input channels are interleaved per column
 * in a window (lane = j*G + g), so that G*Tp bytes are one contiguous dot product.
 *
 * Packed weights (made at compile time, edgekit/ops/overlays/blocked_conv.py):
 *   w[phase][o / OB][c / G][o % OB][j*G + g], output channels padded to a multiple of OB
 *   and input channels to a multiple of G with zero weights.
 * Columns outside the input read x_zp; the zero point is folded into the bias
 * (bias - x_zp * sum w), so the products are raw int8 * int8 and x_zp * w of the padding
 * cancels exactly as in the generic kernel.
 *
 * bias is (phase, co) (x_zp folded in), mn is (4, co): rows m_pos, n_pos, m_neg, n_neg.
 *
 * Epilogue (edgekit/quant/arithmetic.py, single rounding, half up):
 *   v = acc + bias; (M0, n) = v < 0 && leaky ? (m_neg, n_neg) : (m_pos, n_pos)
 *   q = clamp(y_zp + ((v * M0 + 2^(n-1)) >> n)), int64 product
 *   fused add: y = clamp(add_zp + (((q - q_zp) * q_m + (skip - s_zp) * s_m + 2^(add_n-1)) >> add_n))
 * For n > 32 the rounding shift equals (hi + 2^(n-33)) >> (n-32) with hi the high word of the
 * product (the low word cannot carry into the result), which needs one 32x32 -> high multiply.
 * The fused add's int64 sum A*q_m + B*s_m (|A|, |B| <= 255) is computed exactly in int32 when
 * 17 <= add_n <= 46: with m = mh*2^16 + ml, H = A*mh + B*s_mh and L = A*ml + B*s_ml,
 * (A*q_m + B*s_m + 2^(add_n-1)) >> add_n = (H + (L >> 16) + 2^(add_n-17)) >> (add_n-16), by the
 * same argument (L's low 16 bits cannot carry). cfg[EK_FAST] says which of the two hold
 * (bit 0: every n in 33..62, bit 1: add_n in 17..46); set kernels may rely on them.
 */
#ifndef EK_CONV_CORE_H
#define EK_CONV_CORE_H
#include <stdint.h>

/* cfg[] indices: an int32 const array emitted per layer. */
enum {
    EK_TRANSPOSED, EK_CI, EK_LIN, EK_CO, EK_LOUT, EK_K, EK_STRIDE, EK_PAD, EK_XZP, EK_YZP,
    EK_G, EK_TP, EK_CHUNK, EK_LEAKY, EK_HAS_ADD, EK_QZP, EK_QM, EK_SZP, EK_SM, EK_ADDN,
    EK_ADDZP, EK_OB, EK_QMH, EK_QML, EK_SMH, EK_SML, EK_FAST, EK_CFG_LEN
};

typedef struct {
    const int32_t *bias;   /* (nphase, co) */
    const int32_t *mn;     /* (4, co): m_pos, n_pos, m_neg, n_neg */
    const int8_t *skip;    /* (co, lout) or 0 */
    int8_t *y;
    int32_t nphase, lout, co, y_zp, leaky;
    int32_t q_zp, q_m, s_zp, s_m, add_n, add_zp;
    int32_t q_mh, q_ml, s_mh, s_ml, fast;
} ek_epi_t;

static inline int32_t ek_clamp8(int32_t v)
{
    return v < -128 ? -128 : (v > 127 ? 127 : v);
}

/* clamp(zp + ((v * m + 2^(n-1)) >> n)), 1 <= n <= 62, m in [0, 2^31). */
static inline int32_t ek_requant(int32_t v, int32_t m, int32_t n, int32_t zp)
{
    if (n > 32) {
        int32_t hi = (int32_t)(((int64_t)v * m) >> 32);
        int32_t r = n - 32;
        return ek_clamp8(((hi + (1 << (r - 1))) >> r) + zp);
    }
    int64_t q = ((int64_t)v * m + ((int64_t)1 << (n - 1))) >> n;
    q = q < -512 ? -512 : (q > 512 ? 512 : q);
    return ek_clamp8((int32_t)q + zp);
}

/* The fused add on the layer's clamped int8 output q and the skip value sk. */
static inline int32_t ek_fused_add(const ek_epi_t *e, int32_t q, int32_t sk)
{
    if (e->fast & 2) {
        int32_t a = q - e->q_zp, b = sk - e->s_zp;
        int32_t hsum = a * e->q_mh + b * e->s_mh, lsum = a * e->q_ml + b * e->s_ml;
        return ek_clamp8(((hsum + (lsum >> 16) + (1 << (e->add_n - 17))) >> (e->add_n - 16)) + e->add_zp);
    }
    int64_t a = (int64_t)(q - e->q_zp) * e->q_m + (int64_t)(sk - e->s_zp) * e->s_m;
    a = (a + ((int64_t)1 << (e->add_n - 1))) >> e->add_n;
    a = a < -512 ? -512 : (a > 512 ? 512 : a);
    return ek_clamp8((int32_t)a + e->add_zp);
}

/* The portable micro-kernel: acc[o*pb + i] = sum over ncg channel groups and `lanes` lanes
 * of x[cg*rowb + i*xstep + lane] * w[(cg*ob + o)*lanes + lane], for o < ob, i < np <= pb. */
static inline void ek_core_portable(const int8_t *x, int32_t rowb, int32_t xstep, const int8_t *w, int32_t ncg,
                                    int32_t np, int32_t *acc, int32_t ob, int32_t pb, int32_t lanes)
{
    for (int32_t i = 0; i < ob * pb; i++) acc[i] = 0;
    for (int32_t cg = 0; cg < ncg; cg++)
        for (int32_t o = 0; o < ob; o++)
            for (int32_t i = 0; i < np; i++) {
                const int8_t *xv = x + cg * rowb + i * xstep;
                const int8_t *wv = w + (cg * ob + o) * lanes;
                int32_t s = 0;
                for (int32_t l = 0; l < lanes; l++) s += (int32_t)xv[l] * wv[l];
                acc[o * pb + i] += s;
            }
}

/* Copy columns [col, col + ncols) of every input channel into scratch as
 * s[cg][j][g] (row of ncols*G bytes): x_zp outside the input, 0 for padding channels. */
static inline void ek_fill_window(const int8_t *x, int32_t ci, int32_t lin, int32_t x_zp, int32_t g_,
                                  int32_t ncg, int32_t col, int32_t ncols, int8_t *s)
{
    for (int32_t cg = 0; cg < ncg; cg++)
        for (int32_t j = 0; j < ncols; j++)
            for (int32_t g = 0; g < g_; g++) {
                int32_t c = cg * g_ + g, t = col + j;
                s[(cg * ncols + j) * g_ + g] = (int8_t)(c >= ci ? 0 : ((t >= 0 && t < lin) ? x[c * lin + t] : x_zp));
            }
}

static inline int32_t ek_mulhi(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * b) >> 32);
}

/* The portable epilogue of one OB x PB block (acc[oo*PB + i]): channels o0.. (< co),
 * positions p.. (< p1). With cfg[EK_FAST] (n > 32, int32 add) the per-channel shifts and
 * rounding terms are set up once per channel; the layer's fields are read into locals
 * first (the int8 stores may alias anything, so they would be reloaded after each store). */
static inline void ek_epi_block(const ek_epi_t *e, const int32_t *acc, int32_t ob_, int32_t pb_, int32_t o0,
                                int32_t p, int32_t p1, int32_t r, int32_t out0, int32_t ostep)
{
    const int32_t co = e->co, lout = e->lout, y_zp = e->y_zp, leaky = e->leaky;
    const int32_t np = p1 - p < pb_ ? p1 - p : pb_;
    const int32_t *bias = e->bias + r * co, *mn = e->mn;
    const int8_t *skip = e->skip;
    int8_t *yy = e->y;
    const int32_t base = out0 + p * ostep;
    if (!(e->fast & 1) || (skip && !(e->fast & 2))) {
        for (int32_t oo = 0; oo < ob_ && o0 + oo < co; oo++) {
            const int32_t o = o0 + oo;
            for (int32_t i = 0; i < np; i++) {
                int32_t v = acc[oo * pb_ + i] + bias[o];
                int32_t q = (leaky && v < 0) ? ek_requant(v, mn[2 * co + o], mn[3 * co + o], y_zp)
                                             : ek_requant(v, mn[o], mn[co + o], y_zp);
                if (skip) q = ek_fused_add(e, q, skip[o * lout + base + i * ostep]);
                yy[o * lout + base + i * ostep] = (int8_t)q;
            }
        }
        return;
    }
    const int32_t qz = e->q_zp, qh = e->q_mh, ql = e->q_ml, sz = e->s_zp, sh = e->s_mh, sl = e->s_ml;
    const int32_t an = e->add_n - 16, ar = skip ? 1 << (e->add_n - 17) : 0, az = e->add_zp;
    for (int32_t oo = 0; oo < ob_ && o0 + oo < co; oo++) {
        const int32_t o = o0 + oo, b = bias[o];
        const int32_t mp = mn[o], rp = mn[co + o] - 32;
        const int32_t mm = leaky ? mn[2 * co + o] : mp, rm = (leaky ? mn[3 * co + o] : mn[co + o]) - 32;
        const int32_t hp = 1 << (rp - 1), hm = 1 << (rm - 1);
        int8_t *y = yy + o * lout + base;
        const int8_t *sk = skip ? skip + o * lout + base : 0;
        for (int32_t i = 0; i < np; i++) {
            int32_t v = acc[oo * pb_ + i] + b;
            int32_t q = v < 0 ? (ek_mulhi(v, mm) + hm) >> rm : (ek_mulhi(v, mp) + hp) >> rp;
            q = ek_clamp8(q + y_zp);
            if (sk) {
                int32_t qa = q - qz, sb = sk[i * ostep] - sz;
                q = ek_clamp8(((qa * qh + sb * sh + ((qa * ql + sb * sl) >> 16) + ar) >> an) + az);
            }
            y[i * ostep] = (int8_t)q;
        }
    }
}

/* One set's kernel (returns 0; called from TIR with T.call_extern, which wants a value):
 * CORE(x, rowb, xstep, w, ncg, np, acc) computes an OB x PB block,
 * EPI(e, acc, o0, p, p1, r, out0, ostep) stores it (ek_epi_block's job),
 * FILL(...) has ek_fill_window's signature. Positions whose window lies inside the input
 * are read straight from x when G == 1; the others go through scratch, `chunk` positions
 * at a time. */
#define EK_DEFINE_CONV(NAME, CORE, EPI, FILL, OB, PB)                                                           \
    static inline int32_t NAME(const int8_t *x, const int8_t *w, const int32_t *bias, const int32_t *mn,     \
                               const int8_t *skip, int8_t *scratch, const int32_t *cfg, int8_t *y)           \
    {                                                                                                        \
        const int32_t tr = cfg[EK_TRANSPOSED], ci = cfg[EK_CI], lin = cfg[EK_LIN], co = cfg[EK_CO];          \
        const int32_t lout = cfg[EK_LOUT], s = cfg[EK_STRIDE], pad = cfg[EK_PAD], g_ = cfg[EK_G];            \
        const int32_t tp = cfg[EK_TP], chunk = cfg[EK_CHUNK];                                                \
        const int32_t ncg = (ci + g_ - 1) / g_, nob = (co + (OB)-1) / (OB), nph = tr ? s : 1;                \
        const int32_t istep = tr ? 1 : s, ostep = tr ? s : 1, lanes = tp * g_;                               \
        ek_epi_t e = {bias, mn, cfg[EK_HAS_ADD] ? skip : 0, y, nph, lout, co, cfg[EK_YZP], cfg[EK_LEAKY],   \
                      cfg[EK_QZP], cfg[EK_QM], cfg[EK_SZP], cfg[EK_SM], cfg[EK_ADDN], cfg[EK_ADDZP],           \
                      cfg[EK_QMH], cfg[EK_QML], cfg[EK_SMH], cfg[EK_SML], cfg[EK_FAST]};                       \
        int32_t acc[(OB) * (PB)];                                                                            \
        for (int32_t r = 0; r < nph; r++) {                                                                  \
            int32_t out0 = 0, col0 = -pad, np_all = lout;                                                    \
            if (tr) {                                                                                        \
                out0 = ((r - pad) % s + s) % s;                                                              \
                np_all = out0 < lout ? (lout - out0 + s - 1) / s : 0;                                        \
                col0 = (out0 + pad - r) / s - (tp - 1);                                                      \
            }                                                                                                \
            int32_t pa = col0 >= 0 ? 0 : (-col0 + istep - 1) / istep;                                        \
            int32_t pz = lin - tp - col0 < 0 ? 0 : (lin - tp - col0) / istep + 1;                            \
            if (pz > np_all) pz = np_all;                                                                    \
            pa = (pa + (PB)-1) / (PB) * (PB);  /* blocks on one grid from position 0: ceil(P / PB) */           \
            pz = pz / (PB) * (PB);                                                                           \
            if (g_ != 1 || pa >= pz) pa = pz = np_all;                                                       \
            const int8_t *wr = w + (int32_t)r * nob * ncg * (OB)*lanes;                                       \
            for (int32_t p0 = 0; p0 < np_all;) {                                                             \
                int32_t p1;                                                                                  \
                const int8_t *xb;                                                                            \
                int32_t rowb;                                                                                \
                if (p0 >= pa && p0 < pz) {                                                                   \
                    p1 = pz;                                                                                 \
                    xb = x + col0 + p0 * istep;                                                              \
                    rowb = lin;                                                                              \
                } else {                                                                                     \
                    p1 = p0 + chunk;                                                                         \
                    if (p0 < pa && p1 > pa) p1 = pa;                                                         \
                    if (p1 > np_all) p1 = np_all;                                                            \
                    /* whole blocks: the positions past p1 read padding and are not stored */             \
                    int32_t ncols = ((p1 - p0 + (PB)-1) / (PB) * (PB)-1) * istep + tp;                      \
                    FILL(x, ci, lin, cfg[EK_XZP], g_, ncg, col0 + p0 * istep, ncols, scratch);               \
                    xb = scratch;                                                                            \
                    rowb = ncols * g_;                                                                       \
                }                                                                                            \
                for (int32_t ob = 0; ob < nob; ob++) {                                                       \
                    const int8_t *wb = wr + ob * ncg * (OB)*lanes;                                           \
                    for (int32_t p = p0; p < p1; p += (PB)) {                                                \
                        CORE(xb + (p - p0) * istep * g_, rowb, istep * g_, wb, ncg, (PB), acc, lanes);        \
                        EPI(&e, acc, ob * (OB), p, p1, r, out0, ostep);                                      \
                    }                                                                                        \
                }                                                                                            \
                p0 = p1;                                                                                     \
            }                                                                                                \
        }                                                                                                    \
        return 0;                                                                                            \
    }

#endif
