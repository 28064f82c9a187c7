# Sourced (not run) by the scripts that run digestif over the news snapshots of ../shared, from the
# project root: serves the snapshots on loopback and sets $snap, $work (a temporary folder, removed
# with the server on exit), $port and $server; `snapshot_config GLOB` prints the top of a config: state in $work/state,
# and a [[feed]] table per snapshot file in the folders matching GLOB ("20*" for all).
snap=../shared/data/feeds/news-snapshots
[ -d "$snap" ] || { echo "skip: $snap is absent"; exit 0; }
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$snap" >/dev/null 2>&1 &
server=$!
sleep 1

snapshot_config() {
  local f rel
  echo "state_dir = \"$work/state\""
  echo 'timezone = "UTC"'
  for f in "$snap"/$1/*.xml; do
    rel=${f#"$snap"/}
    printf '\n[[feed]]\nname = "%s"\nurl = "http://127.0.0.1:%s/%s"\n' "$rel" "$port" "$rel"
  done
}
