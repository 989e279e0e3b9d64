"""The skill tail's fit: the maximum likelihood of two normals behind noisy measurements.

Wallet i's measured edge x_i, with its known variance v_i, is a draw from

    (1 - pi) N(mu_b, tau_b^2 + v_i) + pi N(mu_s, tau_s^2 + v_i)

(the bulk and the skill tail of :mod:`orderflow.reputation.prior`). EM climbs this likelihood
one safe step at a time, and slowly when one component is small: the tail's share moves by a
hundred-thousandth a step for hundreds of steps. Stopped by the likelihood's relative change
(1e-12), it ran into its 1,000-step cap on every population of docs/benchmarks.md "The skill
tail's fit", the tail's share 1-13 % short of the maximum, and took 35-53 s at a million wallets,
in every reputation run.

:func:`fit` takes SQUAREM-accelerated EM (Varadhan and Roland 2008, scheme S3: two EM steps give
a direction and a step length; the extrapolated point is kept, then one EM step from it, only if
its likelihood is no lower than after the first step, else the second EM step is) until its
steps are below :data:`NEWTON_FROM`, then Newton's method with the analytic gradient and Hessian
(:func:`_newton`) to the maximum: a step that moves no parameter by more than
:data:`TOLERANCE` of its own scale, or would gain less than :data:`GAIN_TOLERANCE`. 16-27
passes over the wallets where EM took 1,000. Everything is a function of the arrays in their
given order (numpy's sums are deterministic for one order; the caller sorts the wallets).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

# at the maximum: Newton's step moves no parameter by more than this of its own scale
TOLERANCE = 1e-9
# EM hands over to Newton's method when its steps are below this, or after this many SQUAREM
# cycles (three E-steps each)
NEWTON_FROM = 0.1
EM_CYCLES = 20
# Newton's method: at most this many steps, each halved at most this many times; done when a
# step would gain less than this log-likelihood
NEWTON_STEPS = 50
NEWTON_HALVINGS = 30
GAIN_TOLERANCE = 1e-10
# the share's bounds: a tail is the smaller component
SHARE_MIN, SHARE_MAX = 1e-9, 0.5
# one normal's fixed point: stop when a step moves no parameter by more than this of its scale
_ONE_NORMAL_TOLERANCE = 1e-10
_ONE_NORMAL_STEPS = 1000


@dataclass(frozen=True, slots=True)
class Mixture:
    share: float  # pi
    mu_b: float  # the bulk's mean, capped at 0
    tau2_b: float
    mu_s: float
    tau2_s: float


@dataclass(frozen=True, slots=True)
class Fit:
    mixture: Mixture
    loglik: float  # without the constant -k log(2 pi) / 2
    tail: Array  # each measurement's responsibility of the tail at the fit
    e_steps: int  # E-steps taken (the fit's cost: one pass over the measurements each)


def log_density(x: Array, mean: float, var: Array) -> Array:
    """log N(x; mean, var) without the constant -log(2 pi) / 2."""
    return np.asarray(-0.5 * (np.log(var) + (x - mean) ** 2 / var), dtype=np.float64)


def m_step(
    x: Array,
    v: Array,
    r: Array,
    mean: float,
    tau2: float,
    floor2: float,
    cap: bool,
    fixed: float | None = None,
) -> tuple[float, float]:
    """A component's mean and spread given its responsibilities ``r`` (the maximum-likelihood
    fixed point for heteroscedastic measurements: precision-weighted mean, and tau^2 weighted
    by the squared precisions); its mean capped at 0 when ``cap``, or held at ``fixed``, tau^2
    at least ``floor2``."""
    w = r / (tau2 + v)
    total = float(np.sum(w))
    w2 = w / (tau2 + v)
    total2 = float(np.sum(w2))
    if not (0.0 < total < math.inf and 0.0 < total2 < math.inf):
        return mean, tau2  # the component explains no wallet (or weights overflowed): as it was
    if fixed is not None:
        new_mean = fixed
    else:
        new_mean = float(np.sum(w * x)) / total
        if cap:
            new_mean = min(new_mean, 0.0)
    new_tau2 = max(float(np.sum(w2 * ((x - new_mean) ** 2 - v))) / total2, floor2)
    if not (math.isfinite(new_mean) and math.isfinite(new_tau2)):
        return mean, tau2
    return new_mean, new_tau2


def one_normal(
    x: Array, v: Array, mean: float, tau2: float, floor2: float, fixed: float | None = None
) -> tuple[float, float, float]:
    """(mean, tau^2, log-likelihood) of one normal behind the measurements at its maximum
    likelihood, mean capped at 0 (or held at ``fixed``), tau^2 at least ``floor2``: the
    :func:`m_step` fixed point from ``mean``, ``tau2``, until a step moves neither by more
    than :data:`_ONE_NORMAL_TOLERANCE` of its scale (the spread's floor for the mean)."""
    ones = np.ones_like(x)
    scale = max(math.sqrt(floor2), 1e-6)
    for _ in range(_ONE_NORMAL_STEPS):
        new_mean, new_tau2 = m_step(x, v, ones, mean, tau2, floor2, True, fixed)
        moved = max(abs(new_mean - mean) / scale, abs(new_tau2 - tau2) / max(new_tau2, floor2))
        mean, tau2 = new_mean, new_tau2
        if moved <= _ONE_NORMAL_TOLERANCE:
            break
    return mean, tau2, float(np.sum(log_density(x, mean, tau2 + v)))


def one_normal_loglik(x: Array, v: Array, mean: float, tau2: float, floor2: float) -> float:
    """The largest log-likelihood of one normal (mean capped at 0), from ``mean``, ``tau2``."""
    return one_normal(x, v, mean, tau2, floor2)[2]


def _e_step(x: Array, v: Array, p: Mixture) -> tuple[float, Array]:
    """The log-likelihood at ``p`` and the tail's responsibilities."""
    lb = math.log1p(-p.share) + log_density(x, p.mu_b, p.tau2_b + v)
    ls = math.log(p.share) + log_density(x, p.mu_s, p.tau2_s + v)
    both = np.logaddexp(lb, ls)
    return float(np.sum(both)), np.asarray(np.exp(ls - both), dtype=np.float64)


def _em_step(x: Array, v: Array, p: Mixture, floor2: float) -> tuple[float, Array, Mixture]:
    """The log-likelihood and responsibilities at ``p``, and EM's next point."""
    ll, r = _e_step(x, v, p)
    share = min(max(float(np.mean(r)), SHARE_MIN), SHARE_MAX)
    mu_b, tau2_b = m_step(x, v, 1.0 - r, p.mu_b, p.tau2_b, floor2, True)
    mu_s, tau2_s = m_step(x, v, r, p.mu_s, p.tau2_s, floor2, False)
    return ll, r, Mixture(share, mu_b, tau2_b, mu_s, tau2_s)


def _coordinates(p: Mixture, scale: float) -> Array:
    """The parameters where steps are measured and extrapolated: the share's logit, means in
    units of ``scale`` (the spread's floor), spreads as log(tau^2 / scale^2) -- every coordinate
    of order one, the bounds (0 < pi < 1, tau^2 > 0) kept by construction."""
    return np.array(
        [
            math.log(p.share / (1.0 - p.share)),
            p.mu_b / scale,
            math.log(p.tau2_b / scale**2),
            p.mu_s / scale,
            math.log(p.tau2_s / scale**2),
        ]
    )


def _mixture(u: Array, scale: float, floor2: float) -> Mixture | None:
    """The parameters at coordinates ``u``, moved into the bounds; None if not finite."""
    if not np.all(np.isfinite(u)) or np.any(np.abs(u[[0, 2, 4]]) > 700.0):
        return None
    natural = [
        1.0 / (1.0 + math.exp(-float(u[0]))),
        float(u[1]) * scale,
        math.exp(float(u[2])) * scale**2,
        float(u[3]) * scale,
        math.exp(float(u[4])) * scale**2,
    ]
    return _bounded(np.array(natural), floor2)


def _derivatives(
    x: Array, v: Array, p: Mixture, e_step: tuple[float, Array] | None = None
) -> tuple[float, Array, Array, Array]:
    """The log-likelihood at ``p``, its gradient and Hessian in (pi, mu_b, tau_b^2, mu_s,
    tau_s^2), and the tail's responsibilities. With a = grad log((1 - pi) phi_b) and b = grad
    log(pi phi_s) per measurement, r its tail responsibility, q = 1 - r: the gradient is
    sum(q a + r b) and the Hessian sum(q grad^2 a + r grad^2 b + q r (a - b)(a - b)^T).
    Every sum is numpy's over one order (no BLAS reduction, whose order may vary).
    ``e_step``: :func:`_e_step` at ``p``, when the caller has it already."""
    ll, r = _e_step(x, v, p) if e_step is None else e_step
    q = 1.0 - r
    s_b, s_s = p.tau2_b + v, p.tau2_s + v
    d_b, d_s = x - p.mu_b, x - p.mu_s
    a1, b1 = d_b / s_b, d_s / s_s  # d log phi / d mu
    a2, b2 = 0.5 * (a1 * a1 - 1.0 / s_b), 0.5 * (b1 * b1 - 1.0 / s_s)  # d log phi / d tau^2
    pi = p.share
    c0 = -1.0 / (1.0 - pi) - 1.0 / pi  # (a - b) in pi
    qr = q * r
    diff = (a1, a2, -b1, -b2)  # (a - b) in mu_b, tau2_b, mu_s, tau2_s
    g = np.array(
        [
            float(np.sum(r)) / pi - float(np.sum(q)) / (1.0 - pi),
            float(np.sum(q * a1)),
            float(np.sum(q * a2)),
            float(np.sum(r * b1)),
            float(np.sum(r * b2)),
        ]
    )
    h = np.zeros((5, 5))
    h[0, 0] = -float(np.sum(q)) / (1.0 - pi) ** 2 - float(np.sum(r)) / pi**2
    h[0, 0] += c0 * c0 * float(np.sum(qr))
    for j, dj in enumerate(diff, start=1):
        h[0, j] = h[j, 0] = c0 * float(np.sum(qr * dj))
        for k, dk in enumerate(diff[j - 1 :], start=j):
            h[j, k] = h[k, j] = float(np.sum(qr * dj * dk))
    for (mu, tau), w, s, d in (((1, 2), q, s_b, d_b), ((3, 4), r, s_s, d_s)):
        h[mu, mu] -= float(np.sum(w / s))
        h[mu, tau] -= float(np.sum(w * d / (s * s)))
        h[tau, mu] = h[mu, tau]
        h[tau, tau] += float(np.sum(w * (0.5 - d * d / s) / (s * s)))
    return ll, r, g, h


def _vector(p: Mixture) -> Array:
    return np.array([p.share, p.mu_b, p.tau2_b, p.mu_s, p.tau2_s])


def _bounded(t: Array, floor2: float) -> Mixture:
    return Mixture(
        share=min(max(float(t[0]), SHARE_MIN), SHARE_MAX),
        mu_b=min(float(t[1]), 0.0),
        tau2_b=max(float(t[2]), floor2),
        mu_s=float(t[3]),
        tau2_s=max(float(t[4]), floor2),
    )


def _newton(x: Array, v: Array, p: Mixture, floor2: float, least_share: float) -> Fit:
    """Newton's method on the log-likelihood from ``p`` (EM brought it near the maximum):
    the parameters that sit on a bound with the gradient pushing out stay there, the Hessian
    is damped (Levenberg) where it is not negative definite, each step is halved until the
    likelihood does not fall. Stops when a step moves no coordinate by more than
    :data:`TOLERANCE` (in units of each parameter's own scale) or would gain less than
    :data:`GAIN_TOLERANCE` of log-likelihood -- a flat likelihood (no tail in the data: two
    components that explain the same wallets) has no better point to find -- or when the
    share is below ``least_share``: where no tail is in the data a step takes pi to its bound
    (the likelihood does not fall: the tail explained nothing), from where the maximum, if any
    is inside, is crept towards a fraction of a percent a step."""
    steps = 0
    known: tuple[float, Array] | None = None  # the E-step at p, from the line search
    for _ in range(NEWTON_STEPS):
        ll, r, g, h = _derivatives(x, v, p, known)
        steps += 1
        if p.share < least_share:
            return Fit(p, ll, r, steps)
        t = _vector(p)
        scale = np.array([p.share, math.sqrt(p.tau2_b), p.tau2_b, math.sqrt(p.tau2_s), p.tau2_s])
        pinned = (
            (t[0] <= SHARE_MIN) & (g[0] < 0) | (t[0] >= SHARE_MAX) & (g[0] > 0),
            (t[1] >= 0.0) & (g[1] > 0),
            (t[2] <= floor2) & (g[2] < 0),
            False,
            (t[4] <= floor2) & (g[4] < 0),
        )
        free = ~np.array(pinned, dtype=bool)
        curvature = -(h * np.outer(scale, scale))[np.ix_(free, free)]
        slope = (g * scale)[free]
        y = np.zeros(5)
        y[free] = _damped_solve(curvature, slope)
        if float(np.max(np.abs(y))) <= TOLERANCE or float(slope @ y[free]) <= GAIN_TOLERANCE:
            return Fit(p, ll, r, steps)
        for _ in range(NEWTON_HALVINGS):
            trial = _bounded(t + scale * y, floor2)
            at_trial = _e_step(x, v, trial)
            steps += 1
            if at_trial[0] >= ll:
                p, known = trial, at_trial
                break
            y = 0.5 * y
        else:  # no step raises the likelihood: at the maximum within rounding
            return Fit(p, ll, r, steps)
    ll, r = known if known is not None else _e_step(x, v, p)
    return Fit(p, ll, r, steps)


def _damped_solve(curvature: Array, slope: Array) -> Array:
    """(C + lambda I)^-1 s with the smallest lambda in 0, 1e-8, 1e-7, ... (times C's largest
    diagonal entry) that makes C + lambda I positive definite: Newton's step where the
    likelihood is concave, a shorter step along the gradient where it is not."""
    size = curvature.shape[0]
    if size == 0:
        return np.zeros(0)
    top = max(float(np.max(np.abs(np.diag(curvature)))), 1e-300)
    lam = 0.0
    for _ in range(40):
        try:
            low = np.linalg.cholesky(curvature + lam * top * np.eye(size))
        except np.linalg.LinAlgError:
            lam = 1e-8 if lam == 0.0 else lam * 10.0
            continue
        return np.asarray(np.linalg.solve(low.T, np.linalg.solve(low, slope)), dtype=np.float64)
    return slope / top


def fit(x: Array, v: Array, start: Mixture, floor2: float, least_share: float = 0.0) -> Fit:
    """The maximum-likelihood mixture from ``start``: SQUAREM-accelerated EM until its steps
    are below :data:`NEWTON_FROM` (at most :data:`EM_CYCLES` cycles), then Newton's method;
    given up once the share is below ``least_share`` (the caller wants no tail that small)."""
    near = _squarem(x, v, start, floor2, NEWTON_FROM, EM_CYCLES)
    found = _newton(x, v, near.mixture, floor2, least_share)
    return Fit(found.mixture, found.loglik, found.tail, near.e_steps + found.e_steps)


def _squarem(
    x: Array, v: Array, start: Mixture, floor2: float, tolerance: float, cycles: int
) -> Fit:
    """SQUAREM from ``start`` until one EM step moves no coordinate by more than
    ``tolerance``, or for ``cycles`` cycles."""
    scale = max(math.sqrt(floor2), 1e-6)
    p0, steps = start, 0
    for _ in range(cycles):
        ll0, r0, p1 = _em_step(x, v, p0, floor2)
        steps += 1
        u0, u1 = _coordinates(p0, scale), _coordinates(p1, scale)
        if float(np.max(np.abs(u1 - u0))) <= tolerance:
            return Fit(p0, ll0, r0, steps)
        ll1, _, p2 = _em_step(x, v, p1, floor2)
        steps += 1
        step = u1 - u0
        bend = _coordinates(p2, scale) - u1 - step
        bent = float(np.linalg.norm(bend))
        if bent == 0.0:
            p0 = p2
            continue
        alpha = min(-float(np.linalg.norm(step)) / bent, -1.0)
        ahead = _mixture(u0 - 2.0 * alpha * step + alpha * alpha * bend, scale, floor2)
        if ahead is None:
            p0 = p2
            continue
        ll_ahead, _, after = _em_step(x, v, ahead, floor2)
        steps += 1
        p0 = after if math.isfinite(ll_ahead) and ll_ahead >= ll1 else p2
    ll0, r0 = _e_step(x, v, p0)
    return Fit(p0, ll0, r0, steps + 1)
