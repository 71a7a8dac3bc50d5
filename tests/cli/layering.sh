#!/usr/bin/env bash
# The backend seam holds: no file outside src/backend includes a backend's own header
# (src/backend/<name>/...), contains an OpenMP pragma or includes an intrinsics header.
# Tests count as outside too, except test_kernels.c (the CPU backend's own kernel tests).
# The check is shown to bite on planted files first.
#
#   tests/cli/layering.sh        (from the repository root)
set -u
NAME=layering
GTA=${GTA:-build/gta}
. "$(dirname "$0")/common.bash"

# offenders under the given roots: "file: why" lines
offenders() {
  grep -rnE --include='*.c' --include='*.h' --include='*.cu' \
    -e '#[[:space:]]*include[[:space:]]*"backend/[a-z0-9_]+/' \
    -e '#[[:space:]]*pragma[[:space:]]+omp' \
    -e '#[[:space:]]*include[[:space:]]*<(immintrin|x86intrin|xmmintrin|emmintrin|pmmintrin|smmintrin|nmmintrin|avxintrin|avx2intrin|avx512[a-z]*intrin|arm_neon|omp)\.h>' \
    "$@" 2>/dev/null | grep -v '^src/backend/' | grep -v '^tests/unit/test_kernels\.c:'
}

# the check catches each kind of offence (planted in a scratch tree)
mkdir -p "$tmp/src/model" "$tmp/src/backend/cpu"
printf '#include "backend/cpu/cpu_ops.h"\n' >"$tmp/src/model/a.c"
printf 'void f(void) {\n#pragma omp parallel for\n  for (;;) {}\n}\n' >"$tmp/src/model/b.c"
printf '#include <immintrin.h>\n' >"$tmp/src/model/c.h"
printf '#include <omp.h>\n' >"$tmp/src/model/d.c"
printf '#include "backend/backend.h"\n' >"$tmp/src/model/fine.c"
printf '#include <immintrin.h>\n#pragma omp parallel\n' >"$tmp/src/backend/cpu/fine.c"
got=$( (cd "$tmp" && offenders src) | cut -d: -f1 | sort -u | tr '\n' ' ')
if [ "$got" = "src/model/a.c src/model/b.c src/model/c.h src/model/d.c " ]; then
  ok "the check finds a backend header, an OpenMP pragma, <immintrin.h> and <omp.h> outside src/backend, and nothing else"
else
  bad "the check finds exactly the planted offences" "got: $got"
fi

# the repository itself
out=$(offenders src tests bench)
if [ -z "$out" ]; then
  ok "no file outside src/backend includes a backend's header, uses OpenMP pragmas or intrinsics"
else
  bad "no file outside src/backend includes a backend's header, uses OpenMP pragmas or intrinsics" "$out"
fi

# the seam exists: one versioned ops table, and the CPU backend implements it
if grep -q 'GTA_BACKEND_VERSION' src/backend/backend.h && grep -q '\.version = GTA_BACKEND_VERSION' src/backend/cpu/*.c; then
  ok "backend.h declares a versioned ops table and the CPU backend fills it"
else
  bad "backend.h declares a versioned ops table and the CPU backend fills it"
fi
finish
