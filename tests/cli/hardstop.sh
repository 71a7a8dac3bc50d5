#!/usr/bin/env bash
# Hard stops of gta train (issue 17): a SIGKILL at many points (sampling a rollout, between
# backward and update, inside each stage of a checkpoint write, half way through writing a
# checkpoint file) and a --resume give the weights of the uninterrupted run byte for byte;
# SIGTERM/SIGINT end at a step boundary with a resumable checkpoint and exit 128+signal; a
# file-size limit fails with an error naming the file and the previous checkpoint intact;
# a NaN weight or loss stops the run naming the step and the quantity and never writes a
# checkpoint of it (--skip-nonfinite skips the update and logs it).
NAME=hardstop
source "$(dirname "$0")/common.bash"
M="$GTA_SHARED/models/stories260K"
if [ ! -d "$M" ] || [ ! -d "$GTA_SHARED/data/emotion" ]; then
  echo "skip: no $M or $GTA_SHARED/data/emotion (../shared is absent)"
  finish
fi
D="$tmp/data"
mkdir -p "$D"
cp "$GTA_SHARED/data/emotion/labels.txt" "$D/"
head -n 8 "$GTA_SHARED/data/emotion/train.jsonl" >"$D/train.jsonl"
common=(--method gta --model "$M" --data "$D" --max-prompt-tokens 440 --batch-prompts 1 --group-size 2
        --max-new-tokens 8 --num-iterations 2 --ref-sync-steps 3 --learning-rate 1e-4 --seed 5 --steps 6
        --save-steps 2 --prompt-style compact)
timeless() { sed -E 's/"(seconds|tokens_per_s)":[^,}]*,?//g' "$1"; }
st_step() { sed -nE 's/.*"step":[[:space:]]*([0-9]+).*/\1/p' "$1/checkpoint/trainer_state.json"; }

"$GTA" train "${common[@]}" --out "$tmp/ref" 2>"$tmp/ref.err" && [ -f "$tmp/ref/final/model.safetensors" ] \
  && ok "uninterrupted run" || { bad "uninterrupted run" "$(tail -5 "$tmp/ref.err")"; finish; }

# SIGKILL at a point, then --resume (as often as needed) to the end: same final weights
killed_then_resumed() {
  local name=$1 var=$2 val=$3
  local out="$tmp/k-$name"
  (env "$var=$val" "$GTA" train "${common[@]}" --out "$out" >/dev/null 2>"$out.err") 2>/dev/null
  local rc=$?
  if [ $rc -ne 137 ]; then bad "kill at $val: exit $rc, expected 137 (SIGKILL)" "$(tail -3 "$out.err")"; return; fi
  [ -d "$out/checkpoint.tmp" ] || [ -d "$out/checkpoint" ] || { bad "kill at $val: nothing on disk"; return; }
  local before
  before=$(st_step "$out")
  if ! "$GTA" train --out "$out" --model "$M" --data "$D" --resume >/dev/null 2>"$out.err2"; then
    bad "kill at $val: resume failed" "$(tail -3 "$out.err2")"
    return
  fi
  if cmp -s "$tmp/ref/final/model.safetensors" "$out/final/model.safetensors" &&
    cmp -s <(timeless "$tmp/ref/metrics.jsonl") <(timeless "$out/metrics.jsonl") &&
    cmp -s "$tmp/ref/samples.jsonl" "$out/samples.jsonl"; then
    ok "SIGKILL at $val (checkpoint of step $before left), resume: final weights, metrics, samples identical"
  else
    bad "SIGKILL at $val, resume: final weights or metrics differ"
  fi
  [ ! -e "$out/checkpoint.tmp" ] || bad "  ... checkpoint.tmp left after the resume"
}
killed_then_resumed rollout GTA_TEST_KILL_AT rollout:3
killed_then_resumed rollout5 GTA_TEST_KILL_AT rollout:5
killed_then_resumed update GTA_TEST_KILL_AT update:4
killed_then_resumed ck-model GTA_TEST_KILL_AT checkpoint:model:4
killed_then_resumed ck-optim GTA_TEST_KILL_AT checkpoint:optimizer:4
killed_then_resumed ck-state GTA_TEST_KILL_AT checkpoint:state:4
killed_then_resumed ck-swap GTA_TEST_KILL_AT checkpoint:swap:4
killed_then_resumed ck-swapped GTA_TEST_KILL_AT checkpoint:swapped:4
killed_then_resumed in-write-model GTA_TEST_KILL_IN_WRITE checkpoint.tmp/model.safetensors@2
killed_then_resumed in-write-optim GTA_TEST_KILL_IN_WRITE optimizer.safetensors@2
killed_then_resumed in-write-state GTA_TEST_KILL_IN_WRITE trainer_state.json@2

# SIGTERM / SIGINT: checkpoint at the next step boundary, exit 128+signal, resumable
for sig in TERM INT; do
  out="$tmp/sig-$sig"
  "$GTA" train "${common[@]}" --out "$out" >/dev/null 2>"$out.err" &
  pid=$!
  for _ in $(seq 1 600); do [ -s "$out/metrics.jsonl" ] && break; sleep 0.05; done
  kill -s "$sig" $pid
  wait $pid
  rc=$?
  want=$((128 + $(kill -l "$sig")))
  if [ $rc -eq $want ] && grep -q "SIG$sig received: stopped at step" "$out.err" && grep -q -- "--resume" "$out.err"; then
    ok "SIG$sig: exit $rc, message says how to resume (checkpoint of step $(st_step "$out"))"
  elif [ $rc -eq 0 ]; then
    ok "SIG$sig: arrived after the last step (run finished normally)"
  else
    bad "SIG$sig: exit $rc (expected $want)" "$(tail -3 "$out.err")"
  fi
  if "$GTA" train --out "$out" --model "$M" --data "$D" --resume >/dev/null 2>"$out.err2" &&
    cmp -s "$tmp/ref/final/model.safetensors" "$out/final/model.safetensors"; then
    ok "  ... resumed: final weights identical"
  else
    bad "  ... resume after SIG$sig" "$(tail -3 "$out.err2")"
  fi
done

# a file-size limit: the checkpoint of step 4 cannot be written; error names the file; the
# checkpoint of step 2 stays whole and the run can go on from it
out="$tmp/fsize"
"$GTA" train "${common[@]}" --out "$out" --stop-at-step 2 >/dev/null 2>"$out.err"
size=$(stat -c %s "$out/checkpoint/optimizer.safetensors")
(ulimit -f $((size / 1024 - 8)); exec "$GTA" train --out "$out" --model "$M" --data "$D" --resume) >/dev/null 2>"$out.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "^gta: error:.*optimizer.safetensors: write failed.*File too large" "$out.err" &&
  grep -q "checkpoint of step 4 not written (the previous one is intact)" "$out.err"; then
  ok "ulimit -f: exit 1, the error names the file"
else
  bad "ulimit -f: exit $rc" "$(tail -3 "$out.err")"
fi
[ "$(st_step "$out")" = 2 ] && [ ! -e "$out/checkpoint.tmp" ] && ok "  ... checkpoint of step 2 intact, no .tmp left" \
  || bad "  ... checkpoint after the failed write: step $(st_step "$out")"
"$GTA" train --out "$out" --model "$M" --data "$D" --resume >/dev/null 2>"$out.err2" &&
  cmp -s "$tmp/ref/final/model.safetensors" "$out/final/model.safetensors" && ok "  ... resumed: final weights identical" \
  || bad "  ... resume after the failed write" "$(tail -3 "$out.err2")"

# a broken checkpoint: --resume refuses it naming the file and the field, exit 2, and
# changes nothing in the run directory
bad_resume() {
  local name=$1 needle=$2 run="$tmp/br-$1"
  rm -rf "$run"
  cp -r "$tmp/fsize" "$run"
  rm -rf "$run/final"
  shift 2
  "$@" "$run"
  local before
  before=$(cd "$run" && find . -type f -exec md5sum {} + | sort)
  "$GTA" train --out "$run" --model "$M" --data "$D" --resume >/dev/null 2>"$run.err"
  local rc=$?
  if [ $rc -eq 2 ] && grep -q "^gta: error:" "$run.err" && grep -qF -- "$needle" "$run.err" &&
    [ "$before" = "$(cd "$run" && find . -type f -exec md5sum {} + | sort)" ]; then
    ok "resume refuses $name (exit 2, names '$needle', run directory unchanged)"
  else
    bad "resume with $name: exit $rc" "$(tail -2 "$run.err")"
  fi
}
edit_state() { python3 -c "
import json, sys
p = sys.argv[1] + '/checkpoint/trainer_state.json'; j = json.load(open(p)); exec(sys.argv[2]); json.dump(j, open(p, 'w'))" "$2" "$1"; }
bad_resume "trainer_state.json without cursor" "trainer_state.json: missing field 'cursor'" edit_state "del j['cursor']"
bad_resume "a cursor of another step" "field 'cursor' = 99 does not match step 6" edit_state "j['cursor'] = 99"
bad_resume "step beyond the run" "field 'step' = 60: the run has 6 steps" edit_state "j['step'] = j['adam_step'] = 60"
bad_resume "step a string" "field 'step': expected an integer" edit_state "j['step'] = '6'"
bad_resume "metrics_bytes beyond the log" "field 'metrics_bytes' = 99999999 but" edit_state "j['metrics_bytes'] = 99999999"
bad_resume "a rollout flag at a rollout boundary" "field 'rollout': no rollout is reused at step 6" \
  edit_state "j['rollout'] = True; j['rollout_stats'] = dict(reward=0, reward_format=0, reward_accuracy=0, guess_accuracy=0, frac_zero_std=0, completion_tokens_mean=1)"
truncate_opt() { truncate -s 100000 "$1/checkpoint/optimizer.safetensors"; }
bad_resume "a truncated optimizer.safetensors" "optimizer.safetensors: tensor 'exp_avg': data_offsets" truncate_opt
other_model() { cp "$GTA_SHARED/fixtures/hf/llama/config.json" "$GTA_SHARED/fixtures/hf/llama/model.safetensors" "$1/checkpoint/"; }
bad_resume "a checkpoint of another model" "optimizer.safetensors: expected tensor 'exp_avg' of" other_model

# a NaN weight after step 3: stopped, named; the checkpoint stays the one of step 2
out="$tmp/nan"
GTA_TEST_NAN_AT=3 "$GTA" train "${common[@]}" --out "$out" >/dev/null 2>"$out.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "^gta: error: train: weight .* is nan after the update of step 3" "$out.err"; then
  ok "NaN weight: exit 1, names the weight and the step"
else
  bad "NaN weight: exit $rc" "$(tail -3 "$out.err")"
fi
[ "$(st_step "$out")" = 2 ] && [ ! -e "$out/final" ] && ok "  ... no checkpoint of it (step 2 stays), no final model" \
  || bad "  ... checkpoint after the NaN: step $(st_step "$out")"
python3 - "$out/checkpoint/model.safetensors" <<'PY' && ok "  ... the checkpoint's weights are finite" || bad "  ... the checkpoint's weights are finite"
import json, math, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]
vals = struct.unpack("<%df" % ((len(b) - 8 - n) // 4), b[8 + n:])
sys.exit(0 if all(math.isfinite(v) for v in vals) else 1)
PY
# a NaN loss at step 3: stopped, named; with --skip-nonfinite the update is skipped and logged
out="$tmp/nanloss"
GTA_TEST_NAN_LOSS_AT=3 "$GTA" train "${common[@]}" --out "$out" >/dev/null 2>"$out.err"
rc=$?
[ $rc -eq 1 ] && grep -q "^gta: error: train: step 3: the loss is nan; stopped without applying it" "$out.err" \
  && ok "NaN loss: exit 1, names the step and the quantity" || bad "NaN loss: exit $rc" "$(tail -3 "$out.err")"
out="$tmp/skip"
GTA_TEST_NAN_LOSS_AT=3 "$GTA" train "${common[@]}" --out "$out" --skip-nonfinite >/dev/null 2>"$out.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "step 3: the loss is nan; update skipped" "$out.err" &&
  [ "$(grep -c '"skipped_nonfinite":true' "$out/metrics.jsonl")" = 1 ] &&
  grep '"step":3,' "$out/metrics.jsonl" | grep -q skipped_nonfinite && [ -f "$out/final/model.safetensors" ] &&
  ! cmp -s "$tmp/ref/final/model.safetensors" "$out/final/model.safetensors"; then
  ok "--skip-nonfinite: step 3 skipped and logged, the run finishes (weights differ from the reference)"
else
  bad "--skip-nonfinite: exit $rc" "$(tail -3 "$out.err")"
fi
# the skipped update took no AdamW step (adam_step 5 at step 6): the run still resumes
"$GTA" train --model "$M" --data "$D" --out "$out" --resume --steps 7 >/dev/null 2>"$out.err2" &&
  [ "$(wc -l <"$out/metrics.jsonl")" = 7 ] \
  && ok "--skip-nonfinite: the run with a skipped update resumes (adam_step one behind step)" \
  || bad "--skip-nonfinite: the run with a skipped update resumes" "$(tail -3 "$out.err2")"
finish
