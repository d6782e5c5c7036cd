#!/usr/bin/env bash
# Renders a benchmark report (ringlb-bench compare --html, or bench/report.html) in headless
# Chromium and saves it as a PNG, as a browser shows it: the check that the page renders
# (tables, axes, one colour per target) and the picture in bench/README.md.
#
# Usage: scripts/report-screenshot.sh [REPORT.html [OUT.png]]
#        (default: bench/report.html -> bench/report.png)
# Needs: chromium (apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
report="$(realpath "${1:-bench/report.html}")"
out="$(realpath -m "${2:-bench/report.png}")"
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z $browser ]]; then
    echo "report-screenshot: no chromium found (apt-get install chromium)" >&2
    exit 1
fi
echo "rendering $report into $out ..."
# The page's width (1200px) plus margins; tall enough for a few sections.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1250,"${HEIGHT:-1400}" --screenshot="$out" "file://$report" 2>/dev/null
echo "saved: $out ($(stat -c %s "$out") bytes)"
