#!/usr/bin/env bash
# Renders the email edition of a real feed snapshot and screenshots it in headless Chromium, in
# the light and the dark colour scheme, so both themes of the mail can be looked at.
#
#   scripts/screenshot-email.sh [SNAPSHOT_DIR] [OUT_DIR]
#
# SNAPSHOT_DIR  a folder of feed files (default: ../shared/data/feeds/news-snapshots/2021-09-18T1913Z)
# OUT_DIR       where email.eml, email.html, email-light.png and email-dark.png go
#               (default: target/screenshots)
#
# The digest is built by the real binary (`digestif once`) from the snapshot's files (local feed
# paths) and handed to a [sendmail] command that keeps the message, so the HTML is exactly the
# part a mail client receives. Chromium is $CHROMIUM, else /usr/bin/chromium; the dark shot
# emulates `prefers-color-scheme: dark` (--force-dark-mode and blink's preferredColorScheme).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
snapshot=${1:-$root/../shared/data/feeds/news-snapshots/2021-09-18T1913Z}
out=${2:-$root/target/screenshots}
chromium=${CHROMIUM:-/usr/bin/chromium}
width=${WIDTH:-680}
height=${HEIGHT:-2200}

[ -d "$snapshot" ] || { echo "no snapshot folder $snapshot" >&2; exit 1; }
command -v "$chromium" >/dev/null || { echo "no chromium at $chromium (set CHROMIUM)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin=$root/target/release/digestif
[ -x "$bin" ] || (cd "$root" && cargo build --release --bin digestif)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The [sendmail] command: keeps the message it is given on stdin.
cat >"$work/keep-mail" <<EOF
#!/bin/sh
cat > "$out/email.eml"
EOF
chmod +x "$work/keep-mail"

{
  printf 'state_dir = "%s/state"\ntimezone = "UTC"\n\n' "$work"
  for f in "$snapshot"/*.xml; do
    name=$(basename "$f" .xml)
    printf '[[feed]]\nname = "%s"\nurl = "%s"\n\n' "$name" "$f"
  done
  cat <<EOF
[sendmail]
command = "$work/keep-mail"
from = "digestif <digest@news.example.org>"

[[digest]]
name = "daily"
at = "07:00"
window = "36500d"
link = "https://news.example.org/daily/{{ date_iso }}.html"

[[digest.output]]
kind = "email"
to = ["reader@example.org"]
EOF
} >"$work/config.toml"

"$bin" --config "$work/config.toml" check-config >/dev/null
"$bin" --config "$work/config.toml" --log-level warn once >/dev/null

# The text/html part, decoded, as a file Chromium can open.
python3 - "$out/email.eml" "$out/email.html" <<'EOF'
import email, sys
from email import policy
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
html = msg.get_body(preferencelist=("html",))
open(sys.argv[2], "w", encoding="utf-8").write(html.get_content())
EOF

shot() { # shot NAME EXTRA_FLAGS...
  local name=$1; shift
  "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --window-size="$width,$height" --screenshot="$out/$name" "$@" \
    "file://$out/email.html" >/dev/null 2>&1
}
shot email-light.png --blink-settings=preferredColorScheme=1
shot email-dark.png --force-dark-mode --blink-settings=preferredColorScheme=0

printf 'message %s bytes, HTML part %s bytes\n' "$(wc -c <"$out/email.eml")" "$(wc -c <"$out/email.html")"
ls -l "$out"/email-light.png "$out"/email-dark.png
