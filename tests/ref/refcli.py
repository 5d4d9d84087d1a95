"""refcli.py - the command line the seeded references share (corrections_ref.py, resample_ref.py,
partitioned_ref.py, versioned_ref.py): `gen SEED OUT` writes the data, `compare FILE... [-q]`
prints the comparison as "ok - ..." / "not ok - ..." lines (tests/lib.sh's tap_relay reads them;
-q: none) and exits 0 only if every one is ok."""
import sys


def report(results, quiet):
    """Prints the (ok, what) pairs as TAP lines unless quiet; True if every one is ok."""
    if not quiet:
        for ok, what in results:
            print("%s - %s" % ("ok" if ok else "not ok", what))
    return all(ok for ok, _ in results)


def main(doc, gen, compare, nfiles, **more):
    """Runs gen(SEED, OUT) or exits with compare(FILE_1, ..., FILE_nfiles, quiet) (True: 0), or
    with another comparison named in more (NAME=(function, nfiles)); anything else: the usage
    (doc)."""
    cmds = dict(more, compare=(compare, nfiles))
    if sys.argv[1:2] == ["gen"]:
        gen(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] in cmds:
        fn, n = cmds[sys.argv[1]]
        sys.exit(0 if fn(*sys.argv[2:2 + n], quiet="-q" in sys.argv) else 1)
    else:
        sys.exit(doc)
