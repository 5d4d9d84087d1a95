#!/usr/bin/python3
"""winlayout.py - what a window's changelog would carry under each candidate layout of the
window on the engine's stores (docs/stores.md, "How the window moves onto it", step 4).

  winlayout.py DUMP.bin...     files of kafka_tool.py dump (window changelogs; other topics
                               are reported as skipped)

A window changelog holds, per commit, the entries that commit changed - key (group, start
[, 'B' for a sliding window's bucket]), value the entry or null - and then the meta record
that closes it. The file is replayed commit by commit, partition by partition:

  entry layout   what the window writes today, and what a key-value store keyed by (group,
                 start) would write: each changed entry, key and value; the records counted.
  group layout   one value per group: every group a commit touched is written whole, as it is
                 after the commit - all its live entries (open windows, closed markers kept
                 for retention, buckets), each as start (8), bucket flag (1), length (4) and
                 the entry's value - under the group's key; a group left empty, a tombstone.

The meta records are the same under both and are left out. Records after a partition's last
meta record (a commit a crash cut) are not counted. Prints one line per changelog and the
ratio group / entry of bytes and of records.
"""
import os
import struct
import sys

META = b"meta"


def records(path):
    """(partition, key, value) of a dump file, in its order."""
    with open(path, "rb") as f:
        data = f.read()
    i = 0

    def field():
        nonlocal i
        (n,) = struct.unpack_from(">I", data, i)
        i += 4
        if n == 0xffffffff:
            return None
        b = data[i:i + n]
        i += n
        return b
    while i < len(data):
        part, _ = struct.unpack_from(">IQ", data, i)
        i += 12
        key = field()
        yield part, key, field()


def entry_key(key):
    """(group, start, bucket) of a window entry key, or None."""
    for bucket in (0, 1):
        k = key[:-1] if bucket else key
        if bucket and not key.endswith(b"B"):
            return None
        if len(k) < 12:
            continue
        (glen,) = struct.unpack_from(">I", k, 0)
        if len(k) == glen + 12:
            return k[4:4 + glen], struct.unpack_from(">q", k, 4 + glen)[0], bucket
    return None


class Layouts:
    def __init__(self):
        self.groups = {}          # (partition, group) -> {(start, bucket): value length}
        self.touched = {}         # partition -> groups of its open commit
        self.pending = {}         # partition -> (entry bytes, entry records) of its open commit
        self.entry_bytes = self.entry_records = 0
        self.group_bytes = self.group_records = 0
        self.commits = self.cut = 0
        self.widest = 0           # most entries a written group held

    def add(self, part, key, value):
        """False when key is neither meta nor a window entry key."""
        if key == META:
            self.close(part)
            return True
        ek = entry_key(key) if key is not None else None
        if ek is None:
            return False
        group, start, bucket = ek
        g = self.groups.setdefault((part, group), {})
        if value is None:
            g.pop((start, bucket), None)
        else:
            g[(start, bucket)] = len(value)
        self.touched.setdefault(part, set()).add(group)
        b, n = self.pending.get(part, (0, 0))
        self.pending[part] = (b + len(key) + (len(value) if value is not None else 0), n + 1)
        return True

    def close(self, part):
        b, n = self.pending.pop(part, (0, 0))
        self.entry_bytes += b
        self.entry_records += n
        self.commits += 1
        for group in self.touched.pop(part, ()):
            live = self.groups.get((part, group), {})
            self.group_bytes += 4 + len(group) + sum(13 + v for v in live.values())
            self.group_records += 1
            self.widest = max(self.widest, len(live))
            if not live:
                self.groups.pop((part, group), None)

    def finish(self):
        self.cut = sum(n for _, n in self.pending.values())


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("%-52s %7s %9s %11s %9s %11s %6s %6s %6s" % (
        "changelog", "commits", "entry rec", "entry bytes", "group rec", "group bytes",
        "bytes", "recs", "widest"))
    for path in sys.argv[1:]:
        name = os.path.basename(os.path.dirname(path)) + "/" + os.path.basename(path)[:-4]
        lay = Layouts()
        foreign = 0
        for part, key, value in records(path):
            if not lay.add(part, key, value):
                foreign += 1
        lay.finish()
        if not lay.entry_records or foreign > lay.entry_records:
            print("%-52s skipped: %d of its records are no window entries" % (name, foreign))
            continue
        print("%-52s %7d %9d %11d %9d %11d %5.2fx %5.2fx %6d%s" % (
            name, lay.commits, lay.entry_records, lay.entry_bytes, lay.group_records,
            lay.group_bytes, lay.group_bytes / lay.entry_bytes,
            lay.group_records / lay.entry_records, lay.widest,
            "  (%d foreign, %d cut)" % (foreign, lay.cut) if foreign or lay.cut else ""))


if __name__ == "__main__":
    main()
