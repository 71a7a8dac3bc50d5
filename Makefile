# gta — build with `make`; the program lands at build/gta.
#   make test      unit + CLI tests (the README's test command runs this and `make asan-test`)
#   make asan-test the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#   make check     both (what CI runs)
#   make format    clang-format every source file
CC      ?= cc
BUILD   ?= build
OPT     ?= -O3 -march=x86-64-v3 -mtune=generic
SAN     ?=
BLAS_INC = /usr/include/x86_64-linux-gnu/openblas-openmp
BLAS_LIB = /usr/lib/x86_64-linux-gnu/openblas-openmp

CFLAGS  = -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wvla \
          -fopenmp -g -D_GNU_SOURCE $(OPT) $(SAN) -Isrc -I$(BLAS_INC) -MMD -MP
LDFLAGS = -fopenmp $(SAN) -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB)
LDLIBS  = -lopenblas -lcjson -lpcre2-8 -lutf8proc -lm -lpthread

# oneDNN (Debian's libdnnl-dev) for --compute bf16 when its header is found (AMX /
# AVX512-BF16 matmul, src/backend/cpu/cpu_bf16_dnnl.c); `make DNNL=0` builds without it
# (our own vdpbf16ps kernel and the fp32 fallback remain).
DNNL ?= $(if $(wildcard /usr/include/oneapi/dnnl/dnnl.h),1,0)
ifeq ($(DNNL),1)
CFLAGS  += -DGTA_HAVE_DNNL
LDLIBS  += -ldnnl
endif

# MPI (data-parallel training under mpirun / srun) when OpenMPI's mpicc is present: only
# src/comm/comm_mpi.c sees its headers; without it the build is the one-process one.
# MPI=0 builds without it even so.
MPICC   ?= $(shell command -v mpicc 2>/dev/null)
MPI     ?= $(if $(MPICC),1,0)
ifeq ($(MPI),1)
CFLAGS  += -DGTA_HAVE_MPI=1
MPI_CFLAGS := $(shell $(MPICC) --showme:compile)
LDLIBS  += $(shell $(MPICC) --showme:link)
MPI_SRC :=
else
MPI_SRC := src/comm/comm_mpi.c
endif

LIB_SRC  = $(filter-out src/cli/main.c $(MPI_SRC) $(NCCL_SRC),$(shell find src -name '*.c' | sort))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)

# The CUDA backend (src/backend/cuda/*.cu, docs/gpu.md) when nvcc is found on PATH or in
# /usr/local/cuda/bin; `make CUDA=0` builds without it. cudart is linked statically;
# cuBLASLt is opened at run time (dlopen) when --device cuda is asked for.
NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA ?= $(if $(NVCC),1,0)
ifeq ($(CUDA),1)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
             -gencode arch=compute_90,code=compute_90
NVFLAGS  = -std=c++17 -O3 -g -Isrc $(CUDA_ARCH) -DGTA_CUDA_LIB='"$(CUDA_HOME)/lib64"' --Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter
CU_SRC   = $(sort $(wildcard src/backend/cuda/*.cu))
LIB_OBJ += $(CU_SRC:%.cu=$(BUILD)/obj/%.o)
CFLAGS  += -DGTA_HAVE_CUDA
LDLIBS  += -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lstdc++
# NCCL for the device buffers of a run of several processes (src/comm/comm_nccl.c, the
# toolkit's nccl.h): libnccl is opened at run time (dlopen), like cuBLASLt
NCCL_CFLAGS = -I$(CUDA_HOME)/include -DGTA_CUDA_LIB='"$(CUDA_HOME)/lib64"'
NCCL_SRC :=
else
NCCL_SRC := src/comm/comm_nccl.c
endif
CLI_OBJ  = $(BUILD)/obj/src/cli/main.o
TEST_SRC = $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_COMMON = $(BUILD)/obj/tests/unit/testutil.o
# fuzz harnesses (tests/fuzz): libFuzzer binaries with `make fuzz`, and replay drivers
# (the same harness code without libFuzzer) that `make check` runs on the corpus and the
# regression inputs
FUZZ_NAMES  = $(sort $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_REPLAY = $(FUZZ_NAMES:%=$(BUILD)/fuzz-replay/%)
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20

.SECONDARY:
.PHONY: all check test unit-test cli-test asan-test format clean fuzz fuzz-bins fuzz-replay fuzz-smoke
all: $(BUILD)/gta

$(BUILD)/gta: $(CLI_OBJ) $(BUILD)/libgta.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libgta.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo CC $<
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	@echo NVCC $<
	@$(NVCC) $(NVFLAGS) -MD -MF $(@:.o=.d) -c -o $@ $<

$(BUILD)/obj/src/comm/comm_mpi.o: src/comm/comm_mpi.c
	@mkdir -p $(dir $@)
	@echo CC $<
	@$(CC) $(CFLAGS) $(MPI_CFLAGS) -c -o $@ $<

$(BUILD)/obj/src/comm/comm_nccl.o: src/comm/comm_nccl.c
	@mkdir -p $(dir $@)
	@echo CC $<
	@$(CC) $(CFLAGS) $(NCCL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_COMMON) $(BUILD)/libgta.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

unit-test: $(TEST_BIN) $(BUILD)/gta fuzz-replay
	@GTA_BUILD=$(BUILD) tests/run_unit.sh $(TEST_BIN)

$(BUILD)/fuzz-replay/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay.o $(BUILD)/libgta.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# every corpus and regression input through every harness (seconds)
fuzz-replay: $(FUZZ_REPLAY)
	@tests/fuzz/replay.sh $(BUILD)/fuzz-replay $(FUZZ_NAMES)

# libFuzzer + AddressSanitizer + UBSan builds of the harnesses, with clang
fuzz:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT="-O1 -march=x86-64-v3 -fno-omit-frame-pointer -Wno-pass-failed" \
	  SAN="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fsanitize=fuzzer-no-link" fuzz-bins

fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/libgta.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# each harness for FUZZ_SECONDS on its corpus (CI: 7 harnesses x 20 s)
fuzz-smoke: fuzz
	@tests/fuzz/run.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

cli-test: $(BUILD)/gta
	@GTA=$(BUILD)/gta tests/cli/run.sh

test: unit-test cli-test

# everything CI runs: the tests, then the unit tests again under the sanitizers
check: test asan-test

# Sanitizer build in its own folder; OpenMP runs single-threaded there so that the
# sanitizers see one deterministic schedule. Without the CUDA backend: no GPU runs in the
# unit tests, and it halves the build.
asan-test:
	@$(MAKE) --no-print-directory CUDA=0 BUILD=build-asan OPT="-O1 -march=x86-64-v3 -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all" unit-test

format:
	clang-format -i $$(find src tests bench -name '*.[ch]' -o -name '*.cu')

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
