# SPDX-License-Identifier: GPL-2.0
#
# ipsec_rs top-level Makefile.
#
#   make setup      install packages, fetch sources, build the debug and perf
#                   kernels (cached outside the clone, see scripts/setup.sh)
#   make            build ipsec_rs.ko against $(KDIR) (default: the debug kernel)
#   make check      every test: host unit tests, then the QEMU selftests on
#                   the debug kernel (this is what CI runs)
#   make run        the QEMU lab demo: two routers, an IPsec tunnel, traffic,
#                   the module's counters
#   make bench      benchmarks (host microbenchmarks; QEMU ones on the perf kernel)
#   make clean
#
# Variables: KDIR=<kernel build tree> (any Rust-enabled >= 6.12 tree, built
# with LLVM and prepared for external modules), FLAVOUR=debug|perf (which
# cached kernel KDIR defaults to), T="test1 test2" (subset of selftests).

IPSEC_RS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ipsec_rs
export IPSEC_RS_CACHE

# The toolchain facts (RUST_LIB_SRC, BINDGEN, LIBCLANG_PATH) that
# scripts/setup.sh writes to $(TOOLCHAIN_MK). They are read when a recipe
# uses them, not when make starts: in `make setup run` on a fresh machine the
# file only exists once the `setup` recipe has run, and the recipes after it
# must see what it wrote. A value given on the command line or in the
# environment wins.
TOOLCHAIN_MK := $(IPSEC_RS_CACHE)/toolchain.mk
toolchain = $(shell sed -n 's/^$(1) *:\{0,1\}= *//p' $(TOOLCHAIN_MK) 2>/dev/null)
RUST_LIB_SRC ?= $(call toolchain,RUST_LIB_SRC)
BINDGEN ?= $(call toolchain,BINDGEN)
LIBCLANG_PATH ?= $(call toolchain,LIBCLANG_PATH)

FLAVOUR ?= debug
DEFAULT_KDIR := $(IPSEC_RS_CACHE)/kernel-$(FLAVOUR)
KDIR ?= $(DEFAULT_KDIR)
LLVM ?= -16
PWD := $(shell pwd)
# The QEMU selftest runner of test-vm and run (the first-command check
# replaces it with `true`).
VM_RUNNER ?= selftests/run_vm.sh
# Every kernel make of ours: the toolchain facts as they are when it runs.
KBUILD_ARGS = LLVM=$(LLVM) \
	$(if $(RUST_LIB_SRC),RUST_LIB_SRC=$(RUST_LIB_SRC)) \
	$(if $(BINDGEN),BINDGEN=$(BINDGEN))
KENV = $(if $(LIBCLANG_PATH),LIBCLANG_PATH=$(LIBCLANG_PATH))
KMAKE = $(KENV) $(MAKE) -C $(KDIR) M=$(PWD) $(KBUILD_ARGS)

# With `make setup <goal>`, or `-j`, the set-up runs before anything that
# needs what it makes.
AFTER_SETUP := $(filter setup,$(MAKECMDGOALS))

.PHONY: all kernel modules setup check check-spec check-first-command test-host test-vm run bench bench-build bench-vm insn-profile clean canary

all: modules

# The kernel to build against. The project's own cached kernel (KDIR not
# given) is made sure of first: scripts/setup.sh is a no-op taking seconds
# when the cache is warm, and builds what is missing or stale on a fresh
# machine. A KDIR given by the user is only checked.
kernel: | $(AFTER_SETUP)
ifeq ($(KDIR),$(DEFAULT_KDIR))
	scripts/setup.sh $(FLAVOUR)
else
	@test -f $(KDIR)/Module.symvers || { echo "KDIR=$(KDIR) is not a prepared kernel build tree (no Module.symvers): see README.md"; exit 1; }
endif

modules: kernel
	$(KMAKE) modules

canary: kernel
	$(KENV) $(MAKE) -C $(KDIR) M=$(PWD)/selftests/canary $(KBUILD_ARGS) modules

setup:
	scripts/setup.sh all

test-host:
	cd core && cargo test
	cd userspace && cargo build && cargo test

test-vm: modules canary
	$(MAKE) -C selftests/tools
	cd userspace && cargo build
	$(VM_RUNNER) --kernel $(KDIR) $(T)

# The whole test suite (CI runs exactly this): host tests, the README's
# first command on a cache that never saw a set-up (check-first-command),
# then every QEMU selftest on the debug kernel (made sure of first: a no-op
# when the cache is warm).
check:
	$(MAKE) test-host
	$(MAKE) FLAVOUR=debug check-spec check-first-command
	$(MAKE) FLAVOUR=debug test-vm

# The netlink spec as the kernel's ynl tools read it: YAML, valid against
# the kernel source's genetlink schema (core's unit test checks its numbers,
# types and ranges against the core's tables).
check-spec: kernel
	scripts/check-spec $(KDIR)/source

# `make setup run` in one invocation against a throwaway cache from which
# the set-up's generated files are hidden (selftests/host/first_command.sh).
check-first-command: kernel
	selftests/host/first_command.sh

# The lab: the black hole appearing on router B (events, log line) and healed
# by hand; then the vendor guide's scenario with strongSwan, healed by
# ipsec-rsd.
run: modules
	cd userspace && cargo build
	$(VM_RUNNER) --kernel $(KDIR) demo.sh recovery.sh:on

# Benchmarks: the core's microbenchmarks on the host, then the QEMU ones on
# the perf kernel (the module is rebuilt against it; `make` rebuilds it for
# the debug kernel again): bench.sh (XFRM round trips with and without the
# module's hooks), bench_decap.sh (inbound decapsulation, the module's
# receive path against XFRM; Documentation/testing.rst explains its table).
# The perf build goes to its own directory: the debug and perf kernels have
# the same vermagic, and a module built for one must never be loaded into
# the other.
PERF_BUILD := $(PWD)/out/build-perf
PERF_VM := IPSEC_RS_VM_MEM=1024 selftests/run_vm.sh --kernel $(IPSEC_RS_CACHE)/kernel-perf --ko $(PERF_BUILD)/ipsec_rs.ko
# bench_decap.sh on a guest whose clock counts instructions (deterministic,
# immune to the host's load; see Documentation/testing.rst); empty for the
# host's clock.
DECAP_CLOCK ?= --icount 1
DECAP_ARGS ?= 20000,3
bench: bench-build
	cd core && cargo bench
	$(PERF_VM) bench.sh
	$(PERF_VM) $(DECAP_CLOCK) 'bench_decap.sh:$(DECAP_ARGS) timeout=3000'

# The module, tools and userspace for the perf kernel, without running
# anything.
bench-build: | $(AFTER_SETUP)
	scripts/setup.sh perf
	mkdir -p $(PERF_BUILD)
	cp -a Kbuild ipsec_rs rust core $(PERF_BUILD)/
	$(KENV) $(MAKE) -C $(IPSEC_RS_CACHE)/kernel-perf M=$(PERF_BUILD) $(KBUILD_ARGS) modules
	$(MAKE) -C selftests/tools
	cd userspace && cargo build

# Any benchmark or profile on the perf kernel, for example
# `make bench-vm BENCH_TESTS='bench_decap.sh:10000,1,profile=512'`.
BENCH_TESTS ?= bench.sh
bench-vm: bench-build
	$(PERF_VM) $(BENCH_VM_FLAGS) $(BENCH_TESTS)

# Kernel instructions per received packet, per symbol, plain XFRM against
# the module (a QEMU plugin counts them; Documentation/testing.rst).
PROFILE_N ?= 20000
PROFILE_SIZE ?= 64
insn-profile: bench-build
	scripts/insn-profile-run $(IPSEC_RS_CACHE)/kernel-perf $(PERF_BUILD)/ipsec_rs.ko $(PROFILE_N) $(PROFILE_SIZE)

clean:
	$(KMAKE) clean 2>/dev/null || true
	rm -f rust/bindings_generated.rs
