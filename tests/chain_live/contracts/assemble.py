"""A tiny EVM assembler for relay.asm: mnemonics, ``label:`` definitions and ``PUSH2 @label``.

Only the opcodes the relay uses are known. ``python assemble.py relay.asm`` prints the runtime
bytecode as 0x-hex (what relay.hex holds).
"""

from __future__ import annotations

import sys
from pathlib import Path

OPCODES = {
    "STOP": 0x00,
    "ADD": 0x01,
    "SUB": 0x03,
    "EQ": 0x14,
    "SHL": 0x1B,
    "CALLDATALOAD": 0x35,
    "CALLDATASIZE": 0x36,
    "CALLDATACOPY": 0x37,
    "POP": 0x50,
    "JUMPI": 0x57,
    "JUMPDEST": 0x5B,
    "PUSH1": 0x60,
    "PUSH2": 0x61,
    **{f"DUP{n}": 0x7F + n for n in range(1, 17)},
    **{f"SWAP{n}": 0x8F + n for n in range(1, 17)},
    **{f"LOG{n}": 0xA0 + n for n in range(5)},
    "REVERT": 0xFD,
}


def _tokens(source: str) -> list[tuple[str | None, str, str | None]]:
    """(label, mnemonic, argument) per instruction."""
    out: list[tuple[str | None, str, str | None]] = []
    for raw in source.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        label = None
        if ":" in line:
            label, line = (part.strip() for part in line.split(":", 1))
        parts = line.split()
        out.append((label, parts[0].upper(), parts[1] if len(parts) > 1 else None))
    return out


def assemble(source: str) -> bytes:
    tokens = _tokens(source)
    labels: dict[str, int] = {}
    pc = 0
    for label, op, _arg in tokens:
        if label:
            labels[label] = pc
        pc += 1 + (OPCODES[op] - 0x5F if op.startswith("PUSH") else 0)
    code = bytearray()
    for _label, op, arg in tokens:
        code.append(OPCODES[op])
        if op.startswith("PUSH"):
            width = OPCODES[op] - 0x5F
            assert arg is not None, f"{op} needs an argument"
            value = labels[arg[1:]] if arg.startswith("@") else int(arg, 0)
            code += value.to_bytes(width, "big")
    return bytes(code)


if __name__ == "__main__":
    print("0x" + assemble(Path(sys.argv[1]).read_text()).hex())
