; LogRelay: a contract that emits whatever log its caller asks for.
;
; The tests install this runtime code (anvil_setCode) at the REAL Polymarket exchange and
; ConditionalTokens addresses, then call it to emit the real event signatures with chosen values,
; so the listener sees logs from the right address with the real topic0s and ABI data.
;
; calldata layout (all words 32 bytes):
;   word 0         k: number of topics, 0..4 (anything else reverts)
;   words 1..k     topic0 .. topic(k-1)
;   the rest       the log's data, copied verbatim (any length)
;
; Assembled by assemble.py (same folder) into relay.hex; test_relay_contract.py checks the two
; agree. Stack comments list the top of the stack first.

        PUSH1 0x00
        CALLDATALOAD            ; [k]
        DUP1                    ; [k k]
        PUSH1 0x05
        SHL                     ; [32k k]
        PUSH1 0x20
        ADD                     ; [off k]          off = where the data starts
        DUP1                    ; [off off k]
        CALLDATASIZE            ; [cds off off k]
        SUB                     ; [len off k]      len = calldatasize - off
        DUP1                    ; [len len off k]
        SWAP2                   ; [off len len k]
        PUSH1 0x00              ; [0 off len len k]
        CALLDATACOPY            ; [len k]          memory[0:len] = data
        SWAP1                   ; [k len]
        DUP1
        PUSH1 0x00
        EQ
        PUSH2 @log0
        JUMPI                   ; k == 0 -> log0
        DUP1
        PUSH1 0x01
        EQ
        PUSH2 @log1
        JUMPI
        DUP1
        PUSH1 0x02
        EQ
        PUSH2 @log2
        JUMPI
        DUP1
        PUSH1 0x03
        EQ
        PUSH2 @log3
        JUMPI
        DUP1
        PUSH1 0x04
        EQ
        PUSH2 @log4
        JUMPI
        PUSH1 0x00
        DUP1
        REVERT                  ; k > 4: refuse

log0:   JUMPDEST
        POP                     ; [len]
        PUSH1 0x00              ; [0 len]
        LOG0
        STOP

log1:   JUMPDEST
        POP                     ; [len]
        PUSH1 0x20
        CALLDATALOAD            ; [t0 len]
        DUP2                    ; [len t0 len]
        PUSH1 0x00              ; [0 len t0 len]
        LOG1
        STOP

log2:   JUMPDEST
        POP
        PUSH1 0x40
        CALLDATALOAD            ; [t1 len]
        PUSH1 0x20
        CALLDATALOAD            ; [t0 t1 len]
        DUP3
        PUSH1 0x00              ; [0 len t0 t1 len]
        LOG2
        STOP

log3:   JUMPDEST
        POP
        PUSH1 0x60
        CALLDATALOAD            ; [t2 len]
        PUSH1 0x40
        CALLDATALOAD            ; [t1 t2 len]
        PUSH1 0x20
        CALLDATALOAD            ; [t0 t1 t2 len]
        DUP4
        PUSH1 0x00              ; [0 len t0 t1 t2 len]
        LOG3
        STOP

log4:   JUMPDEST
        POP
        PUSH1 0x80
        CALLDATALOAD            ; [t3 len]
        PUSH1 0x60
        CALLDATALOAD            ; [t2 t3 len]
        PUSH1 0x40
        CALLDATALOAD            ; [t1 t2 t3 len]
        PUSH1 0x20
        CALLDATALOAD            ; [t0 t1 t2 t3 len]
        DUP5
        PUSH1 0x00              ; [0 len t0 t1 t2 t3 len]
        LOG4
        STOP
