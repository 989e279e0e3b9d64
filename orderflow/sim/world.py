"""Build and play one simulated world: wallets, conditions with their on-chain ids, the timeline.

Condition ids and token ids come from ``orderflow.chain.tokens`` — the very functions the
listener uses to map tokens back to markets — so a simulated fill's token id is exactly the CTF
position id of its condition and outcome.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from orderflow.chain.contracts import MAINNET, ChainAddresses
from orderflow.chain.tokens import condition_id, ctf_tokens, keccak256
from orderflow.sim.agents import Ring, Wallet, make_wallets
from orderflow.sim.config import SimConfig
from orderflow.sim.engine import DAY, Event, run
from orderflow.sim.markets import Condition, Theme, draw_theme, make_conditions

# Standard (non-neg-risk) markets need some oracle other than the NegRiskAdapter. Polymarket
# uses UMA adapters; the simulator uses an address derived from a fixed label so that nobody
# mistakes it for a real contract.
SIM_STANDARD_ORACLE = "0x" + keccak256(b"orderflow.sim standard oracle").hex()[-40:]


@dataclass(frozen=True)
class World:
    """Everything one run produced: the hidden state and the public timeline."""

    config: SimConfig
    wallets: list[Wallet]
    rings: list[Ring]
    conditions: list[Condition]
    events: list[Event]
    theme: Theme | None = None  # the common factor, when the population has one

    def oracle_of(self, c: Condition, addresses: ChainAddresses = MAINNET) -> str:
        return addresses.neg_risk_adapter if c.neg_risk else SIM_STANDARD_ORACLE


def simulate(cfg: SimConfig, addresses: ChainAddresses = MAINNET) -> World:
    """Run the simulator for ``cfg``: same config, same world."""
    rng = random.Random(cfg.seed)
    start = cfg.start_time.timestamp()
    wallets, rings = make_wallets(rng, cfg.wallets, cfg.population)
    span = cfg.days * DAY
    pop = cfg.population
    theme = draw_theme(
        rng, pop.theme_share, pop.theme_correlation, pop.theme_window_hours, start, span
    )
    conditions = make_conditions(rng, cfg.markets, cfg.neg_risk_share, start, span, theme)
    for c in conditions:
        oracle = addresses.neg_risk_adapter if c.neg_risk else SIM_STANDARD_ORACLE
        c.condition_id = condition_id(oracle, c.question_id, 2)
        tokens = ctf_tokens(
            c.condition_id, 2, neg_risk=c.neg_risk, source="sim", addresses=addresses
        )
        c.token_ids = (tokens[0].token_id, tokens[1].token_id)
    events = run(cfg, rng, wallets, rings, conditions)
    return World(cfg, wallets, rings, conditions, events, theme)
