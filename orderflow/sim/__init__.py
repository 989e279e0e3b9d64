"""A seeded, agent-based Polymarket: chain logs as the contracts emit them, plus the hidden truth.

Pipeline (each step a small module; docs/simulator.md describes the model and its parameters):

* ``config``   — :class:`SimConfig`, validated input (seed, sizes, exchange generation);
* ``population`` — the mix of wallets and how the trap archetypes behave (default: the above);
* ``agents``   — wallets: a style (how they trade) and a skill (what they know), independent;
* ``markets``  — binary and neg-risk conditions, hidden probabilities that are martingales;
* ``book``     — one order book per condition, matched the way the CLOB matches;
* ``exchange`` — market makers' quotes, matching, splits/merges/conversions, settlement;
* ``traders``  — takers' and wash rings' decisions;
* ``engine``   — the event loop;
* ``world``    — wires them together and computes on-chain ids (``orderflow.chain.tokens``);
* ``emit``     — blocks, transactions and raw JSON-RPC logs (``orderflow.chain.encode``,
  ``orderflow.chain.encode_ctf``);
* ``truth``    — the hidden truth file; ``quality`` — score against hidden skill.
"""

from orderflow.sim.config import SimConfig
from orderflow.sim.quality import ScoredWallet, ScoreQuality, score_quality, spearman
from orderflow.sim.truth import Truth, read_truth, truth_of, write_truth
from orderflow.sim.world import World, simulate

__all__ = [
    "ScoreQuality",
    "ScoredWallet",
    "SimConfig",
    "Truth",
    "World",
    "read_truth",
    "score_quality",
    "simulate",
    "spearman",
    "truth_of",
    "write_truth",
]
