#!/usr/bin/env bash
# Benchmarks/registrar/run.sh [udp] [tls]      (no argument: both)
# JOB=calls Benchmarks/registrar/run.sh ...   (calls per second instead, see JOB below)
# JOB=calls MEDIA=relay Benchmarks/registrar/run.sh udp   (the relay on, against Kamailio with rtpengine)
#
# REGISTER + digest (qop=auth) throughput of Rampart against the Kamailio anchor, in one run on one machine,
# with the side-by-side harness in ../shared/bench/sip (sipp load, rate search, CPU accounting). Both servers
# get the same 10,000 users (users.csv), the same realm (rampart.bench) and MD5 only (Debian's sipp 3.6 speaks
# nothing else). TLS: Debian's sipp has no TLS, so for both targets sipp runs over TCP into a local stunnel
# client that speaks TLS 1.2+ to the server (the same extra hop for both, so the comparison stays fair).
#
# Rampart: release build, `rampart serve` on 127.0.0.1:5070 (udp/tcp) and :5071 (tls).
# Kamailio: ../shared/bench/sip/start-kamailio.sh on 127.0.0.1:5060 and :5061.
# Environment: REPEAT (2; each repeat restarts both servers), STEP_SECS (5), RATES, and whatever
# run-registrar.sh accepts. Loopback only; every process started here is stopped by PID at exit.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BENCH="${BENCH:-$ROOT/../shared/bench}"
# JOB=registrar (default): run-registrar.sh. JOB=calls: run-proxy-calls.sh with CALL_AUTH=1 (callers authenticate
# with a 407 round, the callee is found by location lookup); its scenarios send plain RTP, so Rampart runs with
# [calls] allow_plain_rtp = true for this job (Kamailio does not look at SDP either). Over "TLS" the harness's
# callee registers through the stunnel client with a transport=tcp Contact and then listens on plain TCP, and its
# registration connection closes: both servers open a TCP connection to that Contact, which Rampart does only with
# contact_connections = "any" (its default, "tls", never sends SDP over plain TCP). The load generator's rate
# budgets are raised (see the configuration below); the attack checks themselves all run.
# EVIDENCE=on: Rampart also sends HEP copies of every message and a SIEM feed (UDP, to loopback sockets that never read).
# MEDIA=off (default): Rampart's media relay off, against Kamailio alone (neither touches media).
# MEDIA=relay: Rampart's relay on (its default in production), against Kamailio anchoring media through rtpengine
# (KAM_RTPENGINE=1, userspace): each side rewrites the SDP and holds relay ports per call.
JOB="${JOB:-registrar}"
MEDIA="${MEDIA:-off}"
case "$MEDIA" in off|relay) ;; *) echo "MEDIA must be off or relay" >&2; exit 2 ;; esac
case "$JOB" in
  registrar) HARNESS="$BENCH/sip/run-registrar.sh" ;;
  calls) HARNESS="$BENCH/sip/run-proxy-calls.sh"; export CALL_AUTH=1 ;;
  *) echo "JOB must be registrar or calls" >&2; exit 2 ;;
esac
[[ -x "$HARNESS" ]] || { echo "no side-by-side harness at $BENCH" >&2; exit 2; }
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
[calls]
allow_plain_rtp = $([[ $JOB == calls ]] && echo true || echo false)
contact_connections = "$([[ $JOB == calls ]] && echo any || echo tls)"
[media]
relay = $([[ $MEDIA == relay ]] && echo true || echo false)
[log]
level = "error"
# The load generator is one sipp on one address at thousands of requests a second: its budgets are raised out of
# the way, but every request still goes through the address rules, bans, rate buckets and scanner rules.
[security.rate_limits]
$(for scope in source account pair; do for class in register invite options other; do
    echo "${scope}_${class} = [1000000, 1000000]"; done; done)
$(if [[ ${EVIDENCE:-off} == on ]]; then
    # EVIDENCE=on: a HEP copy of every SIP message and a CEF SIEM sink, both over UDP to loopback sockets that never
    # read (the audit trail is always on): the issue 19 cost, to compare with a run without.
    printf '[hep]\ntarget = "udp:127.0.0.1:9060"\n[[siem]]\ntarget = "udp:127.0.0.1:5514"\nformat = "cef"\n'
fi)
TOML

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
if [[ ${EVIDENCE:-off} == on ]]; then
  # The collector and the SIEM receiver: bound sockets that never read (the kernel drops what overflows them). With
  # no socket at all, every loopback datagram would make the kernel answer ICMP port unreachable in the sender's
  # system call, a cost no real collector imposes.
  for port in 9060 5514; do
    python3 -c "import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', $port)); time.sleep(86400)" &
    PIDS+=($!)
  done
fi

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
  STUNNEL_PID=$!; PIDS+=("$STUNNEL_PID")
}

start_target() { # TARGET: sets SERVER_PID, UDP_PORT, TLS_PORT
  if [[ $1 == kamailio ]]; then
    SERVER_PID=$(KAM_RTPENGINE=$([[ $MEDIA == relay ]] && echo 1 || echo 0) "$BENCH/sip/start-kamailio.sh" 127.0.0.1 5060 5061)
    UDP_PORT=5060; TLS_PORT=5061
  else
    "$RAMPART" serve --config "$RUN/rampart.toml" --data-dir "$RUN/rampart-data" >"$RUN/rampart.out" 2>>"$RUN/rampart.log" &
    SERVER_PID=$!; UDP_PORT=5070; TLS_PORT=5071
    for _ in $(seq 50); do grep -q "listening on tls" "$RUN/rampart.out" 2>/dev/null && break; sleep 0.2; done
  fi
  PIDS+=("$SERVER_PID")
  python3 "$BENCH/sip/tools/sip-ping.py" 127.0.0.1 "$UDP_PORT" 10 >/dev/null
}

stop_pid() { kill "$1" 2>/dev/null || true; for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done; }

# Each repeat starts both servers afresh (an overloaded Kamailio stays unresponsive for the rest of its life, so a
# second search on the same process measures nothing) and alternates which one goes first, so that the VM's drift
# in speed does not favour either. The harness runs one rate search per start (REPEAT=1).
SUMMARY="$RUN/summary.txt"
for ((rep = 1; rep <= REPEAT; rep++)); do
  order=(kamailio rampart); (( rep % 2 == 0 )) && order=(rampart kamailio)
  for transport in "${TRANSPORTS[@]}"; do
    for target in "${order[@]}"; do
      start_target "$target"
      if [[ $transport == udp ]]; then
        port=$UDP_PORT; mode=udp
      else
        port=$((TLS_PORT + 10000)); mode=tcp
        stunnel_to "$port" "$TLS_PORT"; sleep 0.5
      fi
      OUT_DIR="$RUN/$target-$transport-$rep" SERVER_PIDS="$SERVER_PID" REPEAT=1 \
        "$HARNESS" 127.0.0.1 "$port" "$mode" >&2 || true
      sed "s/^RESULT /RESULT $target $transport $rep /" "$RUN/$target-$transport-$rep/result.txt" | grep '^RESULT' \
        | tee -a "$SUMMARY"
      [[ $transport == udp ]] || stop_pid "$STUNNEL_PID"
      stop_pid "$SERVER_PID"
    done
  done
done
python3 - "$SUMMARY" <<'PY'
import re, statistics, sys
rates, cpu = {}, {}
for line in open(sys.argv[1]):
    m = re.match(r"RESULT (\w+) (\w+) \d+ (?:registrar|proxy) transport=\w+.* max_sustained_\w+ median=(\d+)", line)
    if m: rates.setdefault((m.group(1), m.group(2)), []).append(int(m.group(3)))
    m = re.match(r"RESULT (\w+) (\w+) \d+ +at max: server CPU us/(?:registration|call) ([\d.]+)", line)
    if m: cpu.setdefault((m.group(1), m.group(2)), []).append(float(m.group(3)))
def show(values): return f"{statistics.median(values):g} [{min(values):g}..{max(values):g}]" if values else "-"
for transport in ("udp", "tls"):
    k, r = rates.get(("kamailio", transport)), rates.get(("rampart", transport))
    if k and r:
        print(f"RATIO {transport}: rampart {show(r)}/s, kamailio {show(k)}/s, "
              f"rampart/kamailio = {statistics.median(r) / statistics.median(k):.2f}; CPU us per operation "
              f"rampart {show(cpu.get(('rampart', transport), []))}, kamailio {show(cpu.get(('kamailio', transport), []))}")
PY
echo "details: $RUN" >&2
