#!/usr/bin/env bash
# Measures `digestif once` over the three news snapshots in ../shared, served from loopback:
# wall time and max RSS. Usage: scripts/bench-once-snapshots.sh [path/to/digestif]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/digestif}
snap=../shared/data/feeds/news-snapshots
[ -d "$snap" ] || { echo "skip: $snap is absent"; exit 0; }
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$snap" >/dev/null 2>&1 &
server=$!
sleep 1
{
  echo "state_dir = \"$work/state\""
  echo 'timezone = "UTC"'
  for f in "$snap"/${SNAPSHOTS:-20*}/*.xml; do
    rel=${f#"$snap"/}
    printf '\n[[feed]]\nname = "%s"\nurl = "http://127.0.0.1:%s/%s"\n' "$rel" "$port" "$rel"
  done
  printf '\n[[digest]]\nname = "snapshots"\nat = "07:00"\nwindow = "36500d"\n\n[[digest.output]]\nkind = "file"\ndir = "%s/digests"\nformats = ["json", "html", "md", "txt"]\n' "$work"
} > "$work/config.toml"
feeds=$(grep -c '^\[\[feed\]\]' "$work/config.toml")
/usr/bin/time -v "$bin" --config "$work/config.toml" once > "$work/out.txt" 2> "$work/time.txt" || { cat "$work/out.txt" "$work/time.txt"; exit 1; }
tail -3 "$work/out.txt"
echo "feeds: $feeds"
grep -E 'Elapsed \(wall|Maximum resident' "$work/time.txt"
ls -la "$work/digests"
if [ -n "${KEEP:-}" ]; then cp -r "$work/digests" "$KEEP"; fi
