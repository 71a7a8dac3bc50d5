#!/usr/bin/env bash
# gta eval and gta report: eval on stories260K (emotion, a few examples) writes JSON with the
# SPEC fields and consistent numbers; bad input exits 2 with "gta: error:" and writes
# nothing; report on a made-up run directory (and on missing files) writes one
# self-contained HTML page with inline SVG, escaped text and no URL.
#
#   GTA=build/gta GTA_SHARED=../shared tests/cli/eval.sh     (from the repository root)
# Prints "eval: N passed, N failed"; exits non-zero on any failure.
set -u
NAME=eval
. "$(dirname "$0")/common.bash"
MODEL=$GTA_SHARED/models/stories260K
DATA=$GTA_SHARED/data/emotion
have_py=0
command -v python3 >/dev/null && have_py=1

# --- eval ---------------------------------------------------------------------------------
"$GTA" eval --help >"$tmp/h.out" 2>&1
if [ $? = 0 ] && grep -q -- '--format' "$tmp/h.out" && grep -q -- '--limit' "$tmp/h.out"; then
  ok "eval --help"
else
  bad "eval --help" "$(cat "$tmp/h.out")"
fi

if [ -d "$MODEL" ] && [ -d "$DATA" ]; then
  for fmt in gta sft; do
    out=$tmp/e-$fmt.json
    "$GTA" eval --model "$MODEL" --data "$DATA" --format $fmt --limit 8 --max-prompt-tokens 440 \
      --max-new-tokens 16 --batch 3 --out "$out" >"$tmp/e.out" 2>"$tmp/e.err"
    rc=$?
    if [ $rc = 0 ] && [ -s "$out" ]; then ok "eval --format $fmt exits 0 and writes $out"; else bad "eval --format $fmt (rc $rc)" "$(cat "$tmp/e.err")"; fi
    if grep -q "eval: 8/8" "$tmp/e.err"; then ok "eval --format $fmt: progress on stderr"; else bad "progress on stderr" "$(cat "$tmp/e.err")"; fi
    if [ $have_py = 1 ]; then
      msg=$(python3 - "$out" $fmt "$DATA" <<'PY' 2>&1
import json, sys
d = json.load(open(sys.argv[1])); fmt = sys.argv[2]
for k in ["n", "accuracy", "f1_weighted", "f1_macro", "format_ok_rate", "per_class", "confusion", "labels", "seconds"]:
    assert k in d, "missing " + k
assert d["n"] == 8, d["n"]
K = len(d["labels"])
assert d["labels"] == open(sys.argv[3] + "/labels.txt").read().split("\n")[:K], "labels are labels.txt"
assert len(d["per_class"]) == K and len(d["confusion"]) == K and all(len(r) == K for r in d["confusion"])
for c in d["per_class"]:
    for k in ["label", "precision", "recall", "f1", "support"]:
        assert k in c, "per_class missing " + k
assert sum(c["support"] for c in d["per_class"]) == 8
# rows of the confusion plus the unparsed column are the supports
assert [sum(r) + u for r, u in zip(d["confusion"], d["unparsed"])] == [c["support"] for c in d["per_class"]]
assert abs(d["accuracy"] - sum(d["confusion"][i][i] for i in range(K)) / 8) < 1e-12
w = sum(c["support"] * c["f1"] for c in d["per_class"]) / 8
assert abs(d["f1_weighted"] - w) < 1e-12
assert abs(d["f1_macro"] - sum(c["f1"] for c in d["per_class"]) / K) < 1e-12
assert ("guess_accuracy" in d) == (fmt == "gta"), "guess_accuracy only for gta"
assert ("guess_answer" in d) == (fmt == "gta")
assert 0 < len(d["examples"]) <= 8 and all("completion" in e for e in d["examples"])
PY
)
      if [ -z "$msg" ]; then ok "eval --format $fmt: SPEC fields, consistent metrics"; else bad "eval --format $fmt JSON" "$msg"; fi
    fi
  done
  # the same completions whatever the batch size
  "$GTA" eval --model "$MODEL" --data "$DATA" --limit 8 --max-prompt-tokens 440 --max-new-tokens 16 --batch 8 \
    --quiet --out "$tmp/e-b8.json" 2>"$tmp/e.err"
  if [ $have_py = 1 ]; then
    if python3 -c 'import json,sys; a,b=[json.load(open(f))["examples"] for f in sys.argv[1:]]; sys.exit([x["completion"] for x in a]!=[x["completion"] for x in b])' "$tmp/e-gta.json" "$tmp/e-b8.json"; then
      ok "eval: greedy completions do not depend on --batch"
    else
      bad "eval: completions differ between --batch 3 and --batch 8"
    fi
  fi
else
  echo "skip: eval on $MODEL and $DATA (../shared is absent)"
fi

# usage_error NAME ARGS...: exit 2, "gta: error:", no output file
usage_error() {
  local name=$1
  shift
  rm -f "$tmp/u.json"
  "$GTA" "$@" >"$tmp/u.out" 2>"$tmp/u.err"
  local rc=$?
  local first
  first=$(head -n 1 "$tmp/u.err")
  if [ $rc = 2 ] && [[ $first == "gta: error:"* ]] && [ ! -e "$tmp/u.json" ] && [ ! -e "$tmp/u.html" ]; then
    ok "$name: exit 2, $first"
  else
    bad "$name: want exit 2 and 'gta: error:' and no file (rc $rc)" "$(cat "$tmp/u.err")"
  fi
}
usage_error "eval: missing split" eval --model "$MODEL" --data "$DATA" --split nope --out "$tmp/u.json"
usage_error "eval: bad --format" eval --model "$MODEL" --data "$DATA" --format cot --out "$tmp/u.json"
usage_error "eval: no --out" eval --model "$MODEL" --data "$DATA"
usage_error "eval: missing model" eval --model "$tmp/none" --data "$DATA" --out "$tmp/u.json"
usage_error "eval: missing data dir" eval --model "$MODEL" --data "$tmp/none" --out "$tmp/u.json"
usage_error "eval: --limit -1" eval --model "$MODEL" --data "$DATA" --limit -1 --out "$tmp/u.json"
usage_error "eval: bad --prompt-style" eval --model "$MODEL" --data "$DATA" --prompt-style short --out "$tmp/u.json"
usage_error "eval: --batch 0" eval --model "$MODEL" --data "$DATA" --batch 0 --out "$tmp/u.json"
usage_error "eval: output folder missing" eval --model "$MODEL" --data "$DATA" --out "$tmp/none/u.json"
usage_error "eval: unknown option" eval --model "$MODEL" --data "$DATA" --out "$tmp/u.json" --bogus 1
mkdir -p "$tmp/baddata" && printf 'a\nb\n' >"$tmp/baddata/labels.txt" && printf '{"text": "x", "label": "c"}\n' >"$tmp/baddata/test.jsonl"
usage_error "eval: label not in labels.txt" eval --model "$MODEL" --data "$tmp/baddata" --out "$tmp/u.json"

# --- report -------------------------------------------------------------------------------
run=$tmp/run-gta
mkdir -p "$run"
cat >"$run/config.json" <<'J'
{"method": "gta", "model": "models/tiny<b>", "data": "data/emotion", "seed": 0}
J
for s in 1 2 3 4 5 6 7 8 9 10 11 12; do
  printf '{"step": %d, "lr": 0.001, "loss": %s, "loss_sft": 1.5, "loss_rl": 0.1, "kl": 0.0%d, "reward": 0.%d, "reward_format": 0.5, "reward_accuracy": 0.%d, "guess_accuracy": 0.%d, "cos_sft_rl": -0.1, "conflict": %d}\n' \
    $s "$((20 - s))" $s $((s % 10)) $((s % 10)) $(((s + 3) % 10)) $((s % 2)) >>"$run/metrics.jsonl"
done
echo 'this line is not JSON' >>"$run/metrics.jsonl"
printf '{"step": 6, "accuracy": 0.25, "f1_weighted": 0.2, "n": 8}\n{"step": 12, "accuracy": 0.5, "f1_weighted": 0.45, "n": 8}\n' >"$run/eval.jsonl"
printf '{"step": 12, "gold": "joy", "completion": "<guess>joy</guess><think>a <script>alert(1)</script> & \\"quotes\\"</think><answer>joy</answer>", "reward": 2}\n' >"$run/samples.jsonl"
[ -s "$tmp/e-gta.json" ] && cp "$tmp/e-gta.json" "$run/eval.json"
run2=$tmp/run-sft-empty
mkdir -p "$run2"
echo '{"method": "sft", "model": "m", "data": "d"}' >"$run2/config.json"

"$GTA" report --run "$run" "$run2" --out "$tmp/r.html" >"$tmp/r.out" 2>"$tmp/r.err"
rc=$?
if [ $rc = 0 ] && [ -s "$tmp/r.html" ]; then ok "report exits 0 and writes the page"; else bad "report (rc $rc)" "$(cat "$tmp/r.err")"; fi
if grep -q '<svg' "$tmp/r.html" && grep -q '<polyline' "$tmp/r.html"; then ok "report: inline SVG charts"; else bad "report: no <svg>/<polyline>"; fi
if ! grep -qiE 'https?://|<script|<link |src=' "$tmp/r.html"; then ok "report: no URL, script, link or src (self-contained)"; else bad "report: external reference or script" "$(grep -oiE 'https?://[^"]*|<script[^>]*>|<link [^>]*>|src=[^ ]*' "$tmp/r.html" | head)"; fi
if grep -q '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;' "$tmp/r.html" && grep -q 'tiny&lt;b&gt;' "$tmp/r.html"; then
  ok "report: text from the files is escaped"
else
  bad "report: completion / config text not escaped"
fi
if grep -q 'do not parse and were skipped' "$tmp/r.html"; then ok "report: a bad metrics line is reported, not fatal"; else bad "report: bad line not mentioned"; fi
if grep -q 'No final eval result' "$tmp/r.html"; then ok "report: a run without eval says so"; else bad "report: missing-eval note"; fi
if grep -q 'Table 2' "$tmp/r.html" && grep -q 'Figure 5' "$tmp/r.html" && grep -q 'Figure 6' "$tmp/r.html"; then ok "report: table and figure sections"; else bad "report: sections missing"; fi
if [ -s "$run/eval.json" ]; then
  if grep -q 'aria-label="confusion matrix"' "$tmp/r.html"; then ok "report: confusion heat map"; else bad "report: no confusion heat map"; fi
  "$GTA" report --run "$run" --eval "$tmp/e-sft.json" --out "$tmp/r2.html" 2>"$tmp/r.err"
  if [ $? = 0 ] && grep -q '>Base<' "$tmp/r2.html"; then ok "report --eval: a standalone eval in the Base column"; else bad "report --eval" "$(cat "$tmp/r.err")"; fi
fi
usage_error "report: no --run" report --out "$tmp/u.html"
usage_error "report: no --out" report --run "$run"
usage_error "report: missing directory" report --run "$tmp/none" --out "$tmp/u.html"
mkdir -p "$tmp/emptydir"
usage_error "report: directory with no run files" report --run "$tmp/emptydir" --out "$tmp/u.html"
echo '{"not": "an eval"}' >"$tmp/noteval.json"
usage_error "report: --eval file that is not an eval" report --run "$run" --eval "$tmp/noteval.json" --out "$tmp/u.html"
finish
