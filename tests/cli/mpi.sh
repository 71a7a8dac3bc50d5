#!/usr/bin/env bash
# gta train as 2 MPI ranks (mpirun on this machine, 1 OpenMP thread a rank) on the
# pretrained stories260K, against 1 process:
#   - the rollouts (the tree batch's token ids of the rollout in flight, and the logged
#     completions of every rollout) of 2 ranks with --batch-prompts 4 are those of 1 rank;
#   - the weights after 3 steps agree within 1e-6 (relative L2 error, per tensor), the
#     rewards of every step are equal and the losses agree within 1e-5 (relative);
#   - a 2-rank run stopped at step 2 and resumed gives the uninterrupted run's weights
#     (byte for byte) and metrics (every field but the timings);
#   - ZeRO-1: each rank's AdamW moments are half of the whole, in the memory plan, as
#     allocated and as measured (resident memory), the shards cover the parameters once;
#     stopped mid-rollout at step 1 and resumed, the weights are within 1e-6 of ZeRO-0's;
#     resuming its sharded checkpoint with 1 process says that 2 ranks are needed (exit 2),
#     while the whole-moment checkpoint of step 2 resumes with 1 process, within 1e-6;
#   - SIGTERM to rank 1 alone stops both ranks after the same step with one checkpoint
#     (exit 143), and the resumed run gives the uninterrupted weights byte for byte;
#   - a NaN loss on rank 1 alone: with --skip-nonfinite both ranks skip the update (the
#     weights stay those of the step before), without it both stop with the error;
#   - a rollout part of the wrong size in rank 1's checkpoint file is refused (exit 2);
#   - an error on one rank only (rank 0 cannot open its metrics file) and a rank killed
#     mid-run each end the job with an error (bounded by timeouts: 120 s for the whole
#     failing run, 60 s after the kill), no hang;
#   - (a build with the CUDA backend) NCCL's bind through a table that claims CUDA buffers,
#     tests/unit/test_comm_nccl: without a GPU both ranks report NCCL's failure to form the
#     communicator, and rank 0 unable to load NCCL ends the job while rank 1 waits, no hang.
# Skips with a message when mpirun is absent or gta was built without MPI.
#
#   GTA=build/gta GTA_SHARED=../shared bash tests/cli/mpi.sh   (from the repository root)
set -u
NAME=mpi
# the unit-test binary of NCCL's bind sits beside the build's gta (common.bash copies gta away)
TN=${GTA_TEST_COMM_NCCL:-$(dirname "${GTA:-build/gta}")/tests/test_comm_nccl}
. "$(dirname "$0")/common.bash"
if ! command -v mpirun >/dev/null 2>&1; then
  echo "skip: no mpirun (apt-get install openmpi-bin libopenmpi-dev, then rebuild)"
  finish
fi
if ! ldd "$GTA" 2>/dev/null | grep -q libmpi; then
  echo "skip: $GTA was built without MPI (no mpicc at build time)"
  finish
fi
M=$GTA_SHARED/models/stories260K
D=$GTA_SHARED/data/emotion
if [ ! -d "$M" ] || [ ! -d "$D" ]; then
  echo "skip: no $M or $D"
  finish
fi
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# the CI machine's ranks share its cores; no network beyond this machine
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
# a rank waiting in a reduction yields its core (2 ranks and mpirun on 2 cores)
export OMPI_MCA_mpi_yield_when_idle=1
mpi2() { timeout 300 mpirun --allow-run-as-root --oversubscribe -np 2 "$@"; }

common=(--model "$M" --data "$D" --method gta --max-prompt-tokens 440 --batch-prompts 4 --group-size 4
        --max-new-tokens 16 --learning-rate 1e-4 --num-iterations 2 --ref-sync-steps 4 --seed 5 --steps 3
        --save-steps 0 --log-examples 4 --eval-steps 2 --eval-limit 2)

cat >"$tmp/st.py" <<'EOF'
import array, json, math, struct, sys

def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    d = b[8 + n:]
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        a = array.array({"F32": "f", "I32": "i", "U8": "B"}[v["dtype"]])
        a.frombytes(d[s:e])
        out[k] = a
    return out

op = sys.argv[1]
if op == "relerr":      # relerr A B: the largest per-tensor ||a - b|| / ||b||
    a, b = read(sys.argv[2]), read(sys.argv[3])
    assert a.keys() == b.keys(), "different tensors"
    worst = 0.0
    for k in a:
        x, y = a[k], b[k]
        assert len(x) == len(y), k
        num = math.sqrt(sum((p - q) ** 2 for p, q in zip(x, y)))
        den = math.sqrt(sum(q * q for q in y))
        worst = max(worst, num / den if den > 0 else num)
    print("%.3e" % worst)
elif op == "ids":       # ids FILE...: the named tensors of rollout files, concatenated in order
    for name in ("ids", "lp_target", "seg_len"):
        v = []
        for p in sys.argv[2:]:
            v += list(read(p)[name])
        print(name, len(v), " ".join(map(str, v)))
elif op == "metrics":   # metrics FILE: every field but the timings, one line a step
    for l in open(sys.argv[2]):
        d = json.loads(l)
        for k in ("seconds", "tokens_per_s"):
            d.pop(k, None)
        print(json.dumps(d, sort_keys=True))
elif op == "close":     # close A B: rewards equal, losses within 1e-5 relative, same step count
    A = [json.loads(l) for l in open(sys.argv[2])]
    B = [json.loads(l) for l in open(sys.argv[3])]
    assert len(A) == len(B) == 3, (len(A), len(B))
    for a, b in zip(A, B):
        for k in ("reward", "reward_format", "reward_accuracy", "guess_accuracy", "frac_zero_std_groups",
                  "completion_tokens_mean", "conflict", "step"):
            assert a[k] == b[k], (a["step"], k, a[k], b[k])
        for k in ("loss", "loss_sft", "loss_rl", "kl", "grad_norm", "cos_sft_rl"):
            assert abs(a[k] - b[k]) <= 1e-5 * max(1e-3, abs(a[k])), (a["step"], k, a[k], b[k])
    print("ok")
EOF

# --- 1 rank against 2 ranks ------------------------------------------------------------
"$GTA" train "${common[@]}" --out "$tmp/one" 2>"$tmp/one.err" || { bad "1-rank run" "$(tail -5 "$tmp/one.err")"; finish; }
mpi2 "$GTA" train "${common[@]}" --out "$tmp/two" >"$tmp/two.out" 2>"$tmp/two.err" \
  || { bad "2-rank run" "$(tail -8 "$tmp/two.err")"; finish; }
ok "1-rank and 2-rank runs of 3 steps"
# the final checkpoint (step 3, num_iterations 2) holds the second rollout, in flight
if [ -f "$tmp/one/checkpoint/rollout.safetensors" ] && [ -f "$tmp/two/checkpoint/rollout-rank1.safetensors" ] &&
  r1=$(python3 "$tmp/st.py" ids "$tmp/one/checkpoint/rollout.safetensors") &&
  r2=$(python3 "$tmp/st.py" ids "$tmp/two/checkpoint/rollout-rank0.safetensors" \
    "$tmp/two/checkpoint/rollout-rank1.safetensors") && [ "$r1" = "$r2" ] && [ -n "$r1" ]; then
  ok "2 ranks' rollout (token ids, targets, segments) = 1 rank's ($(printf '%s\n' "$r1" | head -1 | cut -d' ' -f2) tokens)"
else
  bad "2 ranks' rollout = 1 rank's" "$(diff <(printf '%s\n' "${r1:-}" | tr ' ' '\n') <(printf '%s\n' "${r2:-}" | tr ' ' '\n') | head -5)"
fi
if [ "$(wc -l <"$tmp/one/samples.jsonl")" = 8 ] && cmp -s "$tmp/one/samples.jsonl" "$tmp/two/samples.jsonl"; then
  ok "samples.jsonl (a completion of each of the 4 prompts of both rollouts) equal, written by rank 0"
else
  bad "samples.jsonl equal" "$(diff "$tmp/one/samples.jsonl" "$tmp/two/samples.jsonl" | head -4)"
fi
e=$(python3 "$tmp/st.py" relerr "$tmp/two/final/model.safetensors" "$tmp/one/final/model.safetensors")
if python3 -c "import sys; sys.exit(0 if float('$e') <= 1e-6 else 1)"; then
  ok "weights after 3 steps within 1e-6 relative per tensor (largest $e)"
else
  bad "weights after 3 steps within 1e-6 relative per tensor" "largest $e"
fi
out=$(python3 "$tmp/st.py" close "$tmp/one/metrics.jsonl" "$tmp/two/metrics.jsonl" 2>&1) && ok "metrics: rewards equal, losses, KL, norms within 1e-5" \
  || bad "metrics of 2 ranks = 1 rank's" "$out"
if [ "$(wc -l <"$tmp/two/eval.jsonl")" = 2 ] && [ "$(grep -c '^step ' "$tmp/two.err")" = 3 ] &&
  ! grep -q 'rank 1' "$tmp/two.err" && [ ! -s "$tmp/two.out" ]; then
  ok "rank 0 alone evaluates and reports progress (2 eval lines, 3 progress lines)"
else
  bad "rank 0 alone evaluates and reports" "$(wc -l <"$tmp/two/eval.jsonl") eval lines; $(grep -c '^step ' "$tmp/two.err") progress lines"
fi
grep -q 'communicated [0-9]* bytes a step' "$tmp/two.err" && ok "bytes communicated a step reported" \
  || bad "bytes communicated a step reported"

# --- stop at step 2, resume ------------------------------------------------------------
mpi2 "$GTA" train "${common[@]}" --out "$tmp/stop" --stop-at-step 2 2>"$tmp/stop.err" \
  && cp -r "$tmp/stop" "$tmp/stop1" && cp "$tmp/stop/checkpoint/model.safetensors" "$tmp/w2.safetensors" \
  && mpi2 "$GTA" train --model "$M" --data "$D" --out "$tmp/stop" --resume 2>"$tmp/res.err" \
  && ok "2 ranks: stop at step 2, resume" || bad "2 ranks: stop at step 2, resume" "$(tail -5 "$tmp/stop.err" "$tmp/res.err")"
cmp -s "$tmp/two/final/model.safetensors" "$tmp/stop/final/model.safetensors" \
  && ok "resumed 2-rank weights = uninterrupted 2-rank weights (byte for byte)" || bad "resumed 2-rank weights equal"
if diff <(python3 "$tmp/st.py" metrics "$tmp/two/metrics.jsonl") <(python3 "$tmp/st.py" metrics "$tmp/stop/metrics.jsonl") >/dev/null &&
  cmp -s "$tmp/two/samples.jsonl" "$tmp/stop/samples.jsonl" &&
  diff <(python3 "$tmp/st.py" metrics "$tmp/two/eval.jsonl") <(python3 "$tmp/st.py" metrics "$tmp/stop/eval.jsonl") >/dev/null; then
  ok "resumed 2-rank metrics, samples and evaluations = the uninterrupted run's"
else
  bad "resumed 2-rank metrics equal" "$(diff <(python3 "$tmp/st.py" metrics "$tmp/two/metrics.jsonl") <(python3 "$tmp/st.py" metrics "$tmp/stop/metrics.jsonl") | head -4)"
fi

# a checkpoint at a rollout boundary (step 2, num_iterations 2) with whole moments resumes
# with another number of ranks: here 1 process
if "$GTA" train --model "$M" --data "$D" --out "$tmp/stop1" --resume 2>"$tmp/res1.err" &&
  grep -q 'written by 2 ranks, resuming with 1: supported' "$tmp/res1.err"; then
  e=$(python3 "$tmp/st.py" relerr "$tmp/stop1/final/model.safetensors" "$tmp/two/final/model.safetensors")
  python3 -c "import sys; sys.exit(0 if float('$e') <= 1e-6 else 1)" \
    && ok "the 2-rank checkpoint of step 2 resumed by 1 process (says it is supported): weights within 1e-6 (largest $e)" \
    || bad "2-rank checkpoint resumed by 1 process: weights within 1e-6" "largest $e"
else
  bad "the 2-rank checkpoint of step 2 resumes with 1 process and says so" "$(tail -3 "$tmp/res1.err")"
fi

# --- ZeRO-1 ------------------------------------------------------------------------------
zc=(--model "$M" --data "$D" --method gta --max-prompt-tokens 440 --batch-prompts 4 --group-size 4
    --max-new-tokens 16 --learning-rate 1e-4 --num-iterations 2 --ref-sync-steps 4 --seed 5 --steps 3
    --save-steps 0 --log-examples 4 --zero 1)
mpi2 "$GTA" train "${zc[@]}" --out "$tmp/z" --stop-at-step 1 2>"$tmp/z.err" || bad "ZeRO-1 run to step 1" "$(tail -5 "$tmp/z.err")"
# "rank R of 2: AdamW moments of parameters [LO, HI) of N: planned P bytes, allocated A, resident R"
out=$(python3 - "$tmp/z.err" <<'EOF'
import re, sys
rows = [tuple(map(int, m.groups())) for m in re.finditer(
    r"rank (\d) of 2: AdamW moments of parameters \[(\d+), (\d+)\) of (\d+): planned (\d+) bytes, allocated (\d+), resident (-?\d+)",
    open(sys.argv[1]).read())]
rows.sort()
assert [r[0] for r in rows] == [0, 1], rows
n = rows[0][3]
assert rows[0][1] == 0 and rows[0][2] == rows[1][1] and rows[1][2] == n, "shards cover the parameters once"
whole = 8 * n  # exp_avg + exp_avg_sq, fp32
for r, lo, hi, _, plan, alloc, res in rows:
    assert plan == alloc == 8 * (hi - lo), (r, plan, alloc)
    assert abs(alloc - whole / 2) <= 8, (r, alloc, whole)
    assert abs(res - alloc) <= 0.02 * alloc + 8192, ("resident", r, res, alloc)
print("each rank %d of %d bytes (planned = allocated); resident %d, %d" % (rows[0][5], whole, rows[0][6], rows[1][6]))
EOF
) && ok "ZeRO-1 optimizer bytes per rank = 1/2: $out" || bad "ZeRO-1 optimizer bytes per rank = 1/2" "$out"
grep -q 'AdamW moments .*ZeRO-1 shard of rank 0 of 2' "$tmp/z.err" && ok "the memory plan shows the ZeRO-1 shard" \
  || bad "the memory plan shows the ZeRO-1 shard"
[ -f "$tmp/z/checkpoint/optimizer-rank0.safetensors" ] && [ -f "$tmp/z/checkpoint/optimizer-rank1.safetensors" ] &&
  [ -f "$tmp/z/checkpoint/rollout-rank1.safetensors" ] && [ ! -f "$tmp/z/checkpoint/optimizer.safetensors" ] &&
  ok "the ZeRO-1 checkpoint holds each rank's moments and rollout part" || bad "ZeRO-1 checkpoint files" "$(ls "$tmp/z/checkpoint")"
"$GTA" train --model "$M" --data "$D" --out "$tmp/z" --resume >/dev/null 2>"$tmp/z1.err"
rc=$?
[ $rc = 2 ] && grep -q 'gta: error: .*sharded over 2 ranks.*resume it with 2 ranks' "$tmp/z1.err" \
  && ok "resuming the 2-rank ZeRO-1 checkpoint with 1 process: exit 2, says 2 ranks are needed" \
  || bad "resume with another number of ranks refused clearly" "rc $rc: $(tail -2 "$tmp/z1.err")"
mpi2 "$GTA" train --model "$M" --data "$D" --out "$tmp/z" --resume 2>"$tmp/z2.err" || bad "ZeRO-1 resume" "$(tail -5 "$tmp/z2.err")"
e=$(python3 "$tmp/st.py" relerr "$tmp/z/final/model.safetensors" "$tmp/two/final/model.safetensors")
python3 -c "import sys; sys.exit(0 if float('$e') <= 1e-6 else 1)" \
  && ok "ZeRO-1, stopped mid-rollout and resumed: weights within 1e-6 of ZeRO-0's (largest $e)" \
  || bad "ZeRO-1 weights within 1e-6 of ZeRO-0's" "largest $e"

# --- SIGTERM to rank 1 alone: every rank stops after the same step, rank 0 writes the
# checkpoint and says so once, the job exits 143; resumed, the uninterrupted run's weights
mpirun --allow-run-as-root --oversubscribe -np 2 "$GTA" train "${common[@]}" --out "$tmp/sig" \
  >/dev/null 2>"$tmp/sig.err" &
mp=$!
for _ in $(seq 1 600); do
  [ -s "$tmp/sig/metrics.jsonl" ] && break
  kill -0 $mp 2>/dev/null || break
  sleep 0.1
done
victim=""
for p in $(pgrep -P $mp); do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$p
done
[ -n "$victim" ] && kill -TERM "$victim"
for _ in $(seq 1 1200); do kill -0 $mp 2>/dev/null || break; sleep 0.1; done
if kill -0 $mp 2>/dev/null; then
  bad "SIGTERM to rank 1: the job ends within 120 s"
  kill -9 $mp
fi
wait $mp
rc=$?
k=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["step"])' "$tmp/sig/checkpoint/trainer_state.json" 2>/dev/null)
if [ -n "$victim" ] && [ $rc = 143 ] && [ "$(grep -c 'SIGTERM received: stopped at step' "$tmp/sig.err")" = 1 ] &&
  grep -q "SIGTERM received: stopped at step $k of 3" "$tmp/sig.err" && [ "$(wc -l <"$tmp/sig/metrics.jsonl")" = "$k" ]; then
  ok "SIGTERM to rank 1 alone: both ranks stopped after step $k, one checkpoint of step $k, exit 143"
else
  bad "SIGTERM to rank 1 alone stops every rank at one step" "victim '${victim}', rc $rc, checkpoint step '$k': $(tail -3 "$tmp/sig.err")"
fi
if mpi2 "$GTA" train --model "$M" --data "$D" --out "$tmp/sig" --resume 2>"$tmp/sigr.err" &&
  cmp -s "$tmp/two/final/model.safetensors" "$tmp/sig/final/model.safetensors"; then
  ok "resumed after the SIGTERM stop: the uninterrupted 2-rank weights (byte for byte)"
else
  bad "resumed after the SIGTERM stop: the uninterrupted weights" "$(tail -3 "$tmp/sigr.err")"
fi

# --- a non-finite loss on rank 1 alone (an MPMD launch: the hook in rank 1's environment)
# with --skip-nonfinite: every rank skips step 3 (rank 0 logs it), the weights are step 2's
nc=("${common[@]}" --eval-steps 0)
timeout 600 mpirun --allow-run-as-root --oversubscribe -np 1 "$GTA" train "${nc[@]}" --out "$tmp/nan" --skip-nonfinite 1 : \
  -np 1 env GTA_TEST_NAN_LOSS_AT=3 "$GTA" train "${nc[@]}" --out "$tmp/nan" --skip-nonfinite 1 \
  >/dev/null 2>"$tmp/nan.err"
rc=$?
e=$(python3 "$tmp/st.py" relerr "$tmp/nan/final/model.safetensors" "$tmp/w2.safetensors" 2>&1)
if [ $rc = 0 ] && [ "$(grep -c skipped_nonfinite "$tmp/nan/metrics.jsonl")" = 1 ] &&
  [ "$(python3 -c 'import json, sys; print([json.loads(l)["step"] for l in open(sys.argv[1]) if "skipped_nonfinite" in l])' "$tmp/nan/metrics.jsonl")" = "[3]" ] && grep -q 'loss (on another rank) is nan; update skipped' "$tmp/nan.err" &&
  [ "$e" = "0.000e+00" ]; then
  ok "NaN loss on rank 1 alone, --skip-nonfinite: both ranks skip step 3 (logged by rank 0), weights = step 2's"
else
  bad "NaN loss on rank 1 alone: every rank skips" "rc $rc, relerr '$e': $(tail -3 "$tmp/nan.err")"
fi
# without it: every rank stops at step 1 with the error, no hang
t0=$(date +%s)
timeout 300 mpirun --allow-run-as-root --oversubscribe -np 1 "$GTA" train "${nc[@]}" --out "$tmp/nan2" : \
  -np 1 env GTA_TEST_NAN_LOSS_AT=1 "$GTA" train "${nc[@]}" --out "$tmp/nan2" >/dev/null 2>"$tmp/nan2.err"
rc=$?
secs=$(($(date +%s) - t0))
[ $rc != 0 ] && [ $rc != 124 ] && grep -q 'gta: error: train: step 1: the loss (on another rank) is nan; stopped' "$tmp/nan2.err" &&
  [ ! -d "$tmp/nan2/final" ] \
  && ok "NaN loss on rank 1 alone without --skip-nonfinite: rank 0 stops too, says so (exit $rc in ${secs} s)" \
  || bad "NaN loss on rank 1 alone stops every rank" "rc $rc in ${secs} s: $(grep -v '^  ' "$tmp/nan2.err" | tail -3); load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- a bad rollout part on rank 1 alone: the 1-process rollout (16 sequences) in place of
# rank 1's (8): refused, named, and the job ends (rank 0 would wait in the step's sums)
cp -r "$tmp/two" "$tmp/badro"
rm -rf "$tmp/badro/final"
cp "$tmp/one/checkpoint/rollout.safetensors" "$tmp/badro/checkpoint/rollout-rank1.safetensors"
t0=$(date +%s)
timeout 300 mpirun --allow-run-as-root --oversubscribe -np 2 "$GTA" train --model "$M" --data "$D" --out "$tmp/badro" \
  --resume --steps 4 >/dev/null 2>"$tmp/badro.err"
rc=$?
secs=$(($(date +%s) - t0))
[ $rc = 2 ] && grep -q "gta: error: .*rollout-rank1.safetensors: tensor 'seq_adv' has 16 sequences: rank 1 of 2 expects 8" "$tmp/badro.err" \
  && ok "a rollout part of the wrong size on rank 1: exit 2 in ${secs} s, the file and the sizes named" \
  || bad "a bad rollout part on rank 1 is refused" "rc $rc in ${secs} s: $(grep -v '^  ' "$tmp/badro.err" | tail -3); load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- a failure on one rank: rank 0 alone opens the logs; here metrics.jsonl is a directory,
# while rank 1 goes on to the first step's sums and would wait for rank 0 forever
mkdir -p "$tmp/fail/metrics.jsonl"
t0=$(date +%s)
timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 "$GTA" train "${common[@]}" --out "$tmp/fail" \
  >/dev/null 2>"$tmp/fail.err"
rc=$?
secs=$(($(date +%s) - t0))
[ $rc != 0 ] && [ $rc != 124 ] && grep -q "gta: error: .*metrics.jsonl: cannot open for writing" "$tmp/fail.err" \
  && ok "an error on rank 0 alone ends both ranks (exit $rc in ${secs} s) with its gta: error: message" \
  || bad "an error on one rank ends every rank" "rc $rc: $(grep -v '^  ' "$tmp/fail.err" | tail -3)"

# --- a rank killed mid-run -----------------------------------------------------------------
mpirun --allow-run-as-root --oversubscribe -np 2 "$GTA" train "${common[@]}" --steps 50 --eval-steps 0 --out "$tmp/kill" \
  >/dev/null 2>"$tmp/kill.err" &
mp=$!
for _ in $(seq 1 600); do
  [ -s "$tmp/kill/metrics.jsonl" ] && break
  kill -0 $mp 2>/dev/null || break
  sleep 0.1
done
victim=""
for p in $(pgrep -P $mp); do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$p
done
if [ -z "$victim" ]; then
  bad "found rank 1 of a running 2-rank job" "$(tail -3 "$tmp/kill.err")"
  kill $mp 2>/dev/null
else
  t0=$(date +%s)
  kill -9 "$victim"
  for _ in $(seq 1 600); do kill -0 $mp 2>/dev/null || break; sleep 0.1; done
  if kill -0 $mp 2>/dev/null; then
    bad "a killed rank ends the job within 60 s"
    kill $mp
    wait $mp 2>/dev/null
  else
    wait $mp
    rc=$?
    secs=$(($(date +%s) - t0))
    [ $rc != 0 ] && grep -qi 'signal 9\|killed' "$tmp/kill.err" \
      && ok "rank 1 killed: the job ended in ${secs} s with exit $rc and says so" \
      || bad "a killed rank ends the job with an error" "rc $rc: $(tail -3 "$tmp/kill.err")"
  fi
fi

# --- LoRA under ZeRO-1: the adapter (the trainable vector) is reduced and sharded ------------
lc=(--model "$M" --data "$D" --method gta --max-prompt-tokens 440 --batch-prompts 4 --group-size 4
    --max-new-tokens 16 --learning-rate 1e-3 --num-iterations 2 --ref-sync-steps 4 --seed 5 --steps 3
    --save-steps 0 --log-examples 0 --eval-steps 0 --lora-r 4 --lora-alpha 8 --lora-targets q_proj,v_proj,down_proj)
if mpi2 "$GTA" train "${lc[@]}" --zero 1 --out "$tmp/lz1" 2>"$tmp/lz1.err" &&
   mpi2 "$GTA" train "${lc[@]}" --zero 0 --out "$tmp/lz0" 2>"$tmp/lz0.err"; then
  cmp -s "$tmp/lz1/final/adapter_model.safetensors" "$tmp/lz0/final/adapter_model.safetensors" &&
    ok "LoRA, 2 ranks: the ZeRO-1 adapter = the ZeRO-0 adapter (byte for byte)" ||
    bad "LoRA, 2 ranks: the ZeRO-1 adapter = the ZeRO-0 adapter"
  # the shards cover the adapter's parameters only (not the frozen base's)
  out=$(python3 - "$tmp/lz1.err" "$tmp/lz1/final/adapter_model.safetensors" <<'EOF'
import json, re, struct, sys
rows = sorted(tuple(map(int, m.groups())) for m in re.finditer(
    r"rank (\d) of 2: AdamW moments of parameters \[(\d+), (\d+)\) of (\d+)", open(sys.argv[1]).read()))
b = open(sys.argv[2], "rb").read()
h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
na = sum((v["data_offsets"][1] - v["data_offsets"][0]) // 4 for k, v in h.items() if k != "__metadata__")
assert [r[0] for r in rows] == [0, 1], rows
assert rows[0][3] == rows[1][3] == na, ("sharded", rows[0][3], "adapter", na)
assert rows[0][1] == 0 and rows[0][2] == rows[1][1] and rows[1][2] == na, rows
print("shards [0, %d) [%d, %d) of the adapter's %d" % (rows[0][2], rows[1][1], rows[1][2], na))
EOF
) && ok "LoRA ZeRO-1: $out" || bad "LoRA ZeRO-1 shards the adapter" "$out"
else
  bad "LoRA 2-rank runs (ZeRO-1, ZeRO-0)" "$(tail -5 "$tmp/lz1.err" "$tmp/lz0.err" 2>/dev/null)"
fi

# --- NCCL's bind without a GPU (a build with the CUDA backend; tests/unit/test_comm_nccl.c) --
# each rank takes its device, rank 0's NCCL id reaches rank 1 over MPI, and the communicator's
# failure (no GPU here) is an error on both ranks that names the rank and NCCL's reason; then
# rank 0 unable to load NCCL (GTA_NCCL) ends the job with its message while rank 1 waits for
# the id in MPI_Bcast: no hang
if [ ! -x "$TN" ] || ! nm "$TN" 2>/dev/null | grep -q ' p_ncclAllReduce$'; then
  echo "skip: no $TN of a build with the CUDA backend (NCCL's bind)"
else
  t0=$(date +%s)
  timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 "$TN" >"$tmp/nccl.out" 2>&1
  rc=$?
  n=$(grep -c 'NCCL: ncclCommInitRank (rank [01] of 2) failed' "$tmp/nccl.out")
  if [ $rc = 0 ] && grep -q 'skipped: ' "$tmp/nccl.out"; then
    echo "skip: NCCL's bind: $(grep -m1 -o 'skipped: .*' "$tmp/nccl.out")"
  elif [ $rc = 0 ] && [ "$(grep -c '^\[  PASSED  \] 1 test' "$tmp/nccl.out")" = 2 ]; then
    ok "NCCL bind, 2 ranks: $( [ "$n" = 2 ] && echo "both ranks report the communicator's failure (no GPU)" || echo "the communicator formed") in $(($(date +%s) - t0)) s"
  else
    bad "NCCL bind, 2 ranks (rc $rc)" "$(tail -n 12 "$tmp/nccl.out")"
  fi
  t0=$(date +%s)
  timeout 120 mpirun --allow-run-as-root --oversubscribe -x GTA_TEST_ABORT_ON_ERROR=1 \
    -np 1 -x GTA_NCCL=/nonexistent/libnccl.so.2 "$TN" : -np 1 "$TN" >"$tmp/nccl0.out" 2>&1
  rc=$?
  dt=$(($(date +%s) - t0))
  if [ $rc != 0 ] && [ $rc != 124 ] && [ $dt -lt 60 ] &&
    grep -q 'gta: error: rank 0: NCCL: GTA_NCCL=/nonexistent/libnccl.so.2 cannot be loaded' "$tmp/nccl0.out"; then
    ok "NCCL not loadable on rank 0: the job ends in $dt s (rc $rc) with rank 0's error, rank 1 not left waiting"
  else
    bad "NCCL not loadable on rank 0 ends the job with its error, no hang (rc $rc, $dt s)" "$(tail -n 12 "$tmp/nccl0.out")"
  fi
fi
finish
