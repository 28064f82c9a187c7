#!/usr/bin/env bash
# Measures `digestif once` over the three news snapshots in ../shared, served from loopback:
# wall time and max RSS. Usage: scripts/bench-once-snapshots.sh [path/to/digestif]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/digestif}
. scripts/snapshot-server.sh
{
  snapshot_config "${SNAPSHOTS:-20*}"
  printf '\n[[digest]]\nname = "snapshots"\nat = "07:00"\nwindow = "36500d"\n\n[[digest.output]]\nkind = "file"\ndir = "%s/digests"\nformats = ["json", "html", "md", "txt"]\n' "$work"
} > "$work/config.toml"
feeds=$(grep -c '^\[\[feed\]\]' "$work/config.toml")
/usr/bin/time -v "$bin" --config "$work/config.toml" once > "$work/out.txt" 2> "$work/time.txt" || { cat "$work/out.txt" "$work/time.txt"; exit 1; }
tail -3 "$work/out.txt"
echo "feeds: $feeds"
grep -E 'Elapsed \(wall|Maximum resident' "$work/time.txt"
ls -la "$work/digests"
if [ -n "${KEEP:-}" ]; then cp -r "$work/digests" "$KEEP"; fi
