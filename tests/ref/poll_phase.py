"""poll_phase.py - an independent recomputation of http_poll's phase (http_poll_sched.c's
hp_phase: FNV-1a 64 of the coordinate id, a final mix, modulo every), so tests can tell from a
request log whether each poll was at its coordinate's own slot (phase + k * every)."""

M = (1 << 64) - 1


def phase(cid, every_ms):
    h = 1469598103934665603
    for b in cid.encode():
        h = ((h ^ b) * 1099511628211) & M
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & M
    h ^= h >> 33
    return h % every_ms
