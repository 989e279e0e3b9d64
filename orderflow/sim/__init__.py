"""A seeded, agent-based Polymarket: chain logs as the contracts emit them, plus the hidden truth.

Pipeline (each step a small module):

* ``config``  — :class:`SimConfig`, validated input (seed, sizes, exchange generation);
* ``agents``  — wallets with hidden skill, bankroll, activity and style;
* ``markets`` — binary and neg-risk conditions, true probabilities, flow-driven prices;
* ``engine``  — the event loop: decisions, matches against market makers, resolutions;
* ``world``   — wires them together and computes on-chain ids (``orderflow.chain.tokens``);
* ``emit``    — blocks, transactions and raw JSON-RPC logs (``orderflow.chain.encode``);
* ``truth``   — the hidden truth file; ``quality`` — score against hidden skill.
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
