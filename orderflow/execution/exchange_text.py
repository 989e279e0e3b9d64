"""The exchange's words, made fit to keep: the one function every text the CLOB (or whatever
answers in its place) sends back goes through before it is logged or stored.

What the exchange says is kept — an order's refusal in its row and its signal's reason, a refused
key in ``orderflow_exchange_keys``, a refused cancel on its order, the log — because it says what
went wrong. But the answer is not always the exchange's: a proxy or gateway in between (or a
debugging build of one) may echo the request it refused, headers and all, and every request
carries ours: ``POLY_API_KEY`` and ``POLY_PASSPHRASE`` in the clear, ``POLY_SIGNATURE`` (an L2
HMAC, or an L1 signature of the key's derivation, replayable while its timestamp is fresh).

:func:`exchange_text` puts the text on one line, replaces

* every credential value this process was given or derived (:func:`keep_out`: the private key,
  the API key, its secret and passphrase — wherever and in whatever case they appear), and
* the value after any header or field that names a credential (``POLY_API_KEY``,
  ``POLY_PASSPHRASE``, ``POLY_SIGNATURE``, a secret, ``Authorization``, ...: ``name: value``,
  ``name=value``, ``"name": "value"``), known or not, taken whole (a quoted or bracketed value
  to its closing quote or bracket: no stray character left, and a text redacted again comes out
  as it went in),

with ``[redacted]``, and only then cuts it to ``limit`` characters (so no cut leaves part of a
value behind its name).
"""

from __future__ import annotations

import re
from urllib.parse import quote

REDACTED = "[redacted]"
# Our credential values, as given or derived (never removed: the process's own, a handful).
_values: set[str] = set()
_known: re.Pattern[str] | None = None
# The shortest value worth looking for: a shorter one would redact ordinary words.
_MIN_VALUE = 8
# A header or field naming a credential, then its separator (``:``, ``=``; quotes, spaces), then
# its value, taken whole: a quoted value up to its closing quote (spaces and all), a bracketed
# one up to its closing bracket (``[redacted]`` itself: redacting again changes nothing), else
# up to a space, a quote, a separator of pairs, a closing bracket or the end. The first word
# after ``name: `` or ``name= `` is its value, whatever it is (a header's form: over-redacting an
# ordinary word is the lesser harm); a word after the name and a space only is not.
# ``Bearer``/``Basic`` before an Authorization's value go with it.
_ECHO = re.compile(
    r"""(?ix)
    (?P<name>
        poly[_-]?(?:api[_-]?key|passphrase|signature|secret|api[_-]?secret|api[_-]?passphrase
                   |private[_-]?key)
      | api[_-]?key | api[_-]?secret | passphrase | secret | private[_-]?key | authorization
      | x[_-]?api[_-]?key | cookie
    )
    (?P<sep>["']?\s*[:=]\s*)
    (?:
        (?P<quote>["'])(?:\\.|(?!(?P=quote))[^\\])+(?P=quote)
      | (?P<open>["']?)(?:(?:bearer|basic)\s+)?
        (?:\[[^\]]*\] | \([^)]*\) | \{[^}]*\} | [^\s"',;&}\])]+)
    )
    """
)


def _redact_echo(match: re.Match[str]) -> str:
    quote = match["quote"] or ""
    return f"{match['name']}{match['sep']}{quote or match['open']}{REDACTED}{quote}"


def keep_out(*values: str | None) -> None:
    """Credential values no text of the exchange may carry into a log or a row (the log-in's:
    the private key, the API key, secret and passphrase)."""
    global _known
    added = False
    for value in values:
        if value is None or len(value) < _MIN_VALUE:
            continue
        forms = {value, quote(value, safe=""), value.removeprefix("0x")}
        for form in forms:
            if len(form) >= _MIN_VALUE and form not in _values:
                _values.add(form)
                added = True
    if added:
        ordered = sorted(_values, key=len, reverse=True)  # the longest first: no part left
        _known = re.compile("|".join(re.escape(v) for v in ordered), re.IGNORECASE)


def exchange_text(text: str, limit: int = 300) -> str:
    """``text`` (what the exchange answered) on one line, our credentials and header echoes
    redacted, at most ``limit`` characters."""
    line = " ".join(str(text).split())
    if _known is not None:
        line = _known.sub(REDACTED, line)
    line = _ECHO.sub(_redact_echo, line)
    return line[:limit]
