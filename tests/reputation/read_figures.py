"""How the figures computed when read (migration 022: ``orderflow_wallet_read``) compare with
numpy's (:func:`orderflow.reputation.factors.score`).

The measurement, the posterior mean and sd and the prior are the same float8 operations in the
same order: equal to the bit. The probabilities and the volume factor also go through erf and
tanh: numpy's come from the C library (``math.erf``, ``math.tanh``), PostgreSQL's tanh is the C
library's, and ``orderflow_erf`` is fdlibm's erf in glibc's evaluation order -- equal to the bit
on glibc up to 2.40 (measured on 2.36: every wallet of the 30 k benchmark database), within an
ulp of a correctly rounded erf (glibc 2.41 on). Allowed here: 4.5e-16 (2 ulp of 1.0) for the
probabilities and the volume factor. The raw score is shown rounded to 4 digits: a figure on the
rounding's halfway point would move it by 1e-4.
"""

from __future__ import annotations

import json
from typing import Any

# A probability or a factor in [0, 1]: two ulp of 1.0.
ULP_TOLERANCE = 4.5e-16
# The JSON's leaves that may differ, and by how much.
JSON_TOLERANCE = {
    ("posterior", "p_edge_above_cost"): ULP_TOLERANCE,
    ("posterior", "p_edge_below_zero"): ULP_TOLERANCE,
    ("volume", "value"): ULP_TOLERANCE,
    ("volume", "points"): 10 * ULP_TOLERANCE,
    ("raw_score",): 1.000001e-4,
}


def _leaves(x: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(x, dict):
        out: dict[tuple[str, ...], Any] = {}
        for k, v in x.items():
            out.update(_leaves(v, (*path, k)))
        return out
    return {path: x}


def json_close(read: Any, numpy: Any) -> None:
    """A factors JSON as read equals numpy's: the same keys, every value equal, those of
    :data:`JSON_TOLERANCE` within it."""
    a = _leaves(json.loads(read) if isinstance(read, str) else read)
    b = _leaves(json.loads(numpy) if isinstance(numpy, str) else numpy)
    assert a.keys() == b.keys()
    for key, want in b.items():
        got = a[key]
        tol = JSON_TOLERANCE.get(key)
        if tol is not None and got is not None and want is not None:
            assert abs(got - want) <= tol, (key, got, want)
        else:
            assert got == want, (key, got, want)


def texts_close(read: dict[str, str], numpy: dict[str, str]) -> None:
    """:func:`json_close` for every wallet of two ``{wallet: JSON text}`` maps."""
    assert read.keys() == numpy.keys()
    for address, text in numpy.items():
        json_close(read[address], text)
