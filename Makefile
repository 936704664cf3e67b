# saferlhf -- Safe RLHF as a C/CUDA toolchain.
#   make            build the library, the tools and the tests (CUDA sources too when nvcc exists)
#   make CUDA=0     skip the CUDA sources
#   make MPI=0      one process only (no Open MPI); MPI=1 (the default when its headers are
#                   installed) builds the data-parallel trainers for mpirun, and with CUDA NCCL
#   make test       install missing Debian packages, build, run the test suite
#   make demo       install, build, run the three-round Safe RLHF pipeline on the built-in world
#                   (scripts/pipeline.mk, WORK=out/demo), print the table and the figures' paths
#   make bench      print benchmark JSON lines
#   make test-cuda  every CUDA op against the CPU backend (SKIP without a GPU); CUDA_ARCH=native
#                   builds for the GPUs present instead of the portable sm_80 + sm_90 set
#   make check-man  lint the man pages
#   make asan       build everything with -fsanitize=address,undefined into build-asan/ and run
#                   the suite there (slow; CI need not run it every time)
#   make fuzz       the mutation fuzz test for minutes instead of seconds (FUZZ_CASES=N)

CC      ?= cc
NVCC    ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA    ?= $(if $(NVCC),1,0)
BUILD   ?= build
PREFIX  ?= /usr/local

PKGS     = jansson zlib openblas libcurl
# Recursively expanded on purpose: pkg-config runs only when something is compiled, after
# `make test` has had the chance to install the packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -Wall -Wextra -Wno-unused-parameter -fopenmp -D_GNU_SOURCE -MMD -MP \
           -Ilib -Ikernels
LDLIBS   = -fopenmp -lm

LIB_SRC  = $(wildcard lib/*.c)

# MPI (Open MPI from Debian: libopenmpi-dev) for data parallelism across processes (lib/dist.c).
# Recursively expanded like PKG_CFLAGS: `make test` installs the package before the sub-make.
MPI     ?= $(if $(shell pkg-config --exists ompi-c 2>/dev/null && echo y),1,0)
ifeq ($(MPI),1)
CFLAGS  += -DSRL_MPI=1 $(shell pkg-config --cflags ompi-c)
LDLIBS  += $(shell pkg-config --libs ompi-c)
endif
ifeq ($(CUDA),1)
CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_ARCH  ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
ifeq ($(CUDA_ARCH),native)
override CUDA_ARCH := -arch=native
endif
NVCCFLAGS  ?= -O2 -g -std=c++17 $(CUDA_ARCH) -Xcompiler -Wall,-Wextra,-Wno-unused-parameter
KERNEL_SRC  = $(wildcard kernels/*.cu)
KERNEL_OBJ  = $(KERNEL_SRC:%.cu=$(BUILD)/%.o)
CFLAGS     += -DSRL_CUDA=1
LDLIBS     += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++ \
              -ldl -lrt -lpthread
# NCCL for the gradient collectives between GPUs (bootstrapped through MPI): CUDA 13 ships it
NCCL       ?= $(if $(and $(filter 1,$(MPI)),$(wildcard $(CUDA_HOME)/include/nccl.h)),1,0)
ifeq ($(NCCL),1)
CFLAGS     += -DSRL_NCCL=1 -I$(CUDA_HOME)/include
LDLIBS     += -lnccl
endif
else
KERNEL_OBJ  =
endif

NCCL      ?= 0
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/%.o) $(KERNEL_OBJ)
LIB_A     = $(BUILD)/libsaferlhf.a
TOOLS     = $(patsubst tools/%.c,$(BUILD)/bin/%,$(wildcard tools/saferlhf-*.c))
TOOL_OBJ  = $(BUILD)/tools/tool.o $(BUILD)/tools/opt_table.o
TESTS     = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
# CUDA-vs-CPU op tests: built always (so they cannot rot), SKIP where there is no GPU
CUDA_TESTS = $(patsubst tests/cuda/%.c,$(BUILD)/tests/%,$(wildcard tests/cuda/test_*.c))
TESTS    += $(CUDA_TESTS)
BENCHES   = $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/bench_*.c)) \
            $(BUILD)/bench/bench_cuda
# llama2.c's run.c, bench_generate's baseline, where scripts/fetch-llama2c.sh has put it (not
# in the repository: bench/third_party/llama2c/README), built as llama2.c's `make runomp`
LLAMA2C_RUN_C = bench/third_party/llama2c/run.c
BENCHES  += $(if $(wildcard $(LLAMA2C_RUN_C)),$(BUILD)/bench/llama2c_run)
# helper programs the CLI tests run (e.g. a loopback chat-completions server)
TEST_TOOLS = $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))
# LD_PRELOAD shims the CLI tests run tools under (e.g. kill -9 at the Nth file-system step)
TEST_SHIMS = $(patsubst tests/shim/%.c,$(BUILD)/tests/shim/%.so,$(wildcard tests/shim/*.c))

.PHONY: all test test-cuda check deps bench check-man clean install print-config demo asan fuzz
# keep object files that only pattern rules mention (tools, tests) between builds
.SECONDARY:
all: $(LIB_A) $(TOOLS) $(TESTS) $(BENCHES) $(TEST_TOOLS) $(TEST_SHIMS)
	@echo "built: $(notdir $(TOOLS)) (CUDA=$(CUDA) MPI=$(MPI) NCCL=$(NCCL))"

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/kernels/%.o: kernels/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Ilib -Ikernels -MD -MP -c $< -o $@

# the optimiser's AdamW loop vectorises only where sqrtf need not set errno (nothing reads it)
$(BUILD)/lib/backend_cpu_optim.o: CFLAGS += -fno-math-errno

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/tools/%.o $(TOOL_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(PKG_LIBS) $(LDLIBS)

# the trainers share their options (tools/train_opts.c, tools/train_common.c); the reward- and
# cost-model ones their whole body (tools/train_score.c)
TRAIN_OBJ = $(BUILD)/tools/train_common.o $(BUILD)/tools/train_opts.o
$(BUILD)/bin/saferlhf-ppo-lag: $(BUILD)/tools/saferlhf-ppo-lag.o $(BUILD)/tools/train_opts.o \
                               $(TOOL_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/bin/saferlhf-sft: $(BUILD)/tools/saferlhf-sft.o $(TRAIN_OBJ) $(TOOL_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/bin/saferlhf-train-%m: $(BUILD)/tools/saferlhf-train-%m.o $(BUILD)/tools/train_score.o \
                                $(TRAIN_OBJ) $(TOOL_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ -o $@ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests $< $(LIB_A) -o $@ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/cuda/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests $< $(LIB_A) -o $@ $(PKG_LIBS) $(LDLIBS)

# the GPU benchmark lives with the CUDA tests; it prints a "skipped" line without a GPU
$(BUILD)/bench/bench_cuda: tests/cuda/bench_cuda.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $< $(LIB_A) -o $@ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Itests $< $(LIB_A) -o $@ $(PKG_LIBS) $(LDLIBS) -lpthread

$(BUILD)/tests/shim/%.so: tests/shim/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -fPIC -shared -D_GNU_SOURCE $< -o $@ -ldl

$(BUILD)/bench/%: bench/%.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $< $(LIB_A) -o $@ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/bench/llama2c_run: $(LLAMA2C_RUN_C)
	@mkdir -p $(dir $@)
	$(CC) -Ofast -fopenmp -march=native $< -lm -o $@

deps:
	@scripts/install-deps.sh

# The README's test command: install what is missing, build, run everything (both on every CPU;
# tests/run.sh runs TEST_JOBS tests at once).
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
test check:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@TEST_JOBS=$(JOBS) tests/run.sh $(BUILD)

# The suite under AddressSanitizer and UndefinedBehaviorSanitizer, in its own build directory;
# any report aborts the program, so it counts as a failure.
ASAN_BUILD  = build-asan
ASAN_CFLAGS = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
asan:
	@scripts/install-deps.sh
	@CFLAGS="$(ASAN_CFLAGS)" $(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CUDA=0 all
	@BUILD=$(ASAN_BUILD) FUZZ_MEM_MB=0 \
	    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1 tests/run.sh $(ASAN_BUILD)

# tests/cli/fuzz.sh for minutes: FUZZ_CASES mutated inputs (make test runs 60), failing inputs
# kept in out/fuzz/fail-N
FUZZ_CASES ?= 3000
FUZZ_SEED  ?= 1
fuzz: all
	@mkdir -p out/fuzz
	@FUZZ_CASES=$(FUZZ_CASES) FUZZ_SEED=$(FUZZ_SEED) FUZZ_WORK=$(CURDIR)/out/fuzz \
	    BUILD=$(BUILD) tests/cli/fuzz.sh | tee out/fuzz/log; ! grep -q '^FAIL' out/fuzz/log

# CUDA against CPU, op by op (tests/cuda/); every test prints SKIP without a device.
test-cuda: $(LIB_A) $(CUDA_TESTS)
	@rc=0; for t in $(CUDA_TESTS); do echo "== $$t"; $$t || rc=1; done; exit $$rc

# The README's demo: the pipeline of scripts/pipeline.mk on saferlhf-synth's world (restartable:
# a second `make demo` redoes only what is missing; `rm -rf out/demo` to start over).
demo:
	@scripts/install-deps.sh
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -j2 -f scripts/pipeline.mk BIN=$(BUILD)/bin WORK=out/demo

bench: all
	@scripts/bench.sh $(BUILD)

check-man:
	@for m in man/man*/*.[157]; do groff -man -ww -z "$$m" || exit 1; done; echo "man pages ok"

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin
	install -m 644 man/man1/*.1 $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 man/man7/*.7 $(DESTDIR)$(PREFIX)/share/man/man7

print-config:
	@echo "CC=$(CC) CUDA=$(CUDA) NVCC=$(NVCC) MPI=$(MPI) NCCL=$(NCCL)"; echo "CFLAGS=$(CFLAGS) $(PKG_CFLAGS)"; \
	 echo "LIBS=$(PKG_LIBS) $(LDLIBS)"

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
