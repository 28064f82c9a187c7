#!/usr/bin/env bash
# The ingest bench of issue 13: `digestif once` against the floor (examples/floor.rs: reqwest +
# feed-rs, 16 in flight) over a farm of FEEDS copies of the real snapshots in ../shared, served on
# loopback by examples/farm.rs (pre-rendered bytes in memory, its own process). Runs are paired and
# alternate (floor first on odd runs, digestif first on even ones); medians of RUNS runs.
#
#   scripts/bench-farm.sh              # all scenarios, 3 runs, 1000 feeds
#   RUNS=1 FEEDS=200 SCENARIOS="rep-first idle" scripts/bench-farm.sh
#
# Scenarios:
#   rep-first          repeated items (copies byte for byte), fresh state
#   uniq-first         every copy with its own links and guids (all new articles), fresh state
#   uniq-second-noval  uniq again on the state uniq-first left, server sends no ETag/Last-Modified
#   rep-second-304     rep again on the state of a first run, server answers 304 (for reference)
#   idle               `digestif run` on the rep farm: RSS once its first fetch round is over
#
# Prints wall time, CPU time (user+sys) and peak RSS of each side and the ratios to the floor.
set -euo pipefail
cd "$(dirname "$0")/.."
snap=${SNAPSHOTS_DIR:-../shared/data/feeds/news-snapshots}
[ -d "$snap" ] || { echo "skip: $snap is absent"; exit 0; }
RUNS=${RUNS:-3}
FEEDS=${FEEDS:-1000}
SCENARIOS=${SCENARIOS:-"rep-first uniq-first uniq-second-noval rep-second-304 idle"}
bin=${DIGESTIF:-target/release/digestif}
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release --quiet --bin digestif --example farm --example floor
fi
floor=target/release/examples/floor
work=$(mktemp -d)
server=
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null || true
  exec 3>&- 2>/dev/null || true
  [ -n "$server" ] && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The farm server holds stdin (fd 3 here) and stops when it closes.
mkfifo "$work/farm.in"
target/release/examples/farm --snapshots "$snap" --feeds "$FEEDS" < "$work/farm.in" > "$work/farm.out" &
server=$!
exec 3> "$work/farm.in"
for _ in $(seq 100); do grep -q '^port ' "$work/farm.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/^port /{print $2}' "$work/farm.out")
[ -n "$port" ] || { echo "the farm server did not start"; exit 1; }

# config <farm path prefix> <state dir>
config() {
  local prefix=$1 state=$2
  {
    printf 'state_dir = "%s"\ntimezone = "UTC"\nlog_level = "warn"\n\n' "$state"
    printf '[fetch]\nconcurrency = 16\nper_host = 16\n'
    for ((i = 0; i < FEEDS; i++)); do
      printf '\n[[feed]]\nname = "feed-%04d"\nurl = "http://127.0.0.1:%s/%s/%d.xml"\n' "$i" "$port" "$prefix" "$i"
    done
    printf '\n[[digest]]\nname = "farm"\nat = "07:00"\nwindow = "36500d"\n\n[[digest.output]]\n'
    printf 'kind = "file"\ndir = "%s/digests"\nformats = ["json", "html"]\n' "$state"
  } > "$state.toml"
}

# timed <out file> <command...>: appends "wall cpu rss_kib" of the command to <out file>.
timed() {
  local out=$1
  shift
  /usr/bin/time -f '%e %U %S %M' -o "$work/t" "$@" > "$work/cmd.out" 2> "$work/cmd.err" ||
    { echo "FAILED: $*"; cat "$work/cmd.out" "$work/cmd.err"; exit 1; }
  awk '{printf "%.3f %.3f %d\n", $1, $2 + $3, $4}' "$work/t" >> "$out"
}

run_floor() { timed "$work/$1.floor" "$floor" --base "http://127.0.0.1:$port/$2" --feeds "$FEEDS" --inflight 16; }

# fresh <state>: an empty state dir and its config for farm prefix $2.
fresh() { rm -rf "$work/$1" "$work/$1.toml"; mkdir -p "$work/$1"; config "$2" "$work/$1"; }

once() { "$bin" --config "$work/$1.toml" once; }

scenario_run() {
  local s=$1 r=$2 prefix
  case $s in
    rep-first) prefix=rep/v ;;
    uniq-first | uniq-second-noval) prefix=uniq/n ;;
    rep-second-304) prefix=rep/v ;;
    *) return ;;
  esac
  # State prepared outside the timed part.
  case $s in
    rep-first | uniq-first) fresh "st-$s" "$prefix" ;;
    uniq-second-noval | rep-second-304)
      fresh "st-$s" "$prefix"
      once "st-$s" > /dev/null 2>&1 ;;
  esac
  if ((r % 2 == 1)); then run_floor "$s" "$prefix"; fi
  timed "$work/$s.digestif" "$bin" --config "$work/st-$s.toml" once
  grep -E 'feeds, .* new articles' "$work/cmd.out" > "$work/$s.summary" || true
  if ((r % 2 == 0)); then run_floor "$s" "$prefix"; fi
}

# idle_rss: the daemon's RSS (KiB) once its first fetch round is over and it has been idle 5 s.
idle_rss() {
  fresh st-idle rep/v
  "$bin" --config "$work/st-idle.toml" run > "$work/idle.out" 2>&1 &
  daemon=$!
  local last=-1 still=0 cpu
  while ((still < 10)); do
    sleep 0.5
    cpu=$(awk '{print $14 + $15}' "/proc/$daemon/stat")
    if [ "$cpu" = "$last" ]; then still=$((still + 1)); else still=0; fi
    last=$cpu
  done
  awk '/^VmRSS/{rss=$2} /^VmHWM/{hwm=$2} END{print rss, hwm}' "/proc/$daemon/status" >> "$work/idle.rss"
  kill "$daemon"
  wait "$daemon" 2>/dev/null || true
  daemon=
}

median() { sort -n | awk '{a[NR]=$1} END{print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
col() { awk -v c="$2" '{print $c}' "$1" | median; }

echo "farm: $FEEDS feeds on 127.0.0.1:$port, $RUNS paired runs; load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
for ((r = 1; r <= RUNS; r++)); do
  for s in $SCENARIOS; do
    if [ "$s" = idle ]; then idle_rss; else scenario_run "$s" "$r"; fi
  done
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n%-18s | %8s %8s %8s | %8s %8s %8s | %6s %6s %6s\n' scenario "floor s" "cpu s" "MiB" \
  "digestif" "cpu s" "MiB" "wall×" "cpu×" "rss×"
for s in $SCENARIOS; do
  [ "$s" = idle ] && continue
  echo "  $s: digestif says: $(cat "$work/$s.summary" 2>/dev/null)" >&2
  fw=$(col "$work/$s.floor" 1); fc=$(col "$work/$s.floor" 2); fr=$(col "$work/$s.floor" 3)
  dw=$(col "$work/$s.digestif" 1); dc=$(col "$work/$s.digestif" 2); dr=$(col "$work/$s.digestif" 3)
  awk -v s="$s" -v fw="$fw" -v fc="$fc" -v fr="$fr" -v dw="$dw" -v dc="$dc" -v dr="$dr" 'BEGIN {
    printf "%-18s | %8.2f %8.2f %8.1f | %8.2f %8.2f %8.1f | %6.2f %6.2f %6.2f\n",
      s, fw, fc, fr / 1024, dw, dc, dr / 1024, dw / fw, dc / fc, dr / fr }'
done
if [ -f "$work/idle.rss" ]; then
  printf '\nidle daemon after its first fetch round (median): RSS %.1f MiB, peak %.1f MiB\n' \
    "$(col "$work/idle.rss" 1 | awk '{print $1 / 1024}')" "$(col "$work/idle.rss" 2 | awk '{print $1 / 1024}')"
fi
if [ -n "${VERBOSE:-}" ]; then
  for f in "$work"/*.floor "$work"/*.digestif; do echo "$f: $(tr '\n' ';' < "$f")"; done
fi
