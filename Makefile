# Makefile - builds bin/spate, installs missing Debian packages, runs tests and benchmarks.
#
#   make            build bin/spate
#   make deps       install the Debian packages spate needs (only those missing)
#   make test       deps + build + every unit and integration test
#   make asan       the same suite under AddressSanitizer/UBSan (build in build/asan)
#   make fuzz       each libFuzzer target of tests/fuzz for its budget or FUZZ_SECONDS (clang, build/fuzz)
#   make run        the flagship demo on the embedded broker
#   make bench      benchmarks on the embedded broker

PKGS      := rdkafka libcurl rocksdb avro-c yaml-0.1 jansson libmicrohttpd geos sqlite3 libpq libmosquitto
DEB_PKGS  := build-essential pkg-config librdkafka-dev libcurl4-openssl-dev librocksdb-dev \
             libavro-dev libyaml-dev libjansson-dev libmicrohttpd-dev libgeos-dev \
             libsqlite3-dev libpq-dev postgresql \
             libmosquitto-dev mosquitto mosquitto-clients \
             python3 python3-confluent-kafka python3-shapely python3-prometheus-client python3-websocket python3-avro \
             chromium \
             docker-compose clang libclang-rt-14-dev gdb
PY        := /usr/bin/python3

BUILD     ?= build
BIN       ?= bin
SANITIZER ?=

CC        ?= cc
OPT       ?= -O2
CFLAGS    += -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -MMD -MP
CFLAGS    += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -ldl -lpthread -lstdc++
ifneq ($(SANITIZER),)
# float-cast-overflow is not part of GCC's "undefined": out-of-range double -> int casts are UB too.
CFLAGS    += -fsanitize=$(SANITIZER),undefined,float-cast-overflow -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined,float-cast-overflow
LDFLAGS   += -fsanitize=$(SANITIZER),undefined,float-cast-overflow
endif
CFLAGS    += $(EXTRA_CFLAGS)
CXXFLAGS  += -std=c++17 $(OPT) -g -Wall -Wextra -Werror -MMD -MP $(filter -fsanitize% -fno-%,$(CFLAGS))
# UBSan's vptr check needs the C++ runtime of the sanitizer, which clang links only when it
# links as clang++; the bridge has no class of its own to check.
CXXFLAGS  += $(if $(SANITIZER),-fno-sanitize=vptr)

# The parts of spate, one folder each (README "Layout"); a multi-file operator or
# connector has its own folder below operators/ or connectors/.
SRC_DIRS  := engine state expr serde geo util sim operators operators/window connectors \
             connectors/http_poll connectors/sql connectors/mqtt connectors/table
LIB_SRC   := $(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)) $(filter-out cli/main.c,$(wildcard cli/*.c))
# state/store_cfs.cc is the one C++ file: a RocksDB call the C API lacks (its header says why).
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/state/store_cfs.o
MAIN_OBJ  := $(BUILD)/cli/main.o
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
# The test driver (tests/driver/driver.h): linked into unit tests, not into spate.
DRIVER_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/driver/*.c))
.SECONDARY: $(DRIVER_OBJ)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_SRC  := $(wildcard tests/fuzz/*.c)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
# The fuzz targets and the library under them, built by clang with libFuzzer, ASan and UBSan.
# Two clang-only warnings are off there: `{ NULL }` table terminators, and avro-c's
# accessor macros (whose NULL-method branch never runs for generic values).
FUZZ_MAKE  = $(MAKE) BUILD=build/fuzz BIN=build/fuzz/bin CC=clang CXX=clang++ SANITIZER=fuzzer-no-link,address \
             OPT=-O1 EXTRA_CFLAGS="-Wno-missing-field-initializers -Wno-sometimes-uninitialized" fuzzers

.PHONY: all deps test asan fuzz fuzzers run bench clean check-deps

all: $(BIN)/spate

$(BIN)/spate: $(MAIN_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ) $(DRIVER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS)

# It runs topologies through the test driver.
$(BUILD)/bench/driver_instr: $(DRIVER_OBJ)

# It restores a store from a changelog through the test driver.
$(BUILD)/fuzz/kv_restore: $(DRIVER_OBJ)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -fsanitize=fuzzer -o $@ $(filter %.c %.o,$^) $(LDLIBS)

fuzzers: $(FUZZ_BIN)

# The live map page is assembled into the binary (.incbin), which -MMD does not see.
$(BUILD)/cli/map_page.o: web/map.html

# Installs only when something is missing, so a configured machine never needs root.
deps:
	@if pkg-config --exists $(PKGS) && command -v cc >/dev/null && command -v docker-compose >/dev/null && \
	    clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null | grep -q / && \
	    command -v chromium >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && \
	    test -x /usr/sbin/mosquitto && command -v mosquitto_sub >/dev/null && command -v gdb >/dev/null && \
	    $(PY) -c 'import confluent_kafka, shapely, prometheus_client, websocket, avro' 2>/dev/null; then :; else \
	  echo "make deps: installing $(DEB_PKGS)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_PKGS) >/dev/null; fi

tests: $(BIN)/spate $(UNIT_BIN) $(BENCH_BIN)

test: deps
	$(MAKE) tests
	$(FUZZ_MAKE)
	SPATE_BIN=$(abspath $(BIN)/spate) SPATE_TEST_BIN=$(abspath $(BUILD)/tests) \
	SPATE_FUZZ_BIN=$(abspath build/fuzz/fuzz) tests/run.sh $(T)

asan: deps
	$(MAKE) BUILD=build/asan BIN=build/asan/bin SANITIZER=address OPT=-O1 tests
	$(FUZZ_MAKE)
	SPATE_FUZZ_BIN=$(abspath build/fuzz/fuzz) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	SPATE_BIN=$(abspath build/asan/bin/spate) SPATE_TEST_BIN=$(abspath build/asan/tests) \
	SPATE_ASAN=1 tests/run.sh $(T)

# Runs the targets (FUZZ_TARGETS, default all) one after another, each for its budget
# (tests/fuzz/lib.sh) or FUZZ_SECONDS, and prints execs per target.
fuzz: deps
	$(FUZZ_MAKE)
	$(if $(FUZZ_SECONDS),FUZZ_SECONDS=$(FUZZ_SECONDS)) tests/fuzz/run.sh $(abspath build/fuzz/fuzz) $(FUZZ_TARGETS)

bench: deps
	$(MAKE) all $(BENCH_BIN)
	SPATE_BIN=$(abspath $(BIN)/spate) SPATE_BENCH_BIN=$(abspath $(BUILD)/bench) bench/run.sh

run: deps
	$(MAKE) all
	scripts/run-demo.sh

clean:
	rm -rf $(BUILD) $(BIN)

-include $(LIB_OBJ:.o=.d) $(DRIVER_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_BIN:=.d) $(BENCH_BIN:=.d) $(FUZZ_BIN:=.d)
