# lib.sh - how a libFuzzer target of tests/fuzz runs, shared by tests/fuzz/run.sh
# (make fuzz) and tests/integration/0030-fuzz.sh (make test). Source it from
# the repository root.
#
# fuzz_target BINDIR TARGET ARGS...: runs the target with its dictionary
# (tests/fuzz/TARGET.dict) and with leaks and every sanitizer report fatal,
# except the known leaks that TARGET.lsan suppresses (each file says which, and
# goes once they are fixed). Relative paths in ARGS are fine: it runs from the
# repository root.
fuzz_target() {
        local bindir=$1 t=$2; shift 2
        local dict=() lsan=
        [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
        local asan=detect_leaks=1
        # A suppression names a frame below a library without frame pointers
        # (libavro): only the slow unwinder gets past that library to it.
        [ -f "tests/fuzz/$t.lsan" ] && lsan=suppressions=$PWD/tests/fuzz/$t.lsan asan=$asan:fast_unwind_on_malloc=0
        ASAN_OPTIONS=$asan LSAN_OPTIONS=$lsan \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
                "$bindir/$t" -timeout=10 -rss_limit_mb=2048 "${dict[@]}" "$@"
}

# The seconds `make fuzz` gives target $1: enough for 1 M execs on this
# project's 2-core machine with other jobs running (README "Fuzzing" has the
# measured rates: under a load of 13 expr, avro and onecall_query ran at a
# third of their idle rates).
fuzz_budget() {
        case $1 in
        topology) echo 960;;
        onecall_query) echo 720;;
        expr) echo 540;;
        avro) echo 420;;
        geojson) echo 300;;
        sql_cell) echo 180;;
        *) echo 90;;
        esac
}

# The targets: one per tests/fuzz/*.c.
fuzz_targets() {
        local f
        for f in tests/fuzz/*.c; do basename "$f" .c; done
}

# The count libFuzzer's -print_final_stats=1 printed into log $1 for stat $2.
fuzz_stat() {
        sed -n "s/^stat::$2: *//p" "$1" | tail -1
}
