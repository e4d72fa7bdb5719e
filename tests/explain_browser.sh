#!/usr/bin/env bash
# explain()'s HTML page in a real browser: runs examples/explain_notes into OUT_DIR, opens the page
# in headless Chromium, fails on a KaTeX error or math left unrendered, and writes a screenshot
# to OUT_DIR/explain_notes.png. Exits 77 (CTest: skipped) when chromium is not installed, 1 if
# MATGRAD_REQUIRE_BROWSER is set (CI sets it: there the test must run).
#   explain_browser.sh EXPLAIN_NOTES_BINARY OUT_DIR
set -euo pipefail
example=$1
out=$2
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  if [ -n "${MATGRAD_REQUIRE_BROWSER:-}" ]; then
    echo "FAILED: chromium is not installed, and MATGRAD_REQUIRE_BROWSER asks for the browser test"
    exit 1
  fi
  echo "SKIPPED: chromium is not installed (scripts/setup installs it; CI runs this test)"
  exit 77
fi
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)  # file:// URLs need an absolute path
"$example" "$out" >"$out/explain_notes.log"
page="$out/explain_notes.html"
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run
       --user-data-dir="$out/profile" --virtual-time-budget=5000)
timeout 90 "$browser" "${flags[@]}" --dump-dom "file://$page" >"$out/dom.html" 2>"$out/chromium.log"
timeout 90 "$browser" "${flags[@]}" --window-size=1400,1700 --screenshot="$out/explain_notes.png" \
  "file://$page" 2>>"$out/chromium.log"

status=0
count() { { grep -o "$1" "$out/dom.html" || true; } | wc -l; }
math=$(count 'class="mg-math[^"]*"')
rendered=$(count 'class="mg-math[^"]* rendered"')
katex=$(count 'class="katex-html"')
errors=$(count 'class="katex-error"')  # (the inlined script names the class too)
echo "math elements: $math, rendered: $rendered, KaTeX trees: $katex, KaTeX errors: $errors"
if [ "$math" -lt 20 ]; then echo "FAIL: the page has only $math math elements"; status=1; fi
if [ "$rendered" -ne "$math" ] || [ "$katex" -lt "$math" ]; then echo "FAIL: math left unrendered"; status=1; fi
if [ "$errors" -ne 0 ]; then
  echo "FAIL: KaTeX reported errors:"
  grep -o 'class="katex-error" title="[^"]*"' "$out/dom.html" | head -5
  status=1
fi
if ! grep -q '<svg' "$out/dom.html" && command -v dot >/dev/null; then echo "FAIL: no chain-rule tree"; status=1; fi
if [ ! -s "$out/explain_notes.png" ]; then echo "FAIL: no screenshot"; status=1; fi
echo "screenshot: $out/explain_notes.png"
exit $status
