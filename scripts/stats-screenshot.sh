#!/usr/bin/env bash
# Renders ringlb's stats page in headless Chromium and saves it for the README
# (tests/screenshots/stats-page.png): ringlb with 2 cores in front of test backends, one
# server down, 200 requests served, then the page as a browser shows it.
#
# Usage: scripts/stats-screenshot.sh [OUT.png]
# Needs: chromium (apt-get install chromium), cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
out="$(realpath -m "${1:-tests/screenshots/stats-page.png}")"
mkdir -p "$(dirname "$out")"
echo "rendering the stats page into $out ..."
RINGLB_SCREENSHOT="$out" cargo test --quiet --test e2e_stats stats_page_renders_in_chromium -- --exact
echo "saved: $out ($(stat -c %s "$out") bytes)"
