#!/usr/bin/python3
"""Fits the polynomial coefficients of mzoo's float erf and tanh (src/nn/mathf-impl.h).

erf(x) = x * P(x^2)                      for |x| <= 1
erf(x) = 1 - exp(-x^2) * Q(|x| - 2.5)    for 1 < |x| < 4   (Q fits erfc(x) * exp(x^2))
Least squares on dense grids in double (scipy for the target values); prints C literals.
"""
import numpy as np
from scipy.special import erf, erfcx

def fit(xs, ys, deg, weights):
    V = np.vander(xs, deg + 1, increasing=True)
    c, *_ = np.linalg.lstsq(V * weights[:, None], ys * weights, rcond=None)
    return c

x = np.linspace(1e-6, 1.0, 20001)
cP = fit(x * x, erf(x) / x, 7, 1.0 / (erf(x) / x))
x2 = np.linspace(1.0, 4.0, 20001)
cQ = fit(x2 - 2.5, erfcx(x2), 16, 1.0 / erfcx(x2))

def ev(c, t):
    return sum(ci * t ** i for i, ci in enumerate(c))

print("relerr P", np.max(np.abs(x * ev(cP, x * x) / erf(x) - 1)))
print("relerr Q", np.max(np.abs(ev(cQ, x2 - 2.5) / erfcx(x2) - 1)))
for name, c in (("P", cP), ("Q", cQ)):
    print(name, ", ".join("%.9ef" % v for v in c))

# tanh(x) = x + x * s * R(s), s = x^2, for |x| < 0.55 (relative least squares on R)
xt = np.linspace(1e-4, 0.55, 20001)
st = xt * xt
target = (np.tanh(xt) / xt - 1.0) / st
cR = fit(st, target, 8, 1.0 / np.abs(target))
print("relerr tanh", np.max(np.abs((xt + xt * st * ev(cR, st)) / np.tanh(xt) - 1)))
print("R", ", ".join("%.9ef" % v for v in cR))
