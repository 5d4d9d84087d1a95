/* kv_restore.c - fuzzes a store's restore from its changelog (state/kv.c,
 * state/wkv.c): the input is cut into changelog records (a flags byte, bit 0
 * a tombstone; the key's length, one byte; the value's, two bytes little
 * endian; the bytes), which go to the changelog of `dedupe`'s windowed store;
 * an instance without a state directory restores from them alone, then
 * processes and commits two records. A changelog is spate's own writing, but
 * on a topic anything can produce to, or that another version wrote: what it
 * holds must end in a restore or in an error, never in a crash or a leak. The
 * corpus holds changelogs the driver wrote for 4, 9 and 30 records. */
#include "fuzz.h"
#include "../driver/driver.h"

#define T0 1700000000000LL

static const char yaml[] =
        "application: fz\n"
        "settings:\n  commit_interval: 1s\n"
        "nodes:\n"
        "  - name: in\n    type: kafka_source\n    topic: fz.in\n    partitions: 1\n    time: t\n"
        "  - name: dd\n    type: dedupe\n    from: in\n    key: id\n    within: 10s\n"
        "  - name: out\n    type: kafka_sink\n    from: dd\n    topic: fz.out\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char err[512];
        fuzz_quiet();
        spate_driver_t *d = spate_driver_new(yaml, T0, err, sizeof(err));
        if (!d)
                abort();
        for (size_t at = 0; size - at >= 4;) {
                size_t kl = data[at + 1], vl = (size_t)data[at + 2] | (size_t)data[at + 3] << 8;
                int tombstone = data[at] & 1;
                at += 4;
                if (kl + vl > size - at)
                        break;
                spate_driver_pipe_bytes(d, "fz-dd-seen-changelog", 0, data + at, kl,
                                        tombstone ? NULL : data + at + kl, vl, T0);
                at += kl + vl;
        }
        if (spate_driver_crash(d, 0, err, sizeof(err)) == 0 && spate_driver_assign(d) == 0) {
                spate_driver_pipe(d, "fz.in", 0, "a", "{\"id\":\"i1\",\"t\":1700000000000}", T0);
                spate_driver_pipe(d, "fz.in", 0, "b", "{\"id\":\"i1\",\"t\":1700000003000}", T0 + 3000);
                spate_driver_process(d);
                spate_driver_commit(d, SPATE_DRIVER_COMMIT_ALL);
        }
        spate_driver_destroy(d);
        return 0;
}
