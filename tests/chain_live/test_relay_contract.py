"""The LogRelay test contract: its source assembles to the committed bytecode, and it emits."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.chain_live.anvil_node import RELAY_HEX, Anvil

HERE = Path(__file__).parent / "contracts"


def _assembler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("relay_assemble", HERE / "assemble.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_source_matches_committed_bytecode() -> None:
    code = _assembler().assemble((HERE / "relay.asm").read_text())
    assert "0x" + code.hex() == RELAY_HEX


@pytest.mark.anvil
@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
async def test_relay_emits_exact_topics_and_data(anvil: Anvil, k: int) -> None:
    address = "0xe111180000d2663c0091e4f400237545b87b996b"
    topics = ["0x" + f"{i + 1:064x}" for i in range(k)]
    data = "0x" + "ab" * 37  # not a multiple of 32: copied verbatim
    await anvil.emit({"address": address, "topics": topics, "data": data})
    logs = await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    assert len(logs) == 1
    assert logs[0]["address"] == address
    assert logs[0]["topics"] == topics
    assert logs[0]["data"] == data
