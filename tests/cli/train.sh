#!/usr/bin/env bash
# gta train end to end on the pretrained stories260K: exact resume (6 steps in one run
# equal 3 + resume + 3: metrics and weights), malformed datasets stopping the run before
# its first step with file:line, the run directory's files, and the old log-probs taken
# from the first update's forward equal to their own pass.
set -u
GTA=${GTA:-build/gta}
SHARED=${GTA_SHARED:-../shared}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$GTA" "$tmp/gta"
G="$tmp/gta"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

M="$SHARED/models/stories260K"
D="$SHARED/data/emotion"
if [ ! -d "$M" ] || [ ! -d "$D" ]; then
  echo "skip: no $M or $D (../shared is absent)"
  echo "train: 0 passed, 0 failed"
  exit 0
fi
common=(--model "$M" --data "$D" --max-prompt-tokens 440 --batch-prompts 2 --group-size 4 --max-new-tokens 24
        --learning-rate 1e-4 --num-iterations 2 --ref-sync-steps 4 --seed 5 --eval-steps 2 --eval-limit 4)

for method in gta grpo sft; do
  "$G" train --method "$method" "${common[@]}" --out "$tmp/a-$method" --steps 6 --save-steps 0 2>"$tmp/a.err" \
    && ok || { bad "$method: full run failed"; cat "$tmp/a.err"; }
  "$G" train --method "$method" "${common[@]}" --out "$tmp/b-$method" --steps 6 --save-steps 0 --stop-at-step 3 \
    2>"$tmp/b.err" && ok || { bad "$method: first half failed"; cat "$tmp/b.err"; }
  [ ! -d "$tmp/b-$method/final" ] && ok || bad "$method: a stopped run has no final model"
  "$G" train --method "$method" --out "$tmp/b-$method" --model "$M" --data "$D" --resume 2>"$tmp/c.err" \
    && ok || { bad "$method: resume failed"; cat "$tmp/c.err"; }
  strip() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d=json.loads(l); d.pop("seconds",None); d.pop("tokens_per_s",None); print(json.dumps(d,sort_keys=True))' "$1"; }
  if diff <(strip "$tmp/a-$method/metrics.jsonl") <(strip "$tmp/b-$method/metrics.jsonl") >/dev/null; then ok; else
    bad "$method: metrics differ after resume"; diff <(strip "$tmp/a-$method/metrics.jsonl") <(strip "$tmp/b-$method/metrics.jsonl") | head -5; fi
  [ "$(wc -l <"$tmp/a-$method/metrics.jsonl")" = 6 ] && ok || bad "$method: expected 6 metric lines"
  if diff <(strip "$tmp/a-$method/eval.jsonl") <(strip "$tmp/b-$method/eval.jsonl") >/dev/null; then ok; else
    bad "$method: eval.jsonl differs after resume"; fi
  [ "$(wc -l <"$tmp/a-$method/eval.jsonl")" = 3 ] && ok || bad "$method: expected 3 eval lines (steps 2, 4, 6)"
  cmp -s "$tmp/a-$method/final/model.safetensors" "$tmp/b-$method/final/model.safetensors" && ok \
    || bad "$method: final weights differ after resume"
  for f in config.json final/config.json final/tokenizer.json checkpoint/trainer_state.json; do
    [ -f "$tmp/a-$method/$f" ] && ok || bad "$method: missing $f"
  done
done
python3 - "$tmp/a-gta/config.json" <<'PY' && ok || bad "config.json lacks SPEC fields"
import json, sys
c = json.load(open(sys.argv[1]))
need = "method model data seed group_size num_iterations beta epsilon lambda_sft lambda_rl ref_sync_steps learning_rate max_prompt_tokens max_new_tokens temperature loss_aggregation save_steps".split()
missing = [k for k in need if k not in c]
sys.exit(1 if missing else 0)
PY
python3 - "$tmp/a-gta/metrics.jsonl" <<'PY' && ok || bad "metrics.jsonl lacks SPEC fields"
import json, sys
need = "step epoch lr loss loss_sft loss_rl kl reward reward_format reward_accuracy guess_accuracy cos_sft_rl conflict clip_frac frac_zero_std_groups completion_tokens_mean tokens_per_s seconds".split()
for l in open(sys.argv[1]):
    d = json.loads(l)
    if [k for k in need if k not in d]: sys.exit(1)
PY

# bf16 rollouts: the setting is recorded and resumes exactly like the fp32 default; a bad
# value is a clear error before any work
"$G" train --method gta "${common[@]}" --out "$tmp/h1" --steps 4 --save-steps 0 --rollout-weights bf16 2>"$tmp/h.err" \
  && ok || { bad "bf16 rollouts: run failed"; cat "$tmp/h.err"; }
python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["rollout_weights"] != "bf16")' "$tmp/h1/config.json" \
  && ok || bad "bf16 rollouts: config.json lacks rollout_weights bf16"
"$G" train --method gta "${common[@]}" --out "$tmp/h2" --steps 4 --save-steps 0 --rollout-weights bf16 --stop-at-step 2 \
  2>"$tmp/h.err" && "$G" train --out "$tmp/h2" --model "$M" --data "$D" --resume 2>>"$tmp/h.err" && ok \
  || { bad "bf16 rollouts: stop + resume failed"; cat "$tmp/h.err"; }
cmp -s "$tmp/h1/final/model.safetensors" "$tmp/h2/final/model.safetensors" && ok \
  || bad "bf16 rollouts: resumed weights differ"
"$G" train --method gta "${common[@]}" --out "$tmp/h3" --steps 4 --rollout-weights fp16 2>"$tmp/h.err"
[ $? = 2 ] && grep -q "rollout_weights 'fp16': expected fp32, bf16 or model" "$tmp/h.err" && [ ! -e "$tmp/h3" ] && ok \
  || { bad "bf16 rollouts: a bad value is exit 2 before any output"; cat "$tmp/h.err"; }

# malformed datasets: gta: error: naming file:line, exit 2, before any step
mk() { d="$tmp/ds-$1"; mkdir -p "$d"; printf 'joy\nsadness\n' >"$d/labels.txt"; printf '%s\n' "$2" >"$d/train.jsonl"; echo "$d"; }
check_bad() {
  local name=$1 dir=$2 want=$3
  out="$tmp/run-$name"
  "$G" train --method sft --model "$M" --data "$dir" --out "$out" --steps 1 --max-prompt-tokens 440 2>"$tmp/e.err"
  rc=$?
  if [ $rc = 2 ] && grep -q "^gta: error: .*$want" "$tmp/e.err" && [ ! -f "$out/metrics.jsonl" ]; then ok; else
    bad "$name: rc=$rc, stderr: $(cat "$tmp/e.err")"; fi
}
check_bad broken-line "$(mk broken '{"text": "a", "label": "joy"}
{"text": "b", "label": ')" "train.jsonl:2"
check_bad unknown-label "$(mk unknown '{"text": "a", "label": "joy"}
{"text": "b", "label": "anger"}')" "train.jsonl:2.*anger"
check_bad missing-field "$(mk missing '{"label": "joy"}')" "train.jsonl:1"
d=$(mk utf8 '{"text": "ok", "label": "joy"}'); printf '{"text": "\xff\xfe", "label": "joy"}\n' >>"$d/train.jsonl"
check_bad invalid-utf8 "$d" "train.jsonl:2"
d=$(mk empty-labels '{"text": "a", "label": "joy"}'); : >"$d/labels.txt"
check_bad empty-labels "$d" "labels.txt"
"$G" train --method nope --model "$M" --data "$D" --out "$tmp/x" 2>"$tmp/e.err"; [ $? = 2 ] && ok || bad "bad method not exit 2"
"$G" train --method gta --bogus 1 2>"$tmp/e.err"; [ $? = 2 ] && grep -q "gta: error:" "$tmp/e.err" && ok || bad "unknown option"
# the old log-probs taken from each rollout's first update (the default) against a pass
# of their own (GTA_OLD_LOGPS_PASS=1): the same function, so the same metrics (within 1e-6
# relative) for gta, grpo and grpo without a reference (--beta 0: ref_lp are a copy); with
# stories260K only gta has a signal (its guess SFT moves the policy, hence the KL)
olp=(--model "$M" --data "$D" --max-prompt-tokens 440 --batch-prompts 2 --group-size 4 --max-new-tokens 24
     --learning-rate 3e-3 --num-iterations 2 --ref-sync-steps 4 --seed 7 --save-steps 0 --steps 4)
for v in "gta" "grpo" "grpo --beta 0"; do
  n=${v// /_}
  "$G" train --method $v "${olp[@]}" --out "$tmp/o1-$n" 2>"$tmp/o.err" \
    && GTA_OLD_LOGPS_PASS=1 "$G" train --method $v "${olp[@]}" --out "$tmp/o2-$n" 2>>"$tmp/o.err" \
    || { bad "old log-probs $v: a run failed: $(tail -3 "$tmp/o.err")"; continue; }
  out=$(python3 - "$tmp/o1-$n/metrics.jsonl" "$tmp/o2-$n/metrics.jsonl" "$v" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 4, (len(a), len(b))
worst = 0.0
for x, y in zip(a, b):
    for k, v in x.items():
        if k in ("seconds", "tokens_per_s") or not isinstance(v, (int, float)):
            continue
        d = abs(v - y[k]) / max(abs(v), abs(y[k]), 1e-12)
        assert d <= 1e-6, (x["step"], k, v, y[k])
        worst = max(worst, d)
assert any(x["kl"] > 0 or x["loss_rl"] != 0 for x in a) or sys.argv[3] != "gta", "no RL signal (kl and loss_rl all 0)"
print(f"worst relative difference {worst:.2g}")
PY
  ) && ok || bad "old log-probs from the first update ($v) = their own pass: $out"
done
echo "train: $pass passed, $fail failed"
[ "$fail" = 0 ]
