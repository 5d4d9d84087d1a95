#!/usr/bin/env bash
# 0610-compose-config.sh - compose/ without a Docker engine: `docker-compose config` (Debian's
# 1.29) validates compose/docker-compose.yml, and the parsed config is checked against what the
# topologies need: Kafka in KRaft mode, every topic they read or write created (compacted where
# they say so, with their partition counts), the environment they read, a scalable spate service.
# The Dockerfile's runtime packages are checked against the libraries bin/spate links.
. "$SPATE_ROOT/tests/lib.sh"
cd "$SPATE_ROOT"
DC=$(command -v docker-compose || true)

# The Dockerfile's runtime list must cover every shared library bin/spate needs (libc aside).
missing=""
for so in $(readelf -d "$SPATE_BIN" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
        path=$(ldconfig -p | awk -v so="$so" '$1 == so { print $NF; exit }')
        pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(realpath "$path")" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null)
        pkg=${pkg%%:*}
        case $pkg in libc6|libasan*|libubsan*|"") continue;; esac  # libc; `make asan`'s sanitizers
        # a whole word of the file, taken literally (libstdc++6 has regex characters)
        tr -s ' \t\\' '\n\n\n' <compose/Dockerfile | grep -qxF -- "$pkg" || missing="$missing $pkg($so)"
done
check "compose/Dockerfile installs the runtime package of every library bin/spate links${missing:+ (missing:$missing)}" [ -z "$missing" ]
pkgs=$(make -s --no-print-directory --eval 'print-deb-pkgs: ; @echo $(DEB_PKGS)' print-deb-pkgs)
check "the Dockerfile's way of reading DEB_PKGS from the Makefile works ($pkgs)" \
        bash -c "grep -q librdkafka-dev <<<'$pkgs' && grep -q 'print-deb-pkgs' compose/Dockerfile"

if [ -z "$DC" ]; then
        skip "docker-compose config -q" "docker-compose not installed"
        skip "compose services checked against the topologies" "docker-compose not installed"
        exit 0
fi
if "$DC" -f compose/docker-compose.yml config -q 2>"$TMP/dc.err"; then
        ok "docker-compose -f compose/docker-compose.yml config -q"
else
        nok "docker-compose config -q: $(head -3 "$TMP/dc.err")"
fi
"$DC" -f compose/docker-compose.yml config >"$TMP/config.yml" 2>"$TMP/dc.err"
# Debian's docker-compose depends on python3-yaml, so /usr/bin/python3 can parse its output.
$PY - "$TMP/config.yml" topology/rain_next_hour.yaml topology/region_hourly.yaml >"$TMP/checks.txt" 2>&1 <<'PY' || nok "the Python checks ran ($(tail -1 "$TMP/checks.txt"))"
import re, shlex, sys, yaml

cfg = yaml.safe_load(open(sys.argv[1]))
svc = cfg["services"]

def report(cond, what):
    print(("ok " if cond else "not ok ") + what)

def env(name):
    e = svc[name].get("environment") or {}
    return e if isinstance(e, dict) else dict(x.split("=", 1) for x in e)

def cmd(name):
    c = svc[name].get("command") or []
    return " ".join(c) if isinstance(c, list) else c

k = env("kafka")
report(svc["kafka"]["image"].startswith("apache/kafka:"), "kafka runs the official apache/kafka image (%s)" % svc["kafka"]["image"])
roles = set(str(k.get("KAFKA_PROCESS_ROLES", "")).split(","))
report(roles == {"broker", "controller"}, "KRaft: one combined broker+controller node (KAFKA_PROCESS_ROLES=%s)" % k.get("KAFKA_PROCESS_ROLES"))
node = str(k.get("KAFKA_NODE_ID"))
voters = str(k.get("KAFKA_CONTROLLER_QUORUM_VOTERS", ""))
ctl = str(k.get("KAFKA_CONTROLLER_LISTENER_NAMES", ""))
listeners = str(k.get("KAFKA_LISTENERS", ""))
m = re.match(r"(\d+)@([\w.-]+):(\d+)$", voters)
report(m and m.group(1) == node and ("%s://:%s" % (ctl, m.group(3)) in listeners),
       "the quorum voter is this node on its controller listener (%s, %s)" % (voters, listeners))
protomap = dict(x.split(":") for x in str(k.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "")).split(","))
names = [l.split("://")[0] for l in listeners.split(",")]
report(all(n in protomap for n in names), "every listener has a security protocol (%s)" % sorted(protomap))
adv = str(k.get("KAFKA_ADVERTISED_LISTENERS", ""))
report("PLAINTEXT://kafka:9092" in adv and ctl not in adv, "advertised on the compose network as kafka:9092 (%s)" % adv)
report(str(k.get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR")) == "1" and
       str(k.get("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR")) == "1",
       "internal topics with replication factor 1 (one broker)")

# Topics the topics service creates: name -> (partitions, compacted).
created = {}
for line in cmd("topics").splitlines():
    w = shlex.split(line, comments=True)
    if w[:1] == ["t"] and "--topic" in w:
        name = w[w.index("--topic") + 1]
        parts = int(w[w.index("--partitions") + 1]) if "--partitions" in w else None
        created[name] = (parts, "cleanup.policy=compact" in w)
report(svc["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy" and "kafka-topics.sh" in cmd("topics"),
       "topics: a one-shot kafka-topics.sh once kafka is healthy")
for t in ("rain.next_hour", "region.hourly", "region.hourly.final", "coords"):
    report(t in created and created[t][1], "topic %s is created compacted" % t)

# Every topic the topologies name, with their partition counts and compaction.
used = {}
for f in sys.argv[2:]:
    topo = yaml.safe_load(open(f))
    for n in topo["nodes"]:
        if "topic" in n:
            compact = n.get("compacted") is True or n["type"] == "http_poll"   # http_poll reads a table
            used[n["topic"]] = (n.get("partitions", 8), compact, f)
for t, (parts, compact, f) in sorted(used.items()):
    c = created.get(t)
    report(c is not None and c[0] == parts and c[1] == compact,
           "%s (%s): created with %s partitions%s (compose: %s)" % (t, f.split("/")[-1], parts, ", compacted" if compact else "", c))
report(all(c[0] and c[0] >= 8 for c in created.values()), "input topics have enough partitions to scale out (%s)" % {t: c[0] for t, c in created.items()})

report("weather-sim --listen 0.0.0.0:8080" in cmd("weather-sim"), "weather-sim listens on the compose network: %s" % cmd("weather-sim"))
lc = cmd("load-coords")
report("gen-coords" in lc and "load-coordinates" in lc and "--topic coords" in lc and "kafka:9092" in lc,
       "load-coords: gen-coords | load-coordinates into coords")
report(svc["load-coords"]["depends_on"]["topics"]["condition"] == "service_completed_successfully",
       "load-coords waits for the topics")

# The topology services: environment, dependencies, scalability.
wanted = {"SPATE_BOOTSTRAP": "kafka:9092", "OWM_URL": "http://weather-sim:8080", "SPATE_STATE_DIR": "/state"}
for name, topo in (("spate", "topology/rain_next_hour.yaml"), ("region-hourly", "topology/region_hourly.yaml")):
    s, e = svc[name], env(name)
    report(cmd(name) == "run " + topo, "%s runs `spate run %s`" % (name, topo))
    report(all(e.get(k) == v for k, v in wanted.items()), "%s: SPATE_BOOTSTRAP, OWM_URL, SPATE_STATE_DIR set (%s)" % (name, {k: e.get(k) for k in wanted}))
    needed = set(re.findall(r"\$\{(\w+)\}", open(topo).read()))            # no default: must be set
    known = set(re.findall(r"\$\{(\w+)", open(topo).read()))
    report(needed <= set(e), "%s: every variable %s uses without a default is set %s" % (name, topo, sorted(needed)))
    report({"OWM_API_KEY", "SPATE_SESSION_TIMEOUT_MS"} <= set(e) and (known - set(e)) <= {"HOURLY_GRACE", "CLOSE_AFTER_IDLE"},
           "%s: the topology's variables are passed (unset, defaulted: %s)" % (name, sorted(known - set(e))))
    report("container_name" not in s and not s.get("ports"), "%s is scalable: no container_name, no host ports" % name)
    report(all(d.get("condition") for d in s.get("depends_on", {}).values()) and
           s["depends_on"]["topics"]["condition"] == "service_completed_successfully",
           "%s: depends_on with conditions (%s)" % (name, {k: v.get("condition") for k, v in s["depends_on"].items()}))
    report(s.get("build", {}).get("dockerfile") == "compose/Dockerfile", "%s builds compose/Dockerfile" % name)
report(svc["spate"]["depends_on"]["weather-sim"]["condition"] == "service_healthy", "spate waits for a healthy weather-sim")

# Monitoring: Prometheus finds every instance of both topology services by DNS on the port their
# SPATE_HTTP listens on; Grafana gets Prometheus as data source and a dashboard whose every query
# names metrics spate exports (the names are looked up in the C sources).
import glob, json, os
def mount(name, target):
    for v in svc[name].get("volumes", []):
        src, dst = (v["source"], v["target"]) if isinstance(v, dict) else v.split(":")[:2]
        if dst == target:
            return src
    return None
prom_src = mount("prometheus", "/etc/prometheus/prometheus.yml")
report(prom_src and svc["prometheus"]["image"].startswith("prom/prometheus:"), "prometheus mounts its config (%s)" % prom_src)
prom = yaml.safe_load(open(prom_src))
sd = {n: c["port"] for j in prom["scrape_configs"] for c in j.get("dns_sd_configs", []) for n in c["names"]}
for name in ("spate", "region-hourly"):
    port = int(str(env(name).get("SPATE_HTTP", ":0")).rsplit(":", 1)[1])
    report(sd.get(name) == port and port > 0, "prometheus scrapes every %s instance on its SPATE_HTTP port (%s, %s)" % (name, sd.get(name), port))
prov = mount("grafana", "/etc/grafana/provisioning")
dashdir = mount("grafana", "/var/lib/grafana/dashboards")
report(prov and dashdir and svc["grafana"]["image"].startswith("grafana/grafana:"), "grafana mounts its provisioning and dashboards")
dsrc = [d for f in glob.glob(prov + "/datasources/*.yml") for d in yaml.safe_load(open(f))["datasources"]]
report(any(d["type"] == "prometheus" and d["url"] == "http://prometheus:9090" for d in dsrc), "grafana's data source is the compose prometheus")
provs = [p for f in glob.glob(prov + "/dashboards/*.yml") for p in yaml.safe_load(open(f))["providers"]]
report(any(p["options"]["path"] == "/var/lib/grafana/dashboards" for p in provs), "grafana loads the dashboards folder")
sources = "".join(open(f).read() for f in glob.glob("**/*.c", recursive=True) if not f.startswith(("tests/", "bench/")))
exported = set(re.findall(r'"(spate_[a-z_]+)"', sources))
for f in glob.glob(dashdir + "/*.json"):
    d = json.load(open(f))
    exprs = [t["expr"] for p in d["panels"] for t in p["targets"]]
    used = {re.sub(r"_(bucket|sum|count)$", "", m) for e in exprs for m in re.findall(r"\b(spate_[a-z_]+)", e)}
    report(exprs and used <= exported, "%s: %d queries over %d metrics, all exported by spate%s" %
           (f, len(exprs), len(used), "" if used <= exported else " (unknown: %s)" % sorted(used - exported)))
pg = svc.get("postgres", {})
report(str(pg.get("image", "")).startswith("postgres:") and "pg_isready" in str(pg.get("healthcheck", {}).get("test")),
       "a postgres service (official image, pg_isready health check) for sql_sink (%s)" % pg.get("image"))
pe = pg.get("environment") or {}
url = env("spate").get("PG_URL", "")
report(re.match(r"postgresql://%s:[^@]+@postgres:5432/%s$" % (pe.get("POSTGRES_USER"), pe.get("POSTGRES_DB")), url) is not None,
       "the spate services get PG_URL for the postgres service's user and database (%s)" % re.sub(r":[^:@/]+@", ":***@", url))
PY
while read -r line; do case $line in ok*) ok "${line#ok }";; "not ok"*) nok "${line#not ok }";; esac; done <"$TMP/checks.txt"

# The services compose knows (scaling itself is `up --scale spate=3`, which needs an engine).
if "$DC" -f compose/docker-compose.yml config --services >"$TMP/services.txt" 2>&1 && grep -qx spate "$TMP/services.txt"; then
        ok "services: $(tr '\n' ' ' <"$TMP/services.txt")"
else
        nok "docker-compose config --services"
fi
