"""The wallets statement, put together from its parts (``orderflow.reputation.decisions_sql``,
``orderflow.reputation.wallet_sums_sql``), is the text main's one-piece statement was: the SQL
PostgreSQL receives did not change when the module was split (session 44).

The hash is that of ``evidence_sql.WALLETS`` on main at fab3659, computed once and written here. A
deliberate change to the statement (or to a fragment it includes: ``HEDGED_CTES``, the accounting
fragments) changes it: then write the new hash, saying why in the commit."""

from __future__ import annotations

import hashlib

from orderflow.reputation.evidence_sql import WALLETS

_MAIN_SHA256 = "62c1d5e6260e69921a6726f82d8ac34ecc2c13156acda3d7f67013be3d00f256"


def test_wallets_statement_is_mains_text() -> None:
    assert hashlib.sha256(WALLETS.encode()).hexdigest() == _MAIN_SHA256
