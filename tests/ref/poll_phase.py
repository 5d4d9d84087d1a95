"""poll_phase.py - an independent recomputation of http_poll's phase (http_poll_sched.c's
hp_phase: util.h's spate_hash - FNV-1a 64 of the coordinate id, then MurmurHash3's 64-bit
finalizer - modulo every), so tests can tell from a request log whether each poll was at its
coordinate's own slot (phase + k * every)."""

M = (1 << 64) - 1


def phase(cid, every_ms):
    h = 0xcbf29ce484222325
    for b in cid.encode():
        h = ((h ^ b) * 1099511628211) & M
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & M
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & M
    h ^= h >> 33
    return h % every_ms
