#!/usr/bin/env bash
# gta bench --what grpo-step|gta-step at a tiny shape (a 2-layer random-weight Qwen2 config):
# the JSON object has the baseline's phases, in every run the phase seconds add up to the
# step's (within 5% + 20 ms: only the timer calls between them are outside; the medians of
# the phases, taken over the runs one phase at a time as the baseline does, need not), the token counts are the shape's
# (P*G*(L+N) per forward as the baseline counts them; gta's tree batch P*(L+G*N) plus an
# 8-token gold-guess branch per prompt for the GTA step), the loss is finite; bad options
# end with `gta: error:`, exit 2, and nothing on stdout.
set -u
NAME=bench
. "$(dirname "$0")/common.bash"
cat >"$tmp/config.json" <<'EOF'
{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128,
 "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 512,
 "max_position_embeddings": 1024, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "tie_word_embeddings": true}
EOF
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

for what in grpo-step gta-step; do
  if "$GTA" bench --what $what --config "$tmp/config.json" --prompts 2 --group-size 3 --prompt-len 12 \
    --new-tokens 5 --num-iterations 2 --repeat 3 >"$tmp/$what.json" 2>"$tmp/err"; then
    ok "$what runs at a tiny shape"
  else
    bad "$what runs at a tiny shape" "$(cat "$tmp/err")"
    continue
  fi
  msg=$(python3 - "$tmp/$what.json" "$what" <<'PY'
import json, math, sys
j = json.load(open(sys.argv[1])); what = sys.argv[2]
P, G, L, N, U = 2, 3, 12, 5, 2
errs = []
phases = ["generate", "batch", "old_logps", "ref_logps", "updates"]
for k in ["what", "config", "seconds", "seconds_median", "seconds_all", "tokens_per_forward", "batch_tokens",
          "generated_tokens", "peak_rss_mib", "loss", "threads", "compute"]:
    if k not in j: errs.append(f"missing {k}")
if errs: print("; ".join(errs)); sys.exit(0)
if j["what"] != what: errs.append(f"what {j['what']}")
if (j["prompts"], j["group_size"], j["prompt_len"], j["new_tokens"], j["num_iterations"], j["runs"]) != (P, G, L, N, U, 3):
    errs.append("shape not echoed")
if j["compute"] != "f32": errs.append("compute")
for run in j["seconds_all"]:
    if any(run[p] < 0 for p in phases): errs.append(f"negative phase {run}")
    s = sum(run[p] for p in phases)
    if abs(s - run["total"]) > 0.05 * run["total"] + 0.02: errs.append(f"phases sum {s} vs total {run['total']}")
if len(j["seconds_all"]) != 3: errs.append("seconds_all has not 3 runs")
tot = sorted(r["total"] for r in j["seconds_all"])[1]
if not j["min"] <= j["seconds"] <= j["max"] or abs(j["min"] - min(r["total"] for r in j["seconds_all"])) > 1e-3:
    errs.append("min/max")
if abs(j["seconds"] - tot) > 1e-3 or abs(j["seconds_median"]["total"] - tot) > 1e-3: errs.append("seconds is not the median total")
if j["seconds"] <= 0 or j["seconds_median"]["updates"] <= 0 or j["seconds_median"]["generate"] <= 0: errs.append("zero times")
if j["tokens_per_forward"] != P * G * (L + N): errs.append(f"tokens_per_forward {j['tokens_per_forward']}")
if j["generated_tokens"] != P * G * N: errs.append("generated_tokens")
want = P * (L + G * N) + (P * 8 if what == "gta-step" else 0)
if j["batch_tokens"] != want: errs.append(f"batch_tokens {j['batch_tokens']} != {want}")
if not math.isfinite(j["loss"]): errs.append("loss")
if what == "gta-step" and not -1 <= j["gate_cosine"] <= 1: errs.append("gate_cosine")
if what == "grpo-step" and "gate_cosine" in j: errs.append("gate_cosine in a GRPO step")
if not 1 <= j["peak_rss_mib"] < 4096: errs.append("peak_rss_mib")
print("; ".join(errs))
PY
)
  [ -z "$msg" ] && ok "$what: fields, shape, token counts, phases add up to the total" || bad "$what: JSON" "$msg"
done

check() { # name, expected message pattern, args...
  local what=$1 pat=$2
  shift 2
  "$GTA" bench "$@" >"$tmp/o" 2>"$tmp/e"
  local rc=$?
  if [ $rc = 2 ] && grep -q "^gta: error:.*$pat" "$tmp/e" && [ ! -s "$tmp/o" ]; then ok "$what"
  else bad "$what" "rc=$rc $(cat "$tmp/e")"; fi
}
S=(--what grpo-step --config "$tmp/config.json" --prompt-len 4 --new-tokens 2)
check "--group-size 1: exit 2" "group-size" "${S[@]}" --group-size 1
check "--prompts 0: exit 2" "prompts" "${S[@]}" --prompts 0
check "--new-tokens 0: exit 2" "new-tokens" "${S[@]}" --new-tokens 0
check "--num-iterations 0: exit 2" "num-iterations" "${S[@]}" --num-iterations 0
check "--repeat 0: exit 2" "runs" "${S[@]}" --repeat 0
check "--prompts x: exit 2" "integer" "${S[@]}" --prompts x
j=$("$GTA" bench "${S[@]}" --compute bf16 2>"$tmp/e")
echo "$j" | grep -q '"compute":"bf16"' && ok "--compute bf16: the step in bf16 compute" \
  || bad "--compute bf16: the step in bf16 compute" "$j $(cat "$tmp/e")"
check "--compute f16: exit 2" "expected f32 or bf16" "${S[@]}" --compute f16
check "--prompts with --what train: exit 2" "grpo-step and gta-step" --what train --prompts 3
check "--what unknown: exit 2" "gta-step" --what grpo
check "--config unknown: exit 2" "q05" --what gta-step --config nope
finish
