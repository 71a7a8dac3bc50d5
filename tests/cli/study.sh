#!/usr/bin/env bash
# The study script (scripts/study.sh) end to end at toy size (STUDY_SMOKE=1): base built from
# scratch, every run and eval present, the tables equal to the eval files they cite, no
# dataset label in the pretraining documents, and a second invocation that changes nothing.
NAME=study
source "$(dirname "$0")/common.bash"
out=$tmp/study
if [ ! -d "$GTA_SHARED/data/emotion" ]; then
  echo "skip: no datasets at $GTA_SHARED/data (../shared is absent)"
  finish
fi
DATASETS=(sst5 massive_scenario emotion bbc_news)

if STUDY_SMOKE=1 GTA=$GTA GTA_SHARED=$GTA_SHARED scripts/study.sh "$out" >"$tmp/log" 2>&1; then
  ok "smoke study runs to the end"
else
  bad "smoke study runs to the end" "$(tail -20 "$tmp/log")"
  finish
fi

missing=""
for ds in "${DATASETS[@]}"; do
  for r in base base-gta sft sft-steps grpo gta; do [ -f "$out/runs/$ds/$r/eval.json" ] || missing+=" $ds/$r"; done
done
for r in gta-rl grpo-long gta-long; do [ -f "$out/runs/sst5/$r/eval.json" ] || missing+=" sst5/$r"; done
[ -z "$missing" ] && ok "every run has its eval.json" || bad "every run has its eval.json" "missing:$missing"

for f in report.html report-long.html results.md base/model/model.safetensors; do
  [ -s "$out/$f" ] && ok "$f written" || bad "$f written"
done

# every model is scored on the same test subset, trained on the same training subset
if python3 - "$out" "$GTA_SHARED/data" <<'PY'; then
import json, os, sys
out, shared = sys.argv[1:]
for ds in ("sst5", "massive_scenario", "emotion", "bbc_news"):
    man = json.load(open(f"{out}/data/{ds}/manifest.json"))
    assert man["train"]["n"] == 8 and man["test"]["n"] == 12, man
    src = open(f"{shared}/{ds}/test.jsonl").read().split("\n")
    sub = open(f"{out}/data/{ds}/test.jsonl").read().split("\n")
    for line_no, line in zip(man["test"]["source_lines"], sub):
        assert src[line_no - 1] == line, (ds, line_no)
    runs = [r for r in os.listdir(f"{out}/runs/{ds}") if os.path.isdir(f"{out}/runs/{ds}/{r}")]
    for r in runs:
        e = json.load(open(f"{out}/runs/{ds}/{r}/eval.json"))
        assert e["n"] == 12 and e["split_name"] == "test", (ds, r, e["n"])
        assert os.path.samefile(e["data"], f"{out}/data/{ds}"), (ds, r, e["data"])
    for r in ("sft", "grpo", "gta"):
        cfg = json.load(open(f"{out}/runs/{ds}/{r}/config.json"))
        assert os.path.samefile(cfg["data"], f"{out}/data/{ds}"), (ds, r)
PY
  ok "same train and test subsets for every run, lines traceable to ../shared/data"
else
  bad "same train and test subsets for every run, lines traceable to ../shared/data"
fi

# the Table 2 cells are the eval files' numbers
if python3 - "$out" <<'PY'; then
import json, re, sys
out = sys.argv[1]
md = open(f"{out}/results.md").read()
names = {"sst5": "SST-5", "massive_scenario": "Amazon (MASSIVE)", "emotion": "Emotion", "bbc_news": "BBC News"}
for ds, name in names.items():
    for key, metric in (("accuracy", "Acc"), ("f1_weighted", "F1")):
        row = re.search(rf"^\| {re.escape(name)} \| {metric} \| (.*) \|$", md, re.M)
        assert row, (name, metric)
        cells = [c.strip().strip("*") for c in row.group(1).split("|")]
        assert len(cells) == 6, cells
        for c, r in zip(cells, ("base", "base-gta", "sft", "sft-steps", "grpo", "gta")):
            v = json.load(open(f"{out}/runs/{ds}/{r}/eval.json"))[key]
            assert c == f"{100 * v:.2f}", (name, metric, r, c, v)
PY
  ok "Table 2 cells equal the eval.json values"
else
  bad "Table 2 cells equal the eval.json values"
fi

# labels never enter pretraining: no synthetic instruction document offers a dataset label
if python3 - "$out" "$GTA_SHARED/data" <<'PY'; then
import json, re, sys
out, shared = sys.argv[1:]
labels = set()
for ds in ("sst5", "massive_scenario", "emotion", "bbc_news"):
    labels |= {l.strip().lower() for l in open(f"{shared}/{ds}/labels.txt") if l.strip()}
n = 0
for line in open(f"{out}/base/synth.jsonl"):
    t = json.loads(line)["text"]
    offered = re.search(r"Labels:\n(.*?)\nAnswer as", t, re.S).group(1).split("\n")
    gold = re.search(r"<answer>(.*?)</answer>", t.split("<|im_start|>assistant\n")[1]).group(1)
    assert gold in offered, t
    assert not ({o.lower() for o in offered} | {gold.lower()}) & labels, t
    n += 1
assert n > 0
PY
  ok "no dataset label among the synthetic tasks' labels"
else
  bad "no dataset label among the synthetic tasks' labels"
fi

# long runs evaluate on the test subset during training
n=$(wc -l <"$out/runs/sst5/gta-long/eval.jsonl" 2>/dev/null || echo 0)
[ "$n" -ge 4 ] && ok "long run has an accuracy curve ($n points)" || bad "long run has an accuracy curve" "$n lines"

# resumable: a second invocation finds everything done and changes no result
sum1=$(cat "$out"/runs/*/*/eval.json | md5sum)
if STUDY_SMOKE=1 GTA=$GTA GTA_SHARED=$GTA_SHARED scripts/study.sh "$out" >"$tmp/log2" 2>&1; then
  sum2=$(cat "$out"/runs/*/*/eval.json | md5sum)
  [ "$sum1" = "$sum2" ] && ok "rerun changes no result" || bad "rerun changes no result"
else
  bad "rerun succeeds" "$(tail -5 "$tmp/log2")"
fi

# an interrupted training is resumed, and ends exactly as the uninterrupted one
acc1=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['accuracy'])" "$out/runs/emotion/gta/eval.json")
w1=$(md5sum <"$out/runs/emotion/gta/final/model.safetensors")
rm -rf "$out/runs/emotion/gta"
STUDY_STOP_AT=5 STUDY_SMOKE=1 GTA=$GTA GTA_SHARED=$GTA_SHARED scripts/study.sh "$out" >"$tmp/log3" 2>&1
if [ -f "$out/runs/emotion/gta/checkpoint/model.safetensors" ] && [ ! -e "$out/runs/emotion/gta/final" ] &&
  grep -q "stopped before its last step" "$out/runs/emotion/gta.log"; then
  ok "STUDY_STOP_AT stops a training with a checkpoint"
else
  bad "STUDY_STOP_AT stops a training with a checkpoint" "$(tail -5 "$out/runs/emotion/gta.log")"
fi
if STUDY_SMOKE=1 GTA=$GTA GTA_SHARED=$GTA_SHARED scripts/study.sh "$out" >"$tmp/log3" 2>&1 &&
  grep -q "resuming .* at step 5 " "$out/runs/emotion/gta.log"; then
  acc2=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['accuracy'])" "$out/runs/emotion/gta/eval.json")
  w2=$(md5sum <"$out/runs/emotion/gta/final/model.safetensors")
  [ "$w1" = "$w2" ] && [ "$acc1" = "$acc2" ] && ok "resumed run ends with the same weights and accuracy ($acc1)" ||
    bad "resumed run ends with the same weights and accuracy" "$acc1 vs $acc2"
else
  bad "unfinished run resumed at step 5" "$(tail -5 "$tmp/log3"; tail -5 "$out/runs/emotion/gta.log")"
fi

# a missing base directory is a clear error
if BASE=$tmp/nope STUDY_SMOKE=1 GTA=$GTA scripts/study.sh "$tmp/s2" >"$tmp/log4" 2>&1; then
  bad "missing BASE rejected"
else
  rc=$?
  [ "$rc" = 2 ] && grep -q "study: error: $tmp/nope" "$tmp/log4" && ok "missing BASE: exit 2 naming it" ||
    bad "missing BASE: exit 2 naming it" "rc $rc: $(cat "$tmp/log4")"
fi
finish
