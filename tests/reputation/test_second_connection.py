"""A full run's counterparty and COPIER evidence made on a second connection, in the run's
snapshot (:mod:`orderflow.reputation.beside`): the same stored rows as the serial run, to the
bit (a side that fails or is killed: ``test_second_connection_fails.py``).

On main a full run was one backend: ``WASH`` and the COPIER statements ran after the positions
on the same connection while the machine's second core stayed idle (issue 14)."""

from __future__ import annotations

import json

import asyncpg

from orderflow.reputation import ReputationSettings, run_reputation
from orderflow.reputation.stored_inputs import INPUTS, WASH
from tests.reputation.population import skilled_taker, wash_pair
from tests.reputation.test_copiers import _world

SERIAL = ReputationSettings(second_connection=False)
# the summary's stages timed on the second connection (orderflow.reputation.beside)
SIDE_STAGES = {"beside_rep_wash", "beside_rep_copy"}

# Every stored figure, as text (float8's text is its shortest exact form: equal text, equal
# bits; NaN equal to NaN), without the run's time stamps.
_STAMPS = "- 'computed_at' - 'updated_at' - 'last_computed_at'"
_DUMPS = {
    "stats": f"SELECT (to_jsonb(w) {_STAMPS})::text FROM orderflow_wallet_stats w ORDER BY 1",
    "read": f"""SELECT (to_jsonb(s) {_STAMPS})::text || orderflow_factors(s)::text
                   FROM orderflow_wallet_stats w
                  CROSS JOIN LATERAL orderflow_wallet_read(w) AS s ORDER BY 1""",
    "inputs": f"SELECT (to_jsonb(t) {_STAMPS})::text FROM {INPUTS} t ORDER BY 1",
    "wash": f"SELECT (to_jsonb(t) {_STAMPS})::text FROM {WASH} t ORDER BY 1",
    "issues": f"SELECT (to_jsonb(t) {_STAMPS})::text FROM orderflow_reputation_issues t ORDER BY 1",
    "history": "SELECT count(*)::text FROM orderflow_reputation_history",
}


async def _stored(pool: asyncpg.Pool) -> dict[str, list[str]]:
    return {k: [r[0] for r in await pool.fetch(q)] for k, q in _DUMPS.items()}


async def test_full_run_beside_stores_the_serial_runs_rows(pool: asyncpg.Pool) -> None:
    w, *_ = _world(seed=83)
    for who in (w.new_wallet() for _ in range(12)):
        skilled_taker(w, who, int(w.rng.uniform(5, 15)), w.rng.random(), usd=150.0)
    wash_pair(w, w.new_wallet(), w.new_wallet(), 6)
    wash_pair(w, w.new_wallet(), w.new_wallet(), 4, usd=300.0)
    await w.finish(pool)

    serial = await run_reputation(pool, settings=SERIAL, full=True)
    assert not SIDE_STAGES & set(serial.stages), serial.stages
    before = await _stored(pool)
    # the world exercises both: a COPIER flagged, wash figures stored
    assert any('"COPIER"' in r for r in before["stats"]), before["stats"]
    assert any(json.loads(r)["wash_share"] > 0 for r in before["inputs"]), before["inputs"]
    assert before["wash"]

    side = await run_reputation(pool, full=True)
    assert set(side.stages) >= SIDE_STAGES, side.stages  # made on the second connection
    assert not side.skipped and side.wallets == serial.wallets
    after = await _stored(pool)
    for k in _DUMPS:
        assert after[k] == before[k], k  # nothing rewritten, no history row added

    # and back: the serial run after the side's finds nothing to change either
    await run_reputation(pool, settings=SERIAL, full=True)
    assert await _stored(pool) == before
