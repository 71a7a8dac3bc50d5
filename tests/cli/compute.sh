#!/usr/bin/env bash
# --compute bf16 end to end: a short pretraining run's loss curve in bf16 within 2% of
# fp32's at every logged step (a 0.3M-parameter llama, 40 steps); gta train (full and
# LoRA, over an fp32 or a bf16 base), generate, eval and bench run with it (and say so);
# 2 MPI ranks with ZeRO-1 = ZeRO-0 byte for byte (where mpirun is); the fallback kernel
# forced by GTA_CPU_NO_AVX512BF16=1; a bad --compute is exit 2 naming
# the value.
#
#   tests/cli/compute.sh        (from the repository root, after make)
set -u
NAME=compute
. "$(dirname "$0")/common.bash"

M="$GTA_SHARED/models/stories260K"
D="$GTA_SHARED/data/emotion"
if [ ! -d "$M" ] || [ ! -d "$D" ]; then
  echo "skip: no $M or $D (../shared is absent)"
  finish
fi

# the loss curves: the same data order and initialization, fp32 against bf16
for c in f32 bf16; do
  "$GTA" pretrain --model-config "$M/config.json" --tokenizer "$M" --corpus "$D/train.jsonl" --out "$tmp/p-$c" \
    --steps 40 --batch 4 --seq 64 --learning-rate 2e-3 --save-steps 0 --holdout 0 --seed 3 --compute $c \
    2>"$tmp/p-$c.err" && ok "pretrain --compute $c" || bad "pretrain --compute $c" "$(tail -5 "$tmp/p-$c.err")"
done
out=$(python3 - "$tmp/p-f32/metrics.jsonl" "$tmp/p-bf16/metrics.jsonl" <<'PY'
import json, sys
a = [json.loads(l)["loss"] for l in open(sys.argv[1])]
b = [json.loads(l)["loss"] for l in open(sys.argv[2])]
assert len(a) == len(b) == 40, (len(a), len(b))
worst = max(abs(x - y) / x for x, y in zip(a, b))
same = sum(x == y for x, y in zip(a, b))
print(f"steps {len(a)} loss {a[0]:.4f} -> {a[-1]:.4f} (f32), {b[0]:.4f} -> {b[-1]:.4f} (bf16); "
      f"worst relative difference {worst:.4%}; identical steps {same}")
sys.exit(0 if worst <= 0.02 and a[-1] < a[0] - 0.5 and same < len(a) else 1)
PY
) && ok "bf16 loss curve within 2% of fp32's: $out" || bad "bf16 loss curve within 2% of fp32's" "$out"

# training, generation and the benchmarks take it
"$GTA" train --method gta --model "$M" --data "$D" --out "$tmp/t" --steps 2 --batch-prompts 2 --group-size 4 \
  --max-new-tokens 16 --max-prompt-tokens 440 --save-steps 0 --compute bf16 2>"$tmp/t.err" \
  && ok "train --compute bf16" || bad "train --compute bf16" "$(tail -5 "$tmp/t.err")"
grep -q "policy bf16 weights" "$tmp/t.err" && ok "the memory plan has the bf16 weight copy" \
  || bad "the memory plan has the bf16 weight copy" "$(grep -A20 'memory plan' "$tmp/t.err")"
[ "$(wc -l <"$tmp/t/metrics.jsonl" 2>/dev/null)" = 2 ] && ok "train: 2 metric lines" || bad "train: 2 metric lines"
"$GTA" generate --model "$M" --prompt "Once upon a time" --max-new-tokens 12 --greedy --compute bf16 \
  >"$tmp/g.out" 2>"$tmp/g.err" && [ -s "$tmp/g.out" ] && ok "generate --compute bf16" \
  || bad "generate --compute bf16" "$(tail -3 "$tmp/g.err")"
j=$("$GTA" bench --what gemm --config tiny --batch 2 --seq 32 --runs 1 --compute bf16 2>/dev/null)
echo "$j" | grep -q '"compute":"bf16"' && ok "bench gemm --compute bf16" || bad "bench gemm --compute bf16" "$j"
j=$(GTA_CPU_NO_AVX512BF16=1 "$GTA" bench --what gemm --config tiny --batch 2 --seq 32 --runs 1 --compute bf16 2>/dev/null)
echo "$j" | grep -q '"bf16_kernel":"fallback"' && ok "GTA_CPU_NO_AVX512BF16=1 selects the fallback" \
  || bad "GTA_CPU_NO_AVX512BF16=1 selects the fallback" "$j"
j=$("$GTA" bench --what train --config tiny --batch 2 --seq 32 --runs 1 --compute bf16 2>/dev/null)
echo "$j" | grep -q '"compute":"bf16"' && ok "bench train --compute bf16" || bad "bench train --compute bf16" "$j"

# LoRA with bf16 compute: over an fp32 base (its bf16 copy, shared with the reference) and
# over a base kept in bf16 (its own matrices: no copy)
lora=(--method gta --model "$M" --data "$D" --max-prompt-tokens 440 --batch-prompts 1 --group-size 4
      --max-new-tokens 16 --learning-rate 3e-3 --num-iterations 2 --seed 3 --lora-r 4 --lora-alpha 8
      --save-steps 0 --steps 2 --compute bf16)
"$GTA" train "${lora[@]}" --out "$tmp/l32" 2>"$tmp/l32.err" && [ -f "$tmp/l32/final/adapter_model.safetensors" ] \
  && grep -q "policy bf16 weights" "$tmp/l32.err" && ! grep -q "reference bf16 weights" "$tmp/l32.err" \
  && ok "LoRA over an fp32 base, --compute bf16: trains; one bf16 copy planned (the reference shares it)" \
  || bad "LoRA over an fp32 base, --compute bf16" "$(tail -5 "$tmp/l32.err")"
"$GTA" train "${lora[@]}" --base-dtype bf16 --out "$tmp/l16" 2>"$tmp/l16.err" \
  && [ -f "$tmp/l16/final/adapter_model.safetensors" ] && ! grep -q "policy bf16 weights" "$tmp/l16.err" \
  && ok "LoRA over a bf16 base, --compute bf16: trains from the base's own bf16 matrices" \
  || bad "LoRA over a bf16 base, --compute bf16" "$(tail -5 "$tmp/l16.err")"
"$GTA" eval --model "$M" --data "$D" --limit 4 --max-prompt-tokens 440 --max-new-tokens 8 --batch 4 --quiet \
  --compute bf16 --out "$tmp/ev.json" 2>"$tmp/ev.err" && [ -s "$tmp/ev.json" ] && ok "eval --compute bf16" \
  || bad "eval --compute bf16" "$(tail -3 "$tmp/ev.err")"

# data-parallel (2 MPI ranks, where mpirun and an MPI build are here): with ZeRO-1 each rank
# updates its shard and the parameters are gathered after the update; the bf16 copy made
# from them afterwards gives the ZeRO-0 run's weights byte for byte
if command -v mpirun >/dev/null 2>&1 && ldd "$GTA" 2>/dev/null | grep -q libmpi; then
  mp=(--model "$M" --data "$D" --method gta --max-prompt-tokens 440 --batch-prompts 2 --group-size 4
      --max-new-tokens 16 --learning-rate 1e-4 --num-iterations 2 --seed 5 --steps 2 --save-steps 0 --compute bf16)
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
    OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
  for z in 0 1; do
    OMP_NUM_THREADS=1 timeout 300 mpirun --allow-run-as-root --oversubscribe -np 2 "$GTA" train "${mp[@]}" \
      --zero $z --out "$tmp/mz$z" 2>"$tmp/mz$z.err" || bad "2 ranks, --zero $z --compute bf16" "$(tail -5 "$tmp/mz$z.err")"
  done
  cmp -s "$tmp/mz0/final/model.safetensors" "$tmp/mz1/final/model.safetensors" \
    && ok "2 ranks, --compute bf16: ZeRO-1 weights = ZeRO-0 weights (byte for byte)" \
    || bad "2 ranks, --compute bf16: ZeRO-1 weights = ZeRO-0 weights"
else
  echo "skip: 2-rank bf16 compute (no mpirun or no MPI build)"
fi

# a bad value: exit 2, the value named
for cmd in "pretrain --model-config $M/config.json" "generate --model $M --prompt x --max-new-tokens 1" \
  "bench --what gemm" "train --model $M --data $D --out $tmp/x" "eval --model $M --data $D --out $tmp/x.json"; do
  # shellcheck disable=SC2086
  $GTA $cmd --compute fp8 >/dev/null 2>"$tmp/e.err"
  rc=$?
  [ $rc = 2 ] && grep -q "fp8" "$tmp/e.err" && ok "${cmd%% *} --compute fp8: exit 2" \
    || bad "${cmd%% *} --compute fp8: exit 2 naming it (got $rc)" "$(cat "$tmp/e.err")"
done
finish
