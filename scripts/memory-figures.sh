#!/usr/bin/env bash
# Peak memory (max RSS) of the release binary on the hostile inputs of issue #12, generated here:
# a feed of 100,000 items, a JSON Feed of 1,000,000 empty items, `tag` on 10 MB of text, and a
# config that never ends (/dev/zero). Usage: scripts/memory-figures.sh [path/to/digestif]
# Prints one line per case: what, exit code, wall time, max RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/digestif}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
with open(f"{w}/big.xml", "w") as f:
    f.write('<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>')
    for i in range(100_000):
        f.write(f'<item><title>Paris talks {i}</title><link>http://big.example/{i}</link>'
                f'<pubDate>Mon, 07 Dec 2026 06:00:00 GMT</pubDate></item>')
    f.write('</channel></rss>')
with open(f"{w}/empty.json", "w") as f:
    f.write('{"version":"https://jsonfeed.org/version/1.1","title":"Empty","items":[')
    f.write(",".join(["{}"] * 1_000_000))
    f.write(']}')
with open(f"{w}/tag.txt", "w") as f:
    f.write("Obama Paris " * (10_000_000 // 12))
PY

config() { # $1: feed file
  cat <<TOML
state_dir = "$work/state-$(basename "$1")"
[fetch]
max_body = "32MiB"
[[feed]]
name = "F"
url = "$1"
[[digest]]
name = "d"
at = "07:00"
window = "36500d"
[[digest.output]]
kind = "file"
dir = "$work/out"
formats = ["json", "html"]
TOML
}
config "$work/big.xml" > "$work/big.toml"
config "$work/empty.json" > "$work/empty.toml"

measure() { # $1: label, rest: command (stdin from $IN if set)
  local label=$1; shift
  local code=0
  /usr/bin/time -f '%e %M' -o "$work/t" "$@" < "${IN:-/dev/null}" > "$work/out.txt" 2> "$work/err.txt" || code=$?
  read -r wall rss < <(tail -1 "$work/t")
  printf '%-46s exit %-3s %7ss %8.1f MiB\n' "$label" "$code" "$wall" "$(echo "$rss/1024" | bc -l)"
}
printf 'file sizes: big.xml %s bytes, empty.json %s bytes, tag.txt %s bytes\n' \
  "$(stat -c %s "$work/big.xml")" "$(stat -c %s "$work/empty.json")" "$(stat -c %s "$work/tag.txt")"
measure "once: 100,000-item RSS feed" "$bin" --config "$work/big.toml" once
grep -E '^(delivered|built|F)' "$work/out.txt" | head -3 || true
measure "fetch: JSON Feed of 1,000,000 empty items" "$bin" --config "$work/empty.toml" fetch
grep -i "usable" "$work/out.txt" "$work/err.txt" | head -2 || true
IN="$work/tag.txt" measure "tag: 10 MB of 'Obama Paris '" "$bin" --config "$work/big.toml" tag
measure "check-config -c /dev/zero" "$bin" --config /dev/zero check-config
head -c 300 "$work/err.txt"; echo
