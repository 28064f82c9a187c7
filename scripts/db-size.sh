#!/usr/bin/env bash
# Measures what the database costs per stored article: `fetch` then `digest` over the news
# snapshots in ../shared (served from loopback), then the file size, the article count and each
# table's share (SQLite's dbstat), and the new items per feed per day the snapshots show (items
# dated within 24 h of each feed's newest item). The README's yearly estimate is made from these.
# Usage: scripts/db-size.sh [path/to/digestif]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/digestif}
. scripts/snapshot-server.sh
{
  snapshot_config "20*"
  printf '\n[[digest]]\nname = "snapshots"\nat = "07:00"\nwindow = "36500d"\n\n[[digest.output]]\nkind = "file"\ndir = "%s/digests"\nformats = ["json"]\n' "$work"
} > "$work/config.toml"
db="$work/state/digestif.sqlite3"
"$bin" --config "$work/config.toml" fetch > /dev/null 2>&1 || true
"$bin" --config "$work/config.toml" digest > /dev/null 2>&1 || true
python3 - "$db" "$snap" <<'PY'
import os, sqlite3, sys, glob, re, email.utils, datetime, statistics
db, snap = sys.argv[1], sys.argv[2]
size = os.path.getsize(db)
c = sqlite3.connect(db)
n = c.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
digests = c.execute("SELECT COUNT(*) FROM digests").fetchone()[0]
print(f"database: {size} bytes, {n} articles, {digests} digests: {size / max(n, 1):.0f} bytes per article")
try:
    rows = c.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    for name, b in rows[:12]:
        print(f"  {name:40} {b:>10} bytes {b / max(n, 1):8.0f} per article")
except sqlite3.OperationalError as e:
    print(f"  (no dbstat: {e})")
# New items per feed per day: items dated within 24 h of the feed's newest item.
per_day = []
saturated = 0
for f in sorted(glob.glob(os.path.join(snap, "20*", "*.xml"))):
    text = open(f, encoding="utf-8", errors="replace").read()
    dates = []
    for m in re.finditer(r"<(pubDate|published|updated|dc:date)>([^<]+)</", text):
        raw = m.group(2).strip()
        try:
            d = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            try:
                d = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                continue
        if d.tzinfo is None:
            d = d.replace(tzinfo=datetime.timezone.utc)
        dates.append(d)
    if not dates:
        continue
    newest = max(dates)
    within = sum(1 for d in dates if (newest - d).total_seconds() <= 86400)
    per_day.append(within)
    saturated += within == len(dates)
print(f"feeds with dated items: {len(per_day)}; items within 24 h of the newest: "
      f"mean {statistics.mean(per_day):.1f}, median {statistics.median(per_day):.0f}, max {max(per_day)}; "
      f"{saturated} feeds list nothing older than a day (their rate is a lower bound)")
PY
