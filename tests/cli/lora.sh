#!/usr/bin/env bash
# LoRA end to end on the pretrained stories260K: a gta run with an adapter (dropout on)
# resumed at a checkpoint taken between the steps of one rollout ends with the same
# metrics and the same adapter bytes as an uninterrupted run; checkpoint/ and final/ are
# PEFT adapter directories (config keys, tensor names and shapes); the reference is an
# adapter copy; gta merge folds the adapter in, and the merged model generates and scores
# what the base + --adapter does; --adapter continues training; bad adapters are errors.
set -u
NAME=lora
. "$(dirname "$0")/common.bash"
G=$GTA
M="$GTA_SHARED/models/stories260K"
D="$GTA_SHARED/data/emotion"
if [ ! -d "$M" ]; then
  echo "skip: no $M"
  finish
fi
common=(--method gta --model "$M" --data "$D" --max-prompt-tokens 440 --batch-prompts 1 --group-size 4
        --max-new-tokens 16 --learning-rate 3e-3 --num-iterations 2 --ref-sync-steps 2 --seed 3
        --lora-r 4 --lora-alpha 8 --lora-dropout 0.1 --lora-targets q_proj,v_proj,down_proj)
"$G" train "${common[@]}" --out "$tmp/a" --steps 4 --save-steps 0 2>"$tmp/a.err" \
  && ok "uninterrupted LoRA run" || bad "uninterrupted LoRA run" "$(tail -5 "$tmp/a.err")"
"$G" train "${common[@]}" --out "$tmp/b" --steps 4 --save-steps 0 --stop-at-step 3 2>"$tmp/b.err" \
  && "$G" train --out "$tmp/b" --model "$M" --data "$D" --resume 2>>"$tmp/b.err" \
  && ok "LoRA run stopped at step 3 (inside a rollout) and resumed" || bad "stop + resume" "$(tail -5 "$tmp/b.err")"
strip() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d=json.loads(l); d.pop("seconds",None); d.pop("tokens_per_s",None); print(json.dumps(d,sort_keys=True))' "$1"; }
[ -s "$tmp/a/metrics.jsonl" ] && [ "$(wc -l <"$tmp/b/metrics.jsonl")" = 4 ] \
  && diff <(strip "$tmp/a/metrics.jsonl") <(strip "$tmp/b/metrics.jsonl") >/dev/null \
  && ok "resumed metrics equal the uninterrupted run's" || bad "metrics differ after resume"
cmp -s "$tmp/a/final/adapter_model.safetensors" "$tmp/b/final/adapter_model.safetensors" \
  && ok "resumed adapter equals the uninterrupted run's, byte for byte" || bad "final adapters differ after resume"
grep -q "reference adapter" "$tmp/a.err" && ! grep -q "reference weights" "$tmp/a.err" \
  && ok "the plan's reference is an adapter copy, not a model copy" || bad "plan lists a reference model copy"

python3 - "$tmp/a" "$M" <<'PY' && ok "checkpoint/ and final/ are PEFT adapter directories" || bad "PEFT layout"
import json, os, struct, sys
run, base = sys.argv[1], sys.argv[2]
cfg = json.load(open(os.path.join(base, "config.json")))
d, L = cfg["hidden_size"], cfg["num_hidden_layers"]
hd = cfg.get("head_dim", d // cfg["num_attention_heads"])
q, f = cfg["num_attention_heads"] * hd, cfg["intermediate_size"]
for sub in ("final", "checkpoint"):
    p = os.path.join(run, sub)
    assert not os.path.exists(os.path.join(p, "model.safetensors")), "a full model was written"
    c = json.load(open(os.path.join(p, "adapter_config.json")))
    want = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "lora_alpha": 8, "lora_dropout": 0.1,
            "bias": "none", "fan_in_fan_out": False, "use_rslora": False, "base_model_name_or_path": base,
            "inference_mode": True}
    for k, v in want.items():
        assert c[k] == v, (k, c[k], v)
    assert sorted(c["target_modules"]) == ["down_proj", "q_proj", "v_proj"], c["target_modules"]
    b = open(os.path.join(p, "adapter_model.safetensors"), "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    names = {}
    for l in range(L):
        for mod, i, o in (("self_attn.q_proj", d, q), ("self_attn.v_proj", d, cfg["num_key_value_heads"] * hd),
                          ("mlp.down_proj", f, d)):
            pre = "base_model.model.model.layers.%d.%s." % (l, mod)
            names[pre + "lora_A.weight"] = [4, i]
            names[pre + "lora_B.weight"] = [o, 4]
    assert set(h) == set(names), sorted(set(h) ^ set(names))[:4]
    for k, shp in names.items():
        assert h[k]["shape"] == shp, (k, h[k]["shape"], shp)
    # training moved B off PEFT's zero init
    s, e = h["base_model.model.model.layers.0.mlp.down_proj.lora_B.weight"]["data_offsets"]
    vals = struct.unpack("<%df" % ((e - s) // 4), b[8 + n + s:8 + n + e])
    assert max(abs(v) for v in vals) > 0, "B is still zero"
PY

# merge: the merged model decodes and scores as base + adapter
"$G" merge --model "$M" --adapter "$tmp/a/final" --out "$tmp/merged" 2>"$tmp/m.err" \
  && [ -f "$tmp/merged/model.safetensors" ] && [ -f "$tmp/merged/config.json" ] && [ -f "$tmp/merged/tokenizer.json" ] \
  && ok "gta merge writes a model directory" || bad "gta merge" "$(cat "$tmp/m.err")"
"$G" generate --model "$M" --adapter "$tmp/a/final" --prompt "Once upon a time" --max-new-tokens 24 --greedy \
  >"$tmp/g1" 2>/dev/null && "$G" generate --model "$tmp/merged" --prompt "Once upon a time" --max-new-tokens 24 \
  --greedy >"$tmp/g2" 2>/dev/null && cmp -s "$tmp/g1" "$tmp/g2" \
  && ok "generate: merged model = base + --adapter" || bad "generate differs between merged and adapter"
ev=(--data "$D" --split validation --limit 3 --max-new-tokens 16 --max-prompt-tokens 440 --quiet)
"$G" eval --model "$M" --adapter "$tmp/a/final" "${ev[@]}" --out "$tmp/e1.json" 2>/dev/null \
  && "$G" eval --model "$tmp/merged" "${ev[@]}" --out "$tmp/e2.json" 2>/dev/null \
  && python3 -c 'import json,sys
a,b=(json.load(open(p)) for p in sys.argv[1:3])
for k in ("accuracy","format_ok_rate","examples"): assert a.get(k)==b.get(k),k
assert a["adapter"]' "$tmp/e1.json" "$tmp/e2.json" \
  && ok "eval: merged model = base + --adapter" || bad "eval differs between merged and adapter"

# predict: the task comes from the adapter's gta_task.json; base + --adapter = merged
head -3 "$D/validation.jsonl" >"$tmp/in.jsonl"
"$G" predict --model "$M" --adapter "$tmp/a/final" --input "$tmp/in.jsonl" --scores --quiet >"$tmp/p1" 2>"$tmp/p1.err" \
  && "$G" predict --model "$tmp/merged" --input "$tmp/in.jsonl" --scores --quiet >"$tmp/p2" 2>/dev/null \
  && python3 -c 'import json,sys
a,b=([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
assert len(a)==len(b)==3
for x,y in zip(a,b):
    assert x["completion"]==y["completion"] and x["label"]==y["label"], (x,y)
    assert max(abs(x["scores"][k]-y["scores"][k]) for k in x["scores"])<1e-4' "$tmp/p1" "$tmp/p2" \
  && ok "predict: base + --adapter (task from the adapter) = merged model" \
  || bad "predict --adapter" "$(tail -3 "$tmp/p1.err")"
# merge: gta_task.json carried over; the base's dtype unless --save-dtype; bf16 out when asked
python3 - "$tmp/merged" "$tmp/a/final" <<'PY' && ok "merged model: the adapter's gta_task.json, the base's dtype (f32)" \
  || bad "merged task / dtype"
import json, struct, sys
m, a = sys.argv[1:3]
assert json.load(open(m + "/gta_task.json")) == json.load(open(a + "/gta_task.json"))
b = open(m + "/model.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
assert {v["dtype"] for v in h.values()} == {"F32"}
PY
"$G" merge --model "$M" --adapter "$tmp/a/final" --out "$tmp/merged16" --save-dtype bf16 2>/dev/null \
  && python3 - "$tmp/merged16" "$tmp/merged" <<'PY' && ok "merge --save-dtype bf16: the merged weights rounded to bf16" || bad "merge --save-dtype bf16"
import json, struct, sys
def load(p):
    b = open(p + "/model.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); h.pop("__metadata__", None); return b[8 + n:], h
d16, h16 = load(sys.argv[1]); d32, h32 = load(sys.argv[2])
assert {v["dtype"] for v in h16.values()} == {"BF16"}
k = "model.layers.0.self_attn.q_proj.weight"
s, e = h16[k]["data_offsets"]; v16 = struct.unpack("<%dH" % ((e - s) // 2), d16[s:e])
s, e = h32[k]["data_offsets"]; v32 = struct.unpack("<%df" % ((e - s) // 4), d32[s:e])
def rne(f):
    u = struct.unpack("<I", struct.pack("<f", f))[0]
    return (u + 0x7FFF + ((u >> 16) & 1)) >> 16
assert all(a == rne(b) for a, b in zip(v16, v32))
PY

# --adapter continues training from an adapter (its config wins)
"$G" train --method sft --model "$M" --data "$D" --max-prompt-tokens 440 --batch-prompts 2 --adapter "$tmp/a/final" \
  --out "$tmp/c" --steps 1 --save-steps 0 --learning-rate 1e-3 2>"$tmp/c.err" \
  && python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert c["r"]==4 and c["lora_dropout"]==0.1' \
     "$tmp/c/final/adapter_config.json" \
  && ok "train --adapter continues from a PEFT adapter" || bad "train --adapter" "$(tail -3 "$tmp/c.err")"

# full fine-tuning with recomputation and a bf16 reference: stop + resume equals one run
ff=(--method gta --model "$M" --data "$D" --max-prompt-tokens 440 --batch-prompts 1 --group-size 4 --max-new-tokens 16
    --learning-rate 1e-3 --num-iterations 2 --ref-sync-steps 2 --seed 4 --recompute on --ref-dtype bf16)
"$G" train "${ff[@]}" --out "$tmp/f1" --steps 4 --save-steps 0 2>"$tmp/f1.err" \
  && "$G" train "${ff[@]}" --out "$tmp/f2" --steps 4 --save-steps 0 --stop-at-step 3 2>"$tmp/f2.err" \
  && "$G" train --out "$tmp/f2" --model "$M" --data "$D" --resume 2>>"$tmp/f2.err" \
  && cmp -s "$tmp/f1/final/model.safetensors" "$tmp/f2/final/model.safetensors" \
  && diff <(strip "$tmp/f1/metrics.jsonl") <(strip "$tmp/f2/metrics.jsonl") >/dev/null \
  && grep -q "reference weights .*bf16 matrices" "$tmp/f1.err" && grep -q "each layer's input kept" "$tmp/f1.err" \
  && ok "full fine-tuning, --recompute on --ref-dtype bf16: resumed = uninterrupted" \
  || bad "full fine-tuning with recompute and a bf16 reference" "$(tail -3 "$tmp/f1.err" "$tmp/f2.err")"
# a LoRA run over a base kept in bf16: no fp32 copy of it in the plan, no decode panels
"$G" train "${common[@]}" --base-dtype bf16 --out "$tmp/h" --steps 2 --save-steps 0 2>"$tmp/h.err" \
  && grep -q "base weights .*bf16 matrices, frozen" "$tmp/h.err" && ! grep -q "sampler weight panels" "$tmp/h.err" \
  && [ -f "$tmp/h/final/adapter_model.safetensors" ] \
  && ok "LoRA over a bf16 base trains; the plan holds the base once, in bf16" \
  || bad "LoRA over a bf16 base" "$(tail -3 "$tmp/h.err")"

# --rollout-weights model: no panel copy in the plan; the run trains
"$G" train "${common[@]}" --rollout-weights model --out "$tmp/rw" --steps 1 --save-steps 0 2>"$tmp/rw.err" \
  && ! grep -q "sampler weight panels" "$tmp/rw.err" && [ -f "$tmp/rw/final/adapter_model.safetensors" ] \
  && ok "--rollout-weights model: rollouts decode from the weights, no panels planned" \
  || bad "--rollout-weights model" "$(tail -3 "$tmp/rw.err")"

# errors: exit 2, "gta: error:" naming the file; nothing written
mkdir -p "$tmp/bad"
printf '{"peft_type": "LORA", "r": 4, "target_modules": ["q_proj", "lm_head"]}' >"$tmp/bad/adapter_config.json"
out=$("$G" merge --model "$M" --adapter "$tmp/bad" --out "$tmp/nope" 2>&1); rc=$?
[ $rc = 2 ] && [[ "$out" == "gta: error:"*adapter_config.json*lm_head* ]] && [ ! -e "$tmp/nope" ] \
  && ok "an unknown target module: exit 2 naming the file and module" || bad "bad target" "rc $rc: $out"
printf '{"peft_type": "LORA", "r": 2, "target_modules": ["q_proj"]}' >"$tmp/bad/adapter_config.json"
cp "$tmp/a/final/adapter_model.safetensors" "$tmp/bad/"
out=$("$G" eval --model "$M" --adapter "$tmp/bad" --data "$D" --out "$tmp/nope.json" 2>&1); rc=$?
[ $rc = 2 ] && [[ "$out" == "gta: error:"*adapter_model.safetensors*q_proj.lora_A* ]] && [ ! -e "$tmp/nope.json" ] \
  && ok "adapter shapes that do not match: exit 2 naming the tensor" || bad "bad shapes" "rc $rc: $out"
out=$("$G" train "${common[@]}" --lora-targets q_proj,lm_head --out "$tmp/nope" --steps 1 2>&1); rc=$?
[ $rc = 2 ] && [[ "$out" == "gta: error:"*lm_head* ]] && ok "train: a bad --lora-targets is exit 2" || bad "bad --lora-targets" "$out"
finish
