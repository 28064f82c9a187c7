#!/usr/bin/env bash
# Prints the longest functions in src/ (default 25) and fails if one is longer than 120 lines
# without a `// fn-length: <reason>` comment above it. The check itself is the integration test
# `structure::no_function_in_src_is_longer_than_120_lines`, which also runs in `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
DIGESTIF_FN_LENGTHS="${1:-25}" cargo test --release --test it -- --exact \
    structure::no_function_in_src_is_longer_than_120_lines --nocapture
