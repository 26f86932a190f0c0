"""Branch-free exp, tanh and sigmoid that LLVM can vectorise.

pip's llvmlite has no SVML, so `math.exp`/`math.tanh` in a Numba loop are
scalar libm calls and the loop does not vectorise. These versions use only
arithmetic, `floor`, bit casts and `select`, so a loop over them becomes AVX
code. Each is written twice, float64 and float32 (float32 constants are
`np.float32` globals so the float32 versions stay 16 lanes wide).

Algorithms (coefficients from the Cephes library, S. L. Moshier, except the
float64 exp polynomial, a Chebyshev fit computed with mpmath):
- exp: n = round(x / ln 2), r = x - n ln 2 (two-part ln 2), exp(r) =
  1 + r (1 + r g(r)) with g a degree-10 Chebyshev fit of (exp(r) - 1 - r) / r**2
  (float64) / Cephes `expf` polynomial (float32),
  times 2**n built from bits in two halves (correct into subnormals); float32
  builds the bits with float arithmetic and one float->int32 convert, so the
  loop stays in 32-bit lanes.
- tanh: |x| < 0.625 an odd rational (float64) / polynomial (float32);
  beyond, 1 - 2 / (exp(2|x|) + 1) with the sign restored. The float64
  version selects numerator and denominator first, so both ranges share
  one division.
- sigmoid: e = exp(-|x|); x >= 0 -> 1 / (1 + e), else e / (1 + e), one
  division either way.

Measured max error (docs/compiler.md, millions of samples against long
double): exp 0.84 ulp (f64) / 1.0 ulp (f32); tanh 1.34 / 1.32 ulp; sigmoid
2.3 / 2.3 ulp (NumPy's own expit: 2.3 / 2.4). inf, -inf, nan, -0.0,
overflow and underflow behave as NumPy's. Set `CpuTarget(vector_math=False)`
to get libm (`math.exp`) instead.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .runtime import f32_from_int_bits, f64_from_bits, select

_OPTS = {"error_model": "numpy", "inline": "always"}
F32 = np.float32

# ---- float64 ---------------------------------------------------------------
LOG2E = 1.4426950408889634
LN2_HI = 6.93145751953125e-1
LN2_LO = 1.42860682030941723212e-6
# (exp(r) - 1 - r) / r**2 on |r| <= ln(2) / 2: Chebyshev fit, degree 10
# (relative error of exp(r) from the fit: 2.3e-19, 0.002 ulp).
EXP_G = (2.0914686968086876e-09, 2.5105217004720745e-08, 2.75572736431103e-07,
         2.7557255400206422e-06, 2.4801587325547743e-05, 0.00019841269874820627,
         0.0013888888888883748, 0.008333333333326136, 0.04166666666666667,
         0.1666666666666667, 0.5)
G0, G1, G2, G3, G4, G5, G6, G7, G8, G9, G10 = EXP_G
TP0, TP1, TP2 = -9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3
TQ0, TQ1, TQ2 = 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3


@njit(**_OPTS)
def exp64(x):
    """exp(x) for float64, max error 0.84 ulp."""
    xc = select(x > -746.0, x, -746.0)
    xc = select(xc < 710.0, xc, 710.0)
    n = np.floor(xc * LOG2E + 0.5)
    r = (xc - n * LN2_HI) - n * LN2_LO
    g = G0 * r + G1
    g = g * r + G2
    g = g * r + G3
    g = g * r + G4
    g = g * r + G5
    g = g * r + G6
    g = g * r + G7
    g = g * r + G8
    g = g * r + G9
    g = g * r + G10
    p = (g * r + 1.0) * r + 1.0
    k = np.int64(n)
    k1 = k >> 1
    y = p * f64_from_bits((k1 + 1023) << 52) * f64_from_bits((k - k1 + 1023) << 52)
    return select(x == x, y, x)


@njit(**_OPTS)
def tanh64(x):
    """tanh(x) for float64, max error 1.34 ulp, one division."""
    a = abs(x)
    z = x * x
    small = a < 0.625
    ac = select(a < 40.0, a, 40.0)
    p = (TP0 * z + TP1) * z + TP2
    q = ((z + TQ0) * z + TQ1) * z + TQ2
    # |x| < 0.625: x + x z p / q; else 1 - 2 / (exp(2|x|) + 1), sign restored
    t = select(small, p, 2.0) / select(small, q, exp64(ac + ac) + 1.0)
    tiny = x + x * (z * t)
    tiny = select(x != 0.0, tiny, x)  # keeps -0.0
    big = select(x >= 0.0, 1.0 - t, t - 1.0)
    return select(x == x, select(small, tiny, big), x)


@njit(**_OPTS)
def sigmoid64(x):
    """1 / (1 + exp(-x)) for float64, max error 2.3 ulp, no overflow."""
    e = exp64(-abs(x))
    return select(x >= 0.0, 1.0, e) / (1.0 + e)


# ---- float32 ---------------------------------------------------------------
LOG2E_F = F32(LOG2E)
C1_F = F32(0.693359375)
C2_F = F32(-2.12194440e-4)
E0_F, E1_F, E2_F = F32(1.9875691500e-4), F32(1.3981999507e-3), F32(8.3334519073e-3)
E3_F, E4_F, E5_F = F32(4.1665795894e-2), F32(1.6666665459e-1), F32(5.0000001201e-1)
T0_F, T1_F, T2_F = F32(-5.70498872745e-3), F32(2.06390887954e-2), F32(-5.37397155531e-2)
T3_F, T4_F = F32(1.33314422036e-1), F32(-3.33332819422e-1)
ZERO_F, HALF_F, ONE_F, TWO_F = F32(0.0), F32(0.5), F32(1.0), F32(2.0)
LO_F, HI_F, SMALL_F, CAP_F = F32(-104.0), F32(89.0), F32(0.625), F32(10.0)
BIAS_F, MANT_F = F32(127.0), F32(2.0 ** 23)  # (e + 127) * 2**23: the bits of 2**e


@njit(**_OPTS)
def exp32(x):
    """exp(x) for float32, max error 1.0 ulp."""
    xc = select(x > LO_F, x, LO_F)
    xc = select(xc < HI_F, xc, HI_F)
    n = np.floor(xc * LOG2E_F + HALF_F)
    r = (xc - n * C1_F) - n * C2_F
    p = E0_F * r + E1_F
    p = p * r + E2_F
    p = p * r + E3_F
    p = p * r + E4_F
    p = p * r + E5_F
    y = p * (r * r) + r + ONE_F
    h = np.floor(n * HALF_F)  # 2**n = 2**h * 2**(n - h), each a normal float
    y = y * f32_from_int_bits((h + BIAS_F) * MANT_F)
    y = y * f32_from_int_bits((n - h + BIAS_F) * MANT_F)
    return select(x == x, y, x)


@njit(**_OPTS)
def tanh32(x):
    """tanh(x) for float32, max error 1.32 ulp."""
    a = abs(x)
    z = x * x
    p = T0_F * z + T1_F
    p = p * z + T2_F
    p = p * z + T3_F
    p = p * z + T4_F
    small = p * z * x + x
    small = select(x != ZERO_F, small, x)
    ac = select(a < CAP_F, a, CAP_F)
    big = ONE_F - TWO_F / (exp32(ac + ac) + ONE_F)
    big = select(x >= ZERO_F, big, -big)
    return select(x == x, select(a < SMALL_F, small, big), x)


@njit(**_OPTS)
def sigmoid32(x):
    """1 / (1 + exp(-x)) for float32, max error 2.3 ulp, no overflow."""
    e = exp32(-abs(x))
    return select(x >= ZERO_F, ONE_F, e) / (ONE_F + e)


# prim name -> {dtype name: function name in this module}
OVERRIDES = {
    "exp": {"float64": "exp64", "float32": "exp32"},
    "tanh": {"float64": "tanh64", "float32": "tanh32"},
    "sigmoid": {"float64": "sigmoid64", "float32": "sigmoid32"},
}
