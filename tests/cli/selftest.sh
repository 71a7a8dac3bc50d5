#!/usr/bin/env bash
# gta selftest: --device cpu checks the CPU backend's ops against double-precision loops
# (exit 0, a summary with 0 mismatches); a planted error in one reference value is found
# and named (exit 1, a MISMATCH line for that op, the others clean); --device cuda on a
# machine without a usable GPU (or a build without nvcc) exits 2 with "gta: error:" and
# says why; --nccl asks for --device cuda (exit 2 otherwise, or without a GPU); bad usage
# exits 2. On a machine with a GPU the cuda runs must be clean instead.
#
#   GTA=build/gta tests/cli/selftest.sh      (from the repository root)
set -u
NAME=selftest
. "$(dirname "$0")/common.bash"

"$GTA" selftest --help >"$tmp/help.out" 2>&1
if [ $? = 0 ] && grep -q -- '--device' "$tmp/help.out"; then ok "selftest --help lists --device"; else
  bad "selftest --help lists --device" "$(cat "$tmp/help.out")"; fi

"$GTA" selftest --device cpu >"$tmp/cpu.out" 2>"$tmp/cpu.err"
rc=$?
last=$(tail -n 1 "$tmp/cpu.out")
checks=$(printf '%s' "$last" | grep -Eo '[0-9]+ checks' | grep -Eo '[0-9]+')
if [ $rc = 0 ] && [[ $last == "selftest cpu: "*" checks, 0 mismatches"* ]] && [ "${checks:-0}" -ge 90 ] &&
  ! grep -q MISMATCH "$tmp/cpu.out"; then
  ok "--device cpu: $last"
else
  bad "--device cpu: exit 0 and 0 mismatches over at least 90 checks (rc $rc)" "$(cat "$tmp/cpu.out" "$tmp/cpu.err")"
fi
"$GTA" selftest --device cpu --verbose >"$tmp/v.out" 2>&1
n_ok=$(grep -c '^ok ' "$tmp/v.out")
missing=""
for op in "linear " "linear_dw db" "rmsnorm " "rope " "attention out" "attention lse" "logprob_head lp" \
  "sample tokens" "dot3" "adamw p" "fill_normal" "gemm" "dropout" "rmsnorm_backward dw NULL"; do
  grep -q "^ok       $op" "$tmp/v.out" || missing="$missing '$op'"
done
if [ "$n_ok" = "${checks:-x}" ] && [ -z "$missing" ]; then ok "--verbose prints every check ($n_ok), each op among them"; else
  bad "--verbose prints every check (got $n_ok ok lines, $checks checks; missing:$missing)"; fi

# the comparison bites: one planted error, found, named, the rest clean
GTA_SELFTEST_PLANT="attention lse" "$GTA" selftest --device cpu >"$tmp/plant.out" 2>&1
rc=$?
nm=$(grep -c '^MISMATCH' "$tmp/plant.out")
nat=$(grep -c '^MISMATCH attention lse' "$tmp/plant.out")
if [ $rc = 1 ] && [ "$nm" -ge 1 ] && [ "$nm" = "$nat" ] && grep -q "$nm mismatches" "$tmp/plant.out"; then
  ok "a planted error in 'attention lse' exits 1 with $nm MISMATCH lines, all naming it"
else
  bad "a planted error is found and named (rc $rc, $nm mismatches, $nat for the op)" "$(cat "$tmp/plant.out")"
fi

# --device cuda: clean with a GPU; without one exit 2 and say why
"$GTA" selftest --device cuda >"$tmp/cuda.out" 2>"$tmp/cuda.err"
rc=$?
first=$(head -n 1 "$tmp/cuda.err")
if [ $rc = 2 ] && [[ $first == "gta: error: "*"--device cuda: "* ]] &&
  grep -Eq 'no usable CUDA device|no CUDA backend' "$tmp/cuda.err"; then
  ok "--device cuda without a usable GPU: exit 2, $first"
elif [ $rc = 0 ] && grep -q ' 0 mismatches' "$tmp/cuda.out"; then
  ok "--device cuda on this GPU: $(tail -n 1 "$tmp/cuda.out")"
else
  bad "--device cuda: exit 2 with the reason, or 0 mismatches on a GPU (rc $rc)" "$(cat "$tmp/cuda.out" "$tmp/cuda.err")"
fi

# --nccl (NCCL through the communication seam, one rank): CUDA device buffers only; clean
# with a GPU, exit 2 with the reason without one
"$GTA" selftest --device cpu --nccl >"$tmp/n.out" 2>"$tmp/n.err"
rc=$?
if [ $rc = 2 ] && grep -q 'gta: error: gta selftest: --nccl needs --device cuda' "$tmp/n.err"; then
  ok "--nccl --device cpu: exit 2, $(head -n 1 "$tmp/n.err")"
else
  bad "--nccl --device cpu: exit 2 saying it needs --device cuda (rc $rc)" "$(cat "$tmp/n.out" "$tmp/n.err")"
fi
"$GTA" selftest --device cuda --nccl >"$tmp/n.out" 2>"$tmp/n.err"
rc=$?
if [ $rc = 2 ] && grep -Eq 'gta: error: .*(no usable CUDA device|no CUDA backend)' "$tmp/n.err"; then
  ok "--nccl --device cuda without a usable GPU: exit 2, $(head -n 1 "$tmp/n.err")"
elif [ $rc = 0 ] && grep -q '^selftest nccl: .* 0 mismatches' "$tmp/n.out"; then
  ok "--nccl on this GPU: $(tail -n 1 "$tmp/n.out")"
else
  bad "--nccl --device cuda: exit 2 with the reason, or 0 mismatches on a GPU (rc $rc)" "$(cat "$tmp/n.out" "$tmp/n.err")"
fi

for args in "" "--device tpu" "--device cpu --bogus"; do
  # shellcheck disable=SC2086
  "$GTA" selftest $args >"$tmp/u.out" 2>"$tmp/u.err"
  rc=$?
  if [ $rc = 2 ] && [[ $(head -n 1 "$tmp/u.err") == "gta: error:"* ]]; then ok "selftest $args: exit 2, $(head -n 1 "$tmp/u.err")"; else
    bad "selftest $args: exit 2 with gta: error: (rc $rc)" "$(cat "$tmp/u.err")"; fi
done
finish
