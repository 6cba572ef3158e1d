#!/usr/bin/env bash
# Run every fuzz harness for a bounded time, from the committed seed corpora.
#
#   fuzz/run_all.sh [SECONDS_EACH]     # default 4: about a minute for all eleven (.ci/run does this)
#
# New inputs go to a temporary folder (or, with CORPUS_OUT=DIR, to DIR/HARNESS, kept for the
# next run: fuzz/corpus-out/ is git-ignored for that), never into fuzz/corpus/. A finding (any harness
# that stops with an error) is copied to fuzz/findings/ and makes the script exit 1;
# reproduce it with `.venv/bin/python fuzz/HARNESS.py fuzz/findings/FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-4}
python=${PYTHON:-.venv/bin/python}
# decode_cbor, decode_plist, decode_jsonl fuzz the codec plugins of codecs/: install them first (pip install ./codecs/*/).
harnesses=(${HARNESSES:-decode_json decode_msgpack decode_yaml decode_toml decode_ini decode_envelope open_url open_file decode_cbor decode_plist decode_jsonl})
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
for harness in "${harnesses[@]}"; do
    out="${CORPUS_OUT:-$work}/$harness"
    mkdir -p "$out"
    if "$python" "fuzz/$harness.py" "$out" "fuzz/corpus/$harness" -max_total_time="$seconds" \
        -artifact_prefix="$work/$harness-" >"$work/$harness.log" 2>&1; then
        passed=$((passed + 1))
        echo "fuzz: $harness: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$work/$harness.log" || echo done)"
    else
        failed=$((failed + 1))
        echo "fuzz: $harness: FINDING" >&2
        grep -v '^INFO: Instrumenting' "$work/$harness.log" | tail -n 40 >&2
        mkdir -p fuzz/findings
        for artifact in "$work/$harness"-*; do
            [ -e "$artifact" ] && cp "$artifact" "fuzz/findings/$harness-$(basename "$artifact" | sed "s/^$harness-//")"
        done
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
