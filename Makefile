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

LIB_SRC  = $(filter-out src/cli/main.c $(MPI_SRC),$(shell find src -name '*.c' | sort))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  = $(BUILD)/obj/src/cli/main.o
TEST_SRC = $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_COMMON = $(BUILD)/obj/tests/unit/testutil.o

.SECONDARY:
.PHONY: all check test unit-test cli-test asan-test format clean
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

$(BUILD)/obj/src/comm/comm_mpi.o: src/comm/comm_mpi.c
	@mkdir -p $(dir $@)
	@echo CC $<
	@$(CC) $(CFLAGS) $(MPI_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_COMMON) $(BUILD)/libgta.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

unit-test: $(TEST_BIN) $(BUILD)/gta
	@GTA_BUILD=$(BUILD) tests/run_unit.sh $(TEST_BIN)

cli-test: $(BUILD)/gta
	@GTA=$(BUILD)/gta tests/cli/run.sh

test: unit-test cli-test

# everything CI runs: the tests, then the unit tests again under the sanitizers
check: test asan-test

# Sanitizer build in its own folder; OpenMP runs single-threaded there so that the
# sanitizers see one deterministic schedule.
asan-test:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -march=x86-64-v3 -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all" unit-test

format:
	clang-format -i $$(find src tests bench -name '*.[ch]')

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
