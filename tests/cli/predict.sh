#!/usr/bin/env bash
# gta predict, the task a trained model carries, Hub names and the checkpoint dtype, on the
# repository's own base model and data slice (nothing from ../shared):
#  - a short SFT run on examples/emotion writes gta_task.json; eval and predict need no
#    prompt flags (eval without them equals eval with them);
#  - predict's fields per line; --scores sum to 1 (how often their argmax is the greedy
#    answer is printed); --batch 1 gives what --batch 5 gives;
#    JSON Lines, CSV and stdin give the same predictions; a malformed line is an error
#    naming file:line before any output;
#  - a bf16 base trained 0 effective steps (learning rate 0) comes out bit-identical, and
#    --save-dtype f32 writes the same values widened;
#  - Org/Name resolves from a Hugging Face cache tree made here; a missing name or
#    revision exits 2 naming where it looked.
#
#   GTA=build/gta tests/cli/predict.sh     (from the repository root)
set -u
NAME=predict
. "$(dirname "$0")/common.bash"
BASE=models/gta-base-5m
DATA=examples/emotion
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

"$GTA" predict --help >"$tmp/h.out" 2>&1
if [ $? = 0 ] && grep -q -- '--scores' "$tmp/h.out" && grep -q -- '--field' "$tmp/h.out"; then ok "predict --help"; else bad "predict --help" "$(cat "$tmp/h.out")"; fi

if [ ! -f "$BASE/model.safetensors" ] || [ ! -f "$DATA/test.jsonl" ]; then
  bad "$BASE and $DATA are in the repository"
  finish
fi
if ! command -v python3 >/dev/null; then
  bad "python3 is needed by this test"
  finish
fi

# --- a trained model carries its task --------------------------------------------------------
run=$tmp/sft
"$GTA" train --method sft --model "$BASE" --data "$DATA" --out "$run" --steps 30 --batch-prompts 8 \
  --learning-rate 5e-4 --prompt-style compact --max-prompt-tokens 256 --max-new-tokens 24 --save-steps 0 \
  >"$tmp/t.out" 2>&1
if [ $? = 0 ] && [ -f "$run/final/gta_task.json" ]; then ok "train writes final/gta_task.json"; else bad "train" "$(tail -5 "$tmp/t.out")"; fi
msg=$(python3 - "$run/final/gta_task.json" "$DATA/labels.txt" <<'PY' 2>&1
import json, sys
t = json.load(open(sys.argv[1]))
labels = [l for l in open(sys.argv[2]).read().split("\n") if l]
assert t == {"gta_task": 1, "method": "sft", "format": "sft", "labels": labels, "prompt_style": "compact",
             "max_prompt_tokens": 256, "system_prompt": None, "max_new_tokens": 24}, t
PY
)
if [ -z "$msg" ]; then ok "gta_task.json: labels, format, prompt settings"; else bad "gta_task.json" "$msg"; fi

"$GTA" eval --model "$run/final" --data "$DATA" --limit 24 --quiet --out "$tmp/e1.json" 2>"$tmp/e.err" &&
  "$GTA" eval --model "$run/final" --data "$DATA" --limit 24 --quiet --format sft --prompt-style compact \
    --max-prompt-tokens 256 --max-new-tokens 24 --out "$tmp/e2.json" 2>>"$tmp/e.err"
msg=$(python3 - "$tmp/e1.json" "$tmp/e2.json" <<'PY' 2>&1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("format", "max_prompt_tokens", "max_new_tokens", "accuracy", "confusion", "format_ok_rate"):
    assert a[k] == b[k], (k, a[k], b[k])
assert a["format"] == "sft" and a["max_prompt_tokens"] == 256
assert [e["completion"] for e in a["examples"]] == [e["completion"] for e in b["examples"]]
PY
)
if [ -z "$msg" ]; then ok "eval without prompt flags = eval with the training flags"; else bad "eval from gta_task.json" "$msg$(cat "$tmp/e.err")"; fi

# --- predict ---------------------------------------------------------------------------------
"$GTA" predict --model "$run/final" --input "$DATA/test.jsonl" --limit 40 --scores --out "$tmp/p.jsonl" \
  >"$tmp/p.out" 2>"$tmp/p.err"
rc=$?
if [ $rc = 0 ] && [ ! -s "$tmp/p.out" ] && grep -q "predict: 40/40" "$tmp/p.err"; then ok "predict --out: exit 0, progress on stderr, nothing on stdout"; else bad "predict (rc $rc)" "$(cat "$tmp/p.err")"; fi
msg=$(python3 - "$tmp/p.jsonl" "$DATA" <<'PY' 2>&1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
labels = [l for l in open(sys.argv[2] + "/labels.txt").read().split("\n") if l]
src = [json.loads(l) for l in open(sys.argv[2] + "/test.jsonl")][:40]
assert len(rows) == 40, len(rows)
named = agree = right = 0
for i, r in enumerate(rows):
    assert r["line"] == i + 1
    assert set(r) == {"line", "label", "completion", "finish", "format_ok", "truncated", "scores"}, set(r)
    assert r["label"] is None or r["label"] in labels
    assert r["finish"] in ("eos", "stop", "length")
    # the label is what the completion's one <answer> names
    c = r["completion"]
    if r["label"] is not None:
        assert c.count("<answer>") == 1 and c.split("<answer>")[1].split("</answer>")[0].strip().lower() == r["label"]
    s = r["scores"]
    assert list(s) == labels
    assert abs(sum(s.values()) - 1) < 1e-9 and all(0 <= v <= 1 for v in s.values())
    if r["label"] is not None:
        named += 1
        agree += max(s, key=s.get) == r["label"]
        right += r["label"] == src[i]["label"]
print(f"INFO {named} of 40 answers name a label; the scores' argmax equals it in {agree}; {right} correct")
assert named >= 20, "the SFT model should answer with labels"
# agreement is counted, not required: the greedy path (the most probable token at each step)
# need not be the most probable label sequence, and a short run's flat distributions often
# make them differ (docs/predict.md)
PY
)
if echo "$msg" | grep -q "^INFO" && [ "$(echo "$msg" | grep -vc '^INFO')" = 0 ]; then
  ok "predict: fields, scores sum to 1 ($(echo "$msg" | sed 's/^INFO //'))"
else
  bad "predict output" "$msg"
fi

"$GTA" predict --model "$run/final" --input "$DATA/test.jsonl" --limit 11 --scores --batch 1 --quiet >"$tmp/b1.jsonl" &&
  "$GTA" predict --model "$run/final" --input "$DATA/test.jsonl" --limit 11 --scores --batch 5 --quiet >"$tmp/b5.jsonl"
msg=$(python3 - "$tmp/b1.jsonl" "$tmp/b5.jsonl" <<'PY' 2>&1
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
assert len(a) == len(b) == 11
for x, y in zip(a, b):
    for k in ("line", "label", "completion", "finish", "format_ok"):
        assert x[k] == y[k], (k, x[k], y[k])
    assert max(abs(x["scores"][k] - y["scores"][k]) for k in x["scores"]) < 1e-5
PY
)
if [ -z "$msg" ]; then ok "predict --batch 5 = --batch 1"; else bad "batched vs one at a time" "$msg"; fi

# the same texts as CSV (with commas, quotes and a line break added) and on stdin
python3 - "$DATA/test.jsonl" "$tmp/in.jsonl" "$tmp/in.csv" <<'PY'
import csv, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][:6]
rows[1]["text"] += ', "really"'
rows[2]["text"] = rows[2]["text"].replace(" ", "\n", 1)
with open(sys.argv[2], "w") as f:
    for i, r in enumerate(rows):
        f.write(json.dumps({"id": i, "body": r["text"]}) + "\n")
with open(sys.argv[3], "w", newline="") as f:
    w = csv.writer(f, lineterminator="\r\n")
    w.writerow(["id", "body"])
    for i, r in enumerate(rows):
        w.writerow([i, r["text"]])
PY
"$GTA" predict --model "$run/final" --input "$tmp/in.jsonl" --field body --quiet >"$tmp/j.out" 2>"$tmp/j.err"
"$GTA" predict --model "$run/final" --input "$tmp/in.csv" --field body --quiet >"$tmp/c.out" 2>>"$tmp/j.err"
"$GTA" predict --model "$run/final" --input - --field body --quiet <"$tmp/in.jsonl" >"$tmp/s.out" 2>>"$tmp/j.err"
"$GTA" predict --model "$run/final" --input - --input-format csv --field body --quiet <"$tmp/in.csv" >"$tmp/sc.out" 2>>"$tmp/j.err"
msg=$(python3 - "$tmp/j.out" "$tmp/c.out" "$tmp/s.out" "$tmp/sc.out" <<'PY' 2>&1
import json, sys
outs = [[json.loads(l) for l in open(p)] for p in sys.argv[1:]]
assert all(len(o) == 6 for o in outs), [len(o) for o in outs]
key = lambda o: [(r["label"], r["completion"]) for r in o]
assert key(outs[0]) == key(outs[1]) == key(outs[2]) == key(outs[3])
assert [r["line"] for r in outs[0]] == [1, 2, 3, 4, 5, 6]
assert [r["line"] for r in outs[1]] == [2, 3, 4, 6, 7, 8], [r["line"] for r in outs[1]]  # CSV: record start lines
PY
)
if [ -z "$msg" ]; then ok "JSON Lines, CSV and stdin give the same predictions"; else bad "input formats" "$msg$(cat "$tmp/j.err")"; fi

printf '{"text": "fine"}\n{"text": "also fine"}\n{"text": "broken\n' >"$tmp/bad.jsonl"
"$GTA" predict --model "$run/final" --input "$tmp/bad.jsonl" --out "$tmp/bad.out" >"$tmp/bad.stdout" 2>"$tmp/bad.err"
rc=$?
if [ $rc = 2 ] && grep -q "gta: error: $tmp/bad.jsonl:3" "$tmp/bad.err" && [ ! -e "$tmp/bad.out" ]; then ok "a malformed line: exit 2 naming file:line, no output file"; else bad "malformed line (rc $rc)" "$(cat "$tmp/bad.err")"; fi
"$GTA" predict --model "$run/final" --input "$tmp/bad.jsonl" >"$tmp/bad.stdout" 2>"$tmp/bad.err"
rc=$?
if [ $rc = 2 ] && [ ! -s "$tmp/bad.stdout" ]; then ok "a malformed line: nothing on stdout"; else bad "malformed line to stdout (rc $rc)" "$(cat "$tmp/bad.stdout")"; fi
printf 'id,text\n1,"ok"\n2,"unclosed\n' >"$tmp/bad.csv"
"$GTA" predict --model "$run/final" --input "$tmp/bad.csv" >"$tmp/bad.stdout" 2>"$tmp/bad.err"
rc=$?
if [ $rc = 2 ] && grep -q "bad.csv:3: a quoted field is not closed" "$tmp/bad.err" && [ ! -s "$tmp/bad.stdout" ]; then ok "a malformed CSV record: exit 2 naming file:line"; else bad "malformed CSV (rc $rc)" "$(cat "$tmp/bad.err")"; fi
"$GTA" predict --model "$BASE" --input "$tmp/in.jsonl" --field body >"$tmp/x.out" 2>"$tmp/x.err"
rc=$?
if [ $rc = 2 ] && grep -q "gta_task.json.*--labels" "$tmp/x.err"; then ok "a model without a task needs --labels"; else bad "no task (rc $rc)" "$(cat "$tmp/x.err")"; fi

# --- the checkpoint's dtype ------------------------------------------------------------------
for sd in auto f32; do
  "$GTA" train --method sft --model "$BASE" --data "$DATA" --out "$tmp/lr0-$sd" --steps 1 --batch-prompts 2 \
    --learning-rate 0 --prompt-style compact --max-prompt-tokens 128 --save-dtype $sd >"$tmp/lr0.out" 2>&1 ||
    bad "train --learning-rate 0 --save-dtype $sd" "$(tail -3 "$tmp/lr0.out")"
done
msg=$(python3 - "$BASE/model.safetensors" "$tmp/lr0-auto/final/model.safetensors" "$tmp/lr0-f32/final/model.safetensors" "$tmp/lr0-auto/checkpoint/model.safetensors" <<'PY' 2>&1
import json, struct, sys
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]) for k, v in h.items()}
base, auto, f32, ck = (load(p) for p in sys.argv[1:5])
assert set(base) == set(auto) == set(f32)
assert all(d == "BF16" for d, _, _ in base.values())
for k in base:
    assert auto[k] == base[k], k + " differs"                    # bit-identical bf16
    assert f32[k][0] == "F32" and f32[k][1] == base[k][1]
    widened = b"".join(b"\0\0" + base[k][2][i:i + 2] for i in range(0, len(base[k][2]), 2))
    assert f32[k][2] == widened, k + ": f32 is not the widened bf16"
    assert ck[k][0] == "F32"                                     # checkpoints stay f32
# config.json says the dtype the weights are written in (transformers loads them in it)
d = sys.argv[2].rsplit("/", 1)[0]
for path, want in ((d + "/config.json", "bfloat16"), (sys.argv[3].rsplit("/", 1)[0] + "/config.json", "float32")):
    c = json.load(open(path))
    assert c["torch_dtype"] == want and c["dtype"] == want, f"{path}: torch_dtype {c['torch_dtype']}, not {want}"
PY
)
if [ -z "$msg" ]; then ok "bf16 in, 0 effective steps: final/ bit-identical, config.json bfloat16; --save-dtype f32 widens; checkpoint/ f32"; else bad "dtype" "$msg"; fi

# --- Hub names from a Hugging Face cache made here -------------------------------------------
hash=0123456789abcdef0123456789abcdef01234567
repo=$tmp/hub/models--gta--emotion-sft
mkdir -p "$repo/refs" "$repo/blobs" "$repo/snapshots/$hash"
printf '%s' "$hash" >"$repo/refs/main"
for f in "$run/final"/*; do
  b=$(sha256sum "$f" | cut -c1-64)
  cp "$f" "$repo/blobs/$b"
  ln -s "../../blobs/$b" "$repo/snapshots/$hash/$(basename "$f")"
done
HF_HUB_CACHE=$tmp/hub "$GTA" predict --model gta/emotion-sft --input "$tmp/in.jsonl" --field body --quiet >"$tmp/hub.out" 2>"$tmp/hub.err"
if [ $? = 0 ] && cmp -s "$tmp/hub.out" "$tmp/j.out"; then ok "predict --model Org/Name from HF_HUB_CACHE"; else bad "predict from the cache" "$(cat "$tmp/hub.err")"; fi
HF_HUB_CACHE=$tmp/hub "$GTA" eval --model gta/emotion-sft --revision "$hash" --data "$DATA" --limit 24 --quiet --out "$tmp/e3.json" 2>"$tmp/hub.err"
if [ $? = 0 ] && python3 -c "import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); assert a['accuracy']==b['accuracy']" "$tmp/e1.json" "$tmp/e3.json"; then ok "eval --model Org/Name --revision HASH"; else bad "eval from the cache" "$(cat "$tmp/hub.err")"; fi
HF_HUB_CACHE=$tmp/hub "$GTA" predict --model gta/other --input "$tmp/in.jsonl" --field body >"$tmp/x.out" 2>"$tmp/x.err"
rc=$?
if [ $rc = 2 ] && grep -q "gta: error: gta predict: --model: model 'gta/other'.*$tmp/hub/models--gta--other does not exist" "$tmp/x.err" && [ ! -s "$tmp/x.out" ]; then ok "a name not in the cache: exit 2 naming where it looked"; else bad "missing name (rc $rc)" "$(cat "$tmp/x.err")"; fi
HF_HUB_CACHE=$tmp/hub "$GTA" train --method sft --model gta/emotion-sft --revision v9 --data "$DATA" --out "$tmp/r9" --steps 1 >"$tmp/x.out" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "refs/v9 does not exist" "$tmp/x.out" && [ ! -e "$tmp/r9" ]; then ok "train --revision missing: exit 2 naming the ref"; else bad "missing revision (rc $rc)" "$(cat "$tmp/x.out")"; fi
rm -f "$repo/blobs/$(sha256sum "$run/final/config.json" | cut -c1-64)"
HF_HUB_CACHE=$tmp/hub "$GTA" generate --model gta/emotion-sft --prompt hi --max-new-tokens 2 >"$tmp/x.out" 2>&1
rc=$?
if [ $rc = 2 ] && grep -q "config.json is missing" "$tmp/x.out"; then ok "a snapshot whose config.json blob is gone: exit 2"; else bad "dangling snapshot file (rc $rc)" "$(cat "$tmp/x.out")"; fi

finish
