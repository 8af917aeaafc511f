#!/usr/bin/env bash
# Benchmarks/registrar/run.sh [udp] [tls]      (no argument: both)
#
# REGISTER + digest (qop=auth) throughput of Rampart against the Kamailio anchor, in one run on one machine,
# with the side-by-side harness in ../shared/bench/sip (sipp load, rate search, CPU accounting). Both servers
# get the same 10,000 users (users.csv), the same realm (rampart.bench) and MD5 only (Debian's sipp 3.6 speaks
# nothing else). TLS: Debian's sipp has no TLS, so for both targets sipp runs over TCP into a local stunnel
# client that speaks TLS 1.2+ to the server (the same extra hop for both, so the comparison stays fair).
#
# Rampart: release build, `rampart serve` on 127.0.0.1:5070 (udp/tcp) and :5071 (tls).
# Kamailio: ../shared/bench/sip/start-kamailio.sh on 127.0.0.1:5060 and :5061.
# Environment: REPEAT (2), STEP_SECS (5), RATES, and whatever run-registrar.sh accepts. Loopback only; every
# process started here is stopped by PID at exit.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BENCH="${BENCH:-$ROOT/../shared/bench}"
[[ -x "$BENCH/sip/run-registrar.sh" ]] || { echo "no side-by-side harness at $BENCH" >&2; exit 2; }
TRANSPORTS=("$@"); [[ ${#TRANSPORTS[@]} -eq 0 ]] && TRANSPORTS=(udp tls)
export REPEAT="${REPEAT:-2}" STEP_SECS="${STEP_SECS:-5}" SIP_DOMAIN=rampart.bench
RUN="$(mktemp -d /tmp/rampart-bench.XXXXXX)"
export USERS_CSV="$RUN/users.csv"
python3 "$BENCH/sip/tools/users.py" gen 10000 "$USERS_CSV"

(cd "$ROOT" && swift build -c release --product rampart >&2)
RAMPART="$ROOT/.build/release/rampart"
"$RAMPART" user import "$USERS_CSV" --domain rampart.bench --data-dir "$RUN/rampart-data" >&2
cat >"$RUN/rampart.toml" <<TOML
domain = "rampart.bench"
listen = ["udp:127.0.0.1:5070", "tcp:127.0.0.1:5070", "tls:127.0.0.1:5071"]
[registrar]
digest_algorithms = ["MD5"]
[log]
level = "error"
TOML

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

"$RAMPART" serve --config "$RUN/rampart.toml" --data-dir "$RUN/rampart-data" >"$RUN/rampart.out" 2>"$RUN/rampart.log" &
RAMPART_PID=$!; PIDS+=("$RAMPART_PID")
KAM_PID=$("$BENCH/sip/start-kamailio.sh" 127.0.0.1 5060 5061); PIDS+=("$KAM_PID")
for _ in $(seq 50); do grep -q "listening on tls" "$RUN/rampart.out" 2>/dev/null && break; sleep 0.2; done
python3 "$BENCH/sip/tools/sip-ping.py" 127.0.0.1 5070 10 >/dev/null

stunnel_to() { # ACCEPT_PORT CONNECT_PORT
  cat >"$RUN/stunnel-$1.conf" <<CONF
foreground = yes
pid =
[sip]
client = yes
accept = 127.0.0.1:$1
connect = 127.0.0.1:$2
verifyChain = no
sslVersionMin = TLSv1.2
CONF
  stunnel4 "$RUN/stunnel-$1.conf" >"$RUN/stunnel-$1.log" 2>&1 &
  PIDS+=("$!")
}

SUMMARY="$RUN/summary.txt"
for transport in "${TRANSPORTS[@]}"; do
  for target in kamailio rampart; do
    if [[ $target == kamailio ]]; then pid=$KAM_PID; udp=5060; tls=5061; else pid=$RAMPART_PID; udp=5070; tls=5071; fi
    if [[ $transport == udp ]]; then
      port=$udp; mode=udp
    else
      port=$((tls + 10000)); mode=tcp
      stunnel_to "$port" "$tls"; sleep 0.5
    fi
    OUT_DIR="$RUN/$target-$transport" SERVER_PIDS="$pid" \
      "$BENCH/sip/run-registrar.sh" 127.0.0.1 "$port" "$mode" >&2 || true
    sed "s/^RESULT /RESULT $target $transport /" "$RUN/$target-$transport/result.txt" | grep '^RESULT' | tee -a "$SUMMARY"
  done
done
python3 - "$SUMMARY" <<'PY'
import re, sys
rates = {}
for line in open(sys.argv[1]):
    m = re.match(r"RESULT (\w+) (\w+) registrar transport=\w+ max_sustained_reg_per_s median=(\d+)", line)
    if m: rates[(m.group(1), m.group(2))] = int(m.group(3))
for transport in ("udp", "tls"):
    k, r = rates.get(("kamailio", transport)), rates.get(("rampart", transport))
    if k and r:
        print(f"RATIO {transport}: rampart {r}/s, kamailio {k}/s, rampart/kamailio = {r / k:.2f}")
PY
echo "details: $RUN" >&2
