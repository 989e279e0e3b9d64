"""The growth benchmark's chain: endless, deterministic Polymarket trading, block by block
(``benchmarks/log_mix.py``'s block of trading, with wallets and markets that come and go)."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from typing import Any

from log_mix import T0, WEIGHTS, _h, prepare_market, trading_block, v3_market

from orderflow.chain import contracts as c
from orderflow.chain.encode import LogPosition, encode_condition_resolution

FILL_TOPICS = frozenset((c.TOPIC_ORDER_FILLED_V1, c.TOPIC_ORDER_FILLED_V2))
FIRST_BLOCK = 70_000_000
CROWD = 64  # recent traders remembered per market
_ADDRESS_MASK = (1 << 160) - 1
_ADDRESS_MULT = 0x9E3779B97F4A7C15F39CC0605CEDC8341082276B  # odd: i -> address is one-to-one


def _address(i: int) -> str:
    return f"0x{(i * _ADDRESS_MULT + 1) & _ADDRESS_MASK:040x}"


class GrowingChain:
    """An endless, deterministic chain of Polymarket trading, generated block by block.

    Wallets: ``max(1000, fills / fills_per_wallet)`` exist at any time, each fill's wallets drawn
    uniformly from them (the early ones accumulate more history, as on the real chain), except
    that with probability ``repeat`` a fill goes to one of the market's recent traders instead
    (a wallet trades a market several times: about 2 fills per (wallet, token)). Markets:
    ``active`` binary CTF markets trade at once; every ``fills_per_market`` fills a new one is
    prepared and the oldest resolves (its ConditionResolution in the same block), so by N fills
    about N / fills_per_market markets are resolved. V3 markets (no resolution events) rotate at
    the same pace, half as many.
    """

    def __init__(
        self,
        *,
        seed: int,
        fills_per_wallet: int,
        fills_per_market: int,
        active: int,
        repeat: float = 0.7,
    ) -> None:
        if active < 3:
            raise ValueError("at least 3 active markets (one of each kind)")
        self.rng = random.Random(seed)
        self.repeat = repeat
        self.fills_per_wallet = fills_per_wallet
        self.fills_per_market = fills_per_market
        self.active = active
        self.block = FIRST_BLOCK
        self.fills = 0  # OrderFilled logs generated so far (each is one row of orderflow_trades)
        self.logs = 0
        self.markets_prepared = 0
        self.markets_resolved = 0
        self._kinds: dict[str, list[tuple[int, int]]] = {"std": [], "neg": [], "v3": []}
        self._open: deque[tuple[str, tuple[int, int], tuple[str, str, str], int]] = deque()
        self._v3: deque[tuple[int, int]] = deque()
        self._next_market = fills_per_market
        self._wallets = 1000
        self._market: tuple[int, int] = (0, 0)
        self._crowds: dict[tuple[int, int], deque[int]] = {}  # recent traders of open markets

    @property
    def wallets(self) -> int:
        """Wallets that may trade now (the fills so far / fills_per_wallet, at least 1,000)."""
        return self._wallets

    def _pick_market(self, kind: str) -> tuple[int, int]:
        self._market = self.rng.choice(self._kinds[kind])
        return self._market

    def _pick_wallet(self) -> str:
        """A wallet for the market just picked: one of its recent traders with probability
        ``repeat``, else any wallet (who joins them): wallets come back to their markets."""
        crowd = self._crowds.setdefault(self._market, deque(maxlen=CROWD))
        if crowd and self.rng.random() < self.repeat:
            return _address(self.rng.choice(crowd))
        i = self.rng.randrange(self._wallets)
        crowd.append(i)
        return _address(i)

    def _market_logs(self, block_hash: str, ts: int, count: int) -> list[dict[str, Any]]:
        """``count`` new markets, each retiring the oldest open one once ``active`` are open."""
        logs: list[dict[str, Any]] = []
        rng = self.rng
        for _ in range(count):
            i = self.markets_prepared
            at = LogPosition(self.block, block_hash, _h(rng), len(logs), ts)

            def position(at: LogPosition = at) -> LogPosition:
                return at

            kind, tokens, condition, log = prepare_market(rng, i, position)
            self._kinds[kind].append(tokens)
            self._open.append((kind, tokens, condition, i))
            logs.append(log)
            self.markets_prepared += 1
            if i % 2 == 0:
                self._v3.append(v3_market(rng, i // 2))
                self._kinds["v3"].append(self._v3[-1])
            if len(self._open) > self.active:
                old_kind, old_tokens, (cid, oracle, question), j = self._open.popleft()
                self._kinds[old_kind].remove(old_tokens)
                self._crowds.pop(old_tokens, None)
                logs.append(
                    encode_condition_resolution(
                        at=LogPosition(self.block, block_hash, _h(rng), len(logs), ts),
                        condition_id=cid,
                        oracle=oracle,
                        question_id=question,
                        payout_numerators=[1, 0] if j % 2 else [0, 1],
                    )
                )
                self.markets_resolved += 1
            if len(self._v3) > self.active // 2:
                retired = self._v3.popleft()
                self._kinds["v3"].remove(retired)
                self._crowds.pop(retired, None)
        return logs

    def until(self, fills: int) -> Iterator[dict[str, Any]]:
        """Raw logs, whole blocks, until at least ``fills`` fills have been generated."""
        rng = self.rng
        while self.fills < fills:
            self.block += 1
            block_hash = _h(rng)
            ts = T0 + 2 * (self.block - FIRST_BLOCK)
            new = self.active if self.markets_prepared == 0 else 0
            while self.fills >= self._next_market:
                new += 1
                self._next_market += self.fills_per_market
            head = self._market_logs(block_hash, ts, new) if new else []
            self._wallets = max(self._wallets, self.fills // self.fills_per_wallet)
            trades = trading_block(
                rng,
                LogPosition(self.block, block_hash, "", len(head), ts),
                WEIGHTS,
                self._pick_market,
                self._pick_wallet,
            )
            self.fills += sum(1 for log in trades if log["topics"][0] in FILL_TOPICS)
            self.logs += len(head) + len(trades)
            yield from head
            yield from trades
