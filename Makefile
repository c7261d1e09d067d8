# SPDX-License-Identifier: GPL-2.0
#
# ipsec_rs top-level Makefile.
#
#   make setup      install packages, fetch sources, build the debug and perf
#                   kernels (cached outside the clone, see scripts/setup.sh)
#   make            build ipsec_rs.ko against $(KDIR) (default: the debug kernel)
#   make check      every test: host unit tests, then the selftests on the
#                   debug kernels, UML and QEMU (this is what CI runs)
#   make run        the QEMU lab demo: two routers, an IPsec tunnel, traffic,
#                   the module's counters
#   make bench      benchmarks (host microbenchmarks; QEMU ones on the perf kernel)
#   make clean
#
# Variables: KDIR=<kernel build tree> (a Rust-enabled 6.12 or 7.3 tree, built
# with LLVM and prepared for external modules), FLAVOUR=debug|perf (which
# cached kernel KDIR defaults to), KVER=6.12|7.3|uml (which series of it: the
# default 6.12 LTS, 7.3, or 6.12's debug kernel as User-Mode Linux),
# T="test1 test2" (subset of selftests).

IPSEC_RS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/ipsec_rs
export IPSEC_RS_CACHE

# The toolchain facts (RUST_LIB_SRC, BINDGEN) that
# scripts/setup.sh writes to $(TOOLCHAIN_MK). They are read when a recipe
# uses them, not when make starts: in `make setup run` on a fresh machine the
# file only exists once the `setup` recipe has run, and the recipes after it
# must see what it wrote. A value given on the command line or in the
# environment wins.
TOOLCHAIN_MK := $(IPSEC_RS_CACHE)/toolchain.mk
toolchain = $(shell sed -n 's/^$(1) *:\{0,1\}= *//p' $(TOOLCHAIN_MK) 2>/dev/null)
RUST_LIB_SRC ?= $(call toolchain,RUST_LIB_SRC)
BINDGEN ?= $(call toolchain,BINDGEN)

FLAVOUR ?= debug
KVER ?= 6.12
# The cached kernels: kernel-debug, kernel-perf (6.12); 7.3/kernel-debug,
# 7.3/kernel-perf (scripts/setup.sh debug-7.3, perf-7.3); uml/kernel-debug
# and uml-7.3/kernel-debug (debug-uml, debug-uml-7.3: the 6.12 and 7.3 debug
# kernels as User-Mode Linux, ARCH=um).
KSUFFIX := $(if $(filter-out 6.12,$(KVER)),-$(KVER))
KCACHE := $(IPSEC_RS_CACHE)$(if $(KSUFFIX),/$(KVER))
DEFAULT_KDIR := $(KCACHE)/kernel-$(FLAVOUR)
KDIR ?= $(DEFAULT_KDIR)
# A module is built with the LLVM its kernel was (6.12: 16, 7.3: 19), read
# from the tree's configuration when a recipe runs, and bindgen with that
# LLVM's libclang.
kernel_llvm = $(shell sed -n 's/^CONFIG_CLANG_VERSION=\([1-9][0-9]*\)[0-9]\{4\}$$/-\1/p' $(KDIR)/.config 2>/dev/null)
LLVM ?= $(or $(kernel_llvm),$(if $(filter 7.%,$(KVER)),-19,-16))
# A User-Mode Linux tree's modules are built with ARCH=um, read from its
# configuration as the LLVM is.
kernel_arch = $(if $(shell grep -s '^CONFIG_UML=y' $(KDIR)/.config),um)
LIBCLANG_PATH ?= /usr/lib/llvm$(LLVM)/lib
PWD := $(shell pwd)
# The selftest runner of test-vm and run (the first-command check
# replaces it with `true`).
VM_RUNNER ?= selftests/run_vm.sh
# DKMS appends CC=clang LD=ld.lld for a kernel built with clang: unversioned
# names, which Debian's LLVM packages do not install. LLVM= (the tree's own
# version, above) names the compiler and the linker, so a CC or LD given on
# the command line is not passed on to the kernel's make.
MAKEOVERRIDES := $(filter-out CC=% LD=%,$(MAKEOVERRIDES))
# Every kernel make of ours: the toolchain facts as they are when it runs.
KBUILD_ARGS = LLVM=$(LLVM) $(if $(kernel_arch),ARCH=$(kernel_arch)) \
	$(if $(RUST_LIB_SRC),RUST_LIB_SRC=$(RUST_LIB_SRC)) \
	$(if $(BINDGEN),BINDGEN=$(BINDGEN))
KENV = $(if $(LIBCLANG_PATH),LIBCLANG_PATH=$(LIBCLANG_PATH))
KMAKE = $(KENV) $(MAKE) -C $(KDIR) M=$(PWD) $(KBUILD_ARGS)

# With `make setup <goal>`, or `-j`, the set-up runs before anything that
# needs what it makes.
AFTER_SETUP := $(filter setup,$(MAKECMDGOALS))

.PHONY: tools-arm64 rustfmt rustfmtcheck clippy stock-module cargo-cache check-dkms series-modules series-module deb dkms-source all kernel modules setup check check-spec check-first-command test-host test-vm run bench bench-build bench-vm insn-profile clean canary fuzz fuzz-coverage mutant-modules mutant-module

all: modules

# The kernel to build against. The project's own cached kernel (KDIR not
# given) is made sure of first: scripts/setup.sh is a no-op taking seconds
# when the cache is warm, and builds what is missing or stale on a fresh
# machine. A KDIR given by the user is only checked.
kernel: | $(AFTER_SETUP)
ifeq ($(KDIR)$(wildcard scripts/setup.sh),$(DEFAULT_KDIR)scripts/setup.sh)
	scripts/setup.sh $(FLAVOUR)$(KSUFFIX)
else
	@test -f $(KDIR)/Module.symvers || { echo "KDIR=$(KDIR) is not a prepared kernel build tree (no Module.symvers): see README.md"; exit 1; }
endif

modules: kernel
	$(KMAKE) modules

canary: kernel
	$(KENV) $(MAKE) -C $(KDIR) M=$(PWD)/selftests/canary $(KBUILD_ARGS) modules

setup:
	scripts/setup.sh all

# Cargo's build directories (core/target, userspace/target) are links into
# the cache when the tree has none: a clean clone's first build reuses the
# dependencies built before (cargo keys what it builds itself; two trees
# using it at once wait for each other's lock). A target/ already in the
# tree is left as it is.
CARGO_CACHE := $(IPSEC_RS_CACHE)/cargo-target
cargo-cache:
	@for w in core userspace; do \
		[ -e $$w/target ] || [ -L $$w/target ] || { mkdir -p $(CARGO_CACHE)/$$w && ln -s $(CARGO_CACHE)/$$w $$w/target; }; \
	done

test-host: cargo-cache rustfmtcheck clippy
	scripts/check-layers
	selftests/host/runner.sh || [ $$? -eq 4 ]
	cd core && cargo test
	cd userspace && cargo build && cargo test

# Every Rust file of the tree formatted with the kernel's rustfmt settings
# (.rustfmt.toml, the kernel source's), as the kernel's own `make
# rustfmtcheck` checks its tree: the module from main.rs (rustfmt follows its
# modules into rust/ and core/; the generated bindings are include!d, not
# formatted), core/ and userspace/. `make rustfmt` formats them.
rustfmtcheck:
	rustfmt --check ipsec_rs/main.rs
	cd core && cargo fmt --check
	cd userspace && cargo fmt --check
rustfmt:
	rustfmt ipsec_rs/main.rs
	cd core && cargo fmt
	cd userspace && cargo fmt

# Clippy on the host crates, any finding a failure (-D warnings): core/ (the
# library, its tests and benches; the library again with the fuzz targets'
# `model` feature), its fuzz targets (a workspace of their own, built under
# core's target directory, so in the cache) and userspace/.
clippy: cargo-cache
	cd core && cargo clippy --all-targets -- -D warnings
	cd core && cargo clippy --lib --features model -- -D warnings
	cd core/fuzz && cargo clippy --all-targets --target-dir ../target/fuzz -- -D warnings
	cd userspace && cargo clippy --all-targets -- -D warnings

# The selftests (selftests/TESTS, or T=): an entry without kernel= boots the
# User-Mode Linux debug kernel, unless KVER, FLAVOUR or KDIR names another
# kernel on the command line (`make test-vm KVER=7.3`: every entry on 7.3).
TEST_KERNEL = $(if $(filter command line environment,$(origin KVER) $(origin FLAVOUR) $(origin KDIR)),--kernel $(KDIR))
test-vm: modules canary series-modules mutant-modules cargo-cache
	$(MAKE) -C selftests/tools
	cd userspace && cargo build
	$(MAKE) --no-print-directory tools-arm64
	@ko=$(PWD)/out/build-uml/ipsec_rs.ko; rel=$$(modinfo -F vermagic $$ko 2>/dev/null | cut -d' ' -f1); \
	mods="$${rel:+--module $$rel=$$ko}"; \
	for r in $(STOCK_RELEASE); do \
		stock=$(PWD)/out/build-stock-$$r/ipsec_rs.ko; [ ! -f $$stock ] || mods="$$mods --module $$r=$$stock"; \
	done; \
	$(call tools_arches,debug); \
	rm -rf out/deb-test; \
	echo "scripts/mkdeb $(PWD)/out/deb-test debug $$arches $$mods"; \
	scripts/mkdeb $(PWD)/out/deb-test debug $$arches $$mods >/dev/null && \
	selftests/host/deb_files.sh $$(ls out/deb-test/ipsec-rs_*_amd64.deb | head -1) && \
	if [ -n "$$rel" ]; then \
		selftests/host/deb_module.sh out/deb-test/ipsec-rs-modules-$${rel}_*_amd64.deb $$rel || [ $$? -eq 4 ]; \
	fi && \
	{ selftests/host/deb_lintian.sh out/deb-test/*.deb || [ $$? -eq 4 ]; }
	$(VM_RUNNER) $(TEST_KERNEL) $(T)

# Differential fuzzing of the receive path against XFRM for about DURATION
# seconds (selftests/esp_fuzz.sh, at the ~1,300 packets a second UML does
# here), from SEED (default: the time, printed, so that a run can be
# repeated), on the UML debug kernel and its referee. The short run is in
# selftests/TESTS.
DURATION ?= 600
SEED ?= $(shell date +%s)
fuzz: modules series-modules cargo-cache
	cd userspace && cargo build
	@echo "fuzz: seed $(SEED), $$(( $(DURATION) * 1300 )) packets"
	$(VM_RUNNER) "esp_fuzz.sh:$$(( $(DURATION) * 1300 )),$(SEED) timeout=$$(( $(DURATION) * 3 + 300 )) mem=1536"

# The other kernel series the selftests run on (their `kernel=` entries in
# selftests/TESTS; uml, the default; uml-7.3, the 7.3 debug kernel as
# User-Mode Linux): the module and the test canary built for each into
# out/build-<series>/, when that series' debug kernel is set up (`make
# check` sets it up; otherwise its entries SKIP, saying so). The sources are
# copied with their times, so the build is incremental. SERIES_IF_SET_UP:
# series no TESTS entry names, built for when set up by hand (7.3 under
# QEMU: scripts/setup.sh debug-7.3, then `make test-vm KVER=7.3`).
SERIES := uml uml-7.3
SERIES_IF_SET_UP := 7.3
series-modules: | $(AFTER_SETUP)
	@for s in $(SERIES) $(SERIES_IF_SET_UP); do \
		if [ -f $(IPSEC_RS_CACHE)/$$s/kernel-debug/Module.symvers ]; then \
			$(MAKE) --no-print-directory series-module KVER=$$s FLAVOUR=debug \
				KDIR=$(IPSEC_RS_CACHE)/$$s/kernel-debug || exit 1; \
		else case " $(SERIES_IF_SET_UP) " in *" $$s "*) ;; *) \
			echo "*** no $$s debug kernel: its selftests will SKIP (make check, or scripts/setup.sh debug-$$s, sets it up) ***";; \
		esac; fi; \
	done
series-module:
	mkdir -p out/build-$(KVER)/selftests
	scripts/copy-sources out/build-$(KVER)
	mkdir -p out/build-$(KVER)/selftests/canary
	cp -a $(addprefix selftests/canary/,Kbuild ipsec_rs_canary.c) out/build-$(KVER)/selftests/canary/
	$(KENV) $(MAKE) -C $(KDIR) M=$(PWD)/out/build-$(KVER) $(KBUILD_ARGS) modules
	$(KENV) $(MAKE) -C $(KDIR) M=$(PWD)/out/build-$(KVER)/selftests/canary $(KBUILD_ARGS) modules

# Block coverage of the receive path: ipsec_rs.ko for the 6.12 debug kernel
# as User-Mode Linux with its crate instrumented by LLVM's SanitizerCoverage
# (Kbuild's IPSEC_RS_COVERAGE=1; selftests/coverage/), in
# out/build-uml-coverage/ (its link needs LLVM 19's lld, which setup
# installs). A test that calls coverage_report (selftests/lib/coverage.sh),
# run with `selftests/run_vm.sh --kernel $IPSEC_RS_CACHE/uml/kernel-debug
# --ko $PWD/out/build-uml-coverage/ipsec_rs.ko TEST`, prints the blocks,
# functions and lines of the receive path it reached
# (Documentation/testing.rst).
COVERAGE_BUILD := out/build-uml-coverage
.PHONY: coverage-module
coverage-module: override KDIR = $(IPSEC_RS_CACHE)/uml/kernel-debug
coverage-module: | $(AFTER_SETUP)
	@test -f $(KDIR)/Module.symvers || { echo "no UML debug kernel in $(KDIR): scripts/setup.sh debug-uml"; exit 1; }
	@command -v ld.lld-19 >/dev/null || { echo "no ld.lld-19: scripts/setup.sh installs it"; exit 1; }
	mkdir -p $(COVERAGE_BUILD)/selftests
	scripts/copy-sources $(COVERAGE_BUILD)
	cp -a selftests/coverage $(COVERAGE_BUILD)/selftests/
	$(KENV) $(MAKE) -C $(KDIR) M=$(PWD)/$(COVERAGE_BUILD) $(KBUILD_ARGS) IPSEC_RS_COVERAGE=1 modules

# What the differential fuzzer reaches of the receive path: FUZZ_COUNT packets
# (default 20,000, the short run's) from SEED (default 1) on the coverage
# build, esp_fuzz.sh's report at the end (Documentation/testing.rst).
FUZZ_COUNT ?= 20000
fuzz-coverage: coverage-module cargo-cache
	cd userspace && cargo build
	$(VM_RUNNER) --kernel $(IPSEC_RS_CACHE)/uml/kernel-debug --ko $(PWD)/$(COVERAGE_BUILD)/ipsec_rs.ko \
		"esp_fuzz.sh:$(FUZZ_COUNT),$(if $(filter command line,$(origin SEED)),$(SEED),1) timeout=$$(( $(FUZZ_COUNT) / 400 + 300 )) mem=1536"

# Deliberate bugs of the receive path (selftests/mutants/*.patch), each
# applied to a copy of the sources and built for the UML debug kernel into
# out/build-uml-mutant-<name>/ (incremental: a mutant is rebuilt when its
# patch or the sources change). selftests/esp_fuzz_mutants.sh checks that
# the differential fuzzer's oracle catches every one; without the UML
# kernel, that test SKIPs.
MUTANTS := $(basename $(notdir $(wildcard selftests/mutants/*.patch)))
mutant-modules: | $(AFTER_SETUP)
	@if [ -f $(IPSEC_RS_CACHE)/uml/kernel-debug/Module.symvers ]; then \
		for m in $(MUTANTS); do \
			$(MAKE) --no-print-directory mutant-module KVER=uml FLAVOUR=debug \
				KDIR=$(IPSEC_RS_CACHE)/uml/kernel-debug MUTANT=$$m || exit 1; \
		done; \
	fi
mutant-module:
	scripts/copy-sources out/build-uml-mutant-$(MUTANT) selftests/mutants/$(MUTANT).patch
	$(KENV) $(MAKE) -C $(KDIR) M=$(PWD)/out/build-uml-mutant-$(MUTANT) $(KBUILD_ARGS) modules

# The whole test suite (CI runs exactly this): the set-up and the debug
# kernels of every series made sure of first (a no-op when the cache is warm;
# on a fresh machine this installs the packages the host tests need too),
# the host tests, the
# README's first command on a cache that never saw a set-up
# (check-first-command), the DKMS build, the module for Debian's own 7.3
# kernel (scripts/stock-module: cached, ~20 s warm; a SKIP, exit 4, if Debian
# no longer serves that kernel, and its selftests then SKIP too), then every
# selftest (TESTS: the 6.12 debug kernel as User-Mode Linux by default, the
# kernel=6.12 entries on it under QEMU, the kernel=7.3 ones on 7.3's, and the
# kernel=stock-* ones on Debian's unmodified kernels, amd64 and arm64).
# Each step's start is stamped, so CI's log tells where its time went.
stamp = @echo "[check] $$(date -u +%T) $(1)"
check:
	$(call stamp,set-up)
	scripts/setup.sh toolchain
	$(call stamp,at once: debug kernels; modules for Debian's 7.3 kernels; host tests)
	scripts/at-once "kernels=scripts/setup.sh debug $(addprefix debug-,$(SERIES))" \
		"stock=for r in $(STOCK_RELEASE); do scripts/stock-module \$$r || [ \$$? -eq 4 ] || exit 1; done" \
		"host=$(MAKE) --no-print-directory test-host"
	$(call stamp,spec / first command / DKMS)
	$(MAKE) FLAVOUR=debug check-spec check-first-command check-dkms
	$(call stamp,selftests on UML and QEMU)
	$(MAKE) test-vm
	$(call stamp,done)

# ipsec_rs.ko for a distribution's own kernel, unmodified (Debian's
# Rust-enabled trixie-backports kernel): its Rust crates rebuilt from the
# same source, configuration and Debian toolchain in a trixie chroot, checked
# against the kernel's Module.symvers, then the module built against them
# (scripts/stock-module; out/build-stock-<release>/ipsec_rs.ko).
# STOCK_RELEASE: one release or several (default: Debian's 7.3 backports
# kernel on amd64 and on arm64, cross-built).
STOCK_RELEASE ?= 7.3.4+deb13-amd64 7.3.4+deb13-arm64
stock-module: | $(AFTER_SETUP)
	for r in $(STOCK_RELEASE); do scripts/stock-module $$r || exit 1; done

# The tools cross-built for arm64 routers (make deb's arm64 package, the
# arm64 guests' tools): Debian's cross linker (userspace/.cargo/config.toml)
# and the target's Rust standard library, which make setup adds with rustup;
# without it, a SKIP said loudly and no arm64 tools. TOOLS_PROFILE=release
# for make deb's.
ARM64_RUST_TARGET = aarch64-unknown-linux-gnu
TOOLS_PROFILE ?= debug
tools-arm64: cargo-cache
	@if [ -d "$$(rustc --print sysroot)/lib/rustlib/$(ARM64_RUST_TARGET)/lib" ]; then \
		echo "cargo build --target $(ARM64_RUST_TARGET) ($(TOOLS_PROFILE))"; \
		cd userspace && cargo build -q --target $(ARM64_RUST_TARGET) $(if $(filter release,$(TOOLS_PROFILE)),--release); \
	else \
		echo "*** SKIP: no Rust standard library for $(ARM64_RUST_TARGET) (make setup adds it): no arm64 tools ***"; \
	fi
# tools_arches PROFILE: (shell) arches, mkdeb's --tools-arch for amd64 and,
# where tools-arm64 built them, arm64.
tools_arches = arches="--tools-arch amd64"; \
	[ ! -x userspace/target/$(ARM64_RUST_TARGET)/$(1)/ipsec-rs ] || arches="$$arches --tools-arch arm64"

# DKMS: the module's source as packaged, built by dkms against the cached
# kernel trees standing in for installed kernels.
check-dkms: kernel
	selftests/host/dkms.sh

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
run: modules cargo-cache
	cd userspace && cargo build
	$(VM_RUNNER) --kernel $(KDIR) demo.sh recovery.sh:on

# Benchmarks: the core's microbenchmarks on the host, then the QEMU ones on
# the perf kernel (the module is rebuilt against it; `make` rebuilds it for
# the debug kernel again): bench.sh (XFRM round trips with and without the
# module's hooks), bench_decap.sh (inbound decapsulation, the module's
# receive path against XFRM; Documentation/testing.rst explains its table),
# bench_scale.sh (cost a packet and memory a SA at 1 to 10,000 SAs),
# bench_flood.sh (a valid SA's rate under an invalid-SPI flood) and
# lifetime_smp.sh (a hard packet limit exact while two CPUs decapsulate the
# SA; on the debug kernel too, in the selftests' SMP group).
# The perf build goes to its own directory: the debug and perf kernels have
# the same vermagic, and a module built for one must never be loaded into
# the other.
PERF_BUILD := $(PWD)/out/build-perf
PERF_KDIR := $(KCACHE)/kernel-perf
# Two vCPUs, as the benchmarks' published figures were measured (the perf
# kernel has always had ACPI and brought both up; the runner's default is
# one, see testing.rst).
PERF_VM := IPSEC_RS_VM_MEM=1024 IPSEC_RS_VM_SMP=2 selftests/run_vm.sh --kernel $(PERF_KDIR) --ko $(PERF_BUILD)/ipsec_rs.ko
# bench_decap.sh on a guest whose clock counts instructions (deterministic,
# immune to the host's load; see Documentation/testing.rst); empty for the
# host's clock.
DECAP_CLOCK ?= --icount 1
DECAP_ARGS ?= 20000,3
# The same over IPv6 (outer and inner; esp6_offload in the gro runs).
DECAP6_ARGS ?= 20000,3,v6
# bench_scale.sh (1, 100 and 10,000 SAs; instruction clock) and
# bench_flood.sh (a valid SA under an invalid-SPI flood: two vCPUs, the
# host's clock, so alone on the host).
SCALE_ARGS ?= 20000,3
FLOOD_ARGS ?= 50000,11
LIFETIME_ARGS ?= 20000,6
bench: bench-build
	cd core && cargo bench
	$(PERF_VM) bench.sh
	$(PERF_VM) $(DECAP_CLOCK) 'bench_decap.sh:$(DECAP_ARGS) timeout=3000'
	$(PERF_VM) $(DECAP_CLOCK) 'bench_decap.sh:$(DECAP6_ARGS) timeout=3000'
	$(PERF_VM) --icount 1 'bench_scale.sh:$(SCALE_ARGS) timeout=3000'
	$(PERF_VM) 'bench_flood.sh:$(FLOOD_ARGS) smp=2 timeout=1800'
	$(PERF_VM) 'lifetime_smp.sh:$(LIFETIME_ARGS) smp=2 timeout=1200'

# The module, tools and userspace for the perf kernel, without running
# anything.
bench-build: cargo-cache | $(AFTER_SETUP)
	scripts/setup.sh perf$(KSUFFIX)
	mkdir -p $(PERF_BUILD)
	scripts/copy-sources $(PERF_BUILD)
	$(KENV) $(MAKE) -C $(PERF_KDIR) M=$(PERF_BUILD) $(KBUILD_ARGS) modules
	$(MAKE) -C selftests/tools
	cd userspace && cargo build

# Any benchmark or profile on the perf kernel, for example
# `make bench-vm BENCH_TESTS='bench_decap.sh:10000,1,profile=512'`.
BENCH_TESTS ?= bench.sh
bench-vm: bench-build
	$(PERF_VM) $(BENCH_VM_FLAGS) $(BENCH_TESTS)

# Kernel instructions per received packet, per symbol, plain XFRM against
# the module (a QEMU plugin counts them; Documentation/testing.rst).
# PROFILE_MODES="xfrm-gro module-gro" for a device doing GRO,
# PROFILE_FAMILY=6 for IPv6.
PROFILE_N ?= 20000
PROFILE_SIZE ?= 64
PROFILE_FAMILY ?= 4
insn-profile: bench-build
	PROFILE_FAMILY=$(PROFILE_FAMILY) scripts/insn-profile-run $(PERF_KDIR) $(PERF_BUILD)/ipsec_rs.ko $(PROFILE_N) $(PROFILE_SIZE)

# The module's source as DKMS wants it: $(DKMS_SRC)/ipsec_rs-<version>/ with
# dkms.conf (the files git tracks, no build products); then
# `dkms install ipsec_rs/<version>`.
DKMS_SRC ?= /usr/src
DKMS_VERSION = $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' dkms.conf)
dkms-source:
	rm -rf $(DKMS_SRC)/ipsec_rs-$(DKMS_VERSION)
	mkdir -p $(DKMS_SRC)/ipsec_rs-$(DKMS_VERSION)
	git ls-files -z dkms.conf Makefile Kbuild ipsec_rs rust core/src | \
		tar --null -T - -cf - | tar -xf - -C $(DKMS_SRC)/ipsec_rs-$(DKMS_VERSION)
	@echo "now: dkms install ipsec_rs/$(DKMS_VERSION)"

# Debian packages in out/deb/ (scripts/mkdeb): ipsec-rs for amd64 and arm64
# (the tools, their systemd units, the example configuration; arm64's left
# out, saying so, without the target's Rust library), ipsec-rs-dkms (the
# module's source for DKMS) and ipsec-rs-modules-<release> for each of
# $(STOCK_RELEASE) (the module for Debian's own kernel, scripts/stock-module:
# cached; left out, saying so, if Debian no longer serves that kernel);
# then lintian's verdict on each (selftests/host/deb_lintian.sh). SIGN_KEY=... SIGN_CERT=... sign
# the module (SIGN_FILE: the kernel's scripts/sign-file, if not on PATH).
deb: cargo-cache
	cd userspace && cargo build --release
	$(MAKE) --no-print-directory tools-arm64 TOOLS_PROFILE=release
	@mods=; for r in $(STOCK_RELEASE); do \
		rc=0; scripts/stock-module $$r >/dev/null || rc=$$?; \
		case $$rc in \
		0) mods="$$mods --module $$r=$(PWD)/out/build-stock-$$r/ipsec_rs.ko" ;; \
		4) echo "*** deb: no module package for $$r: Debian no longer serves it ***" ;; \
		*) exit $$rc ;; \
		esac; \
	done; \
	$(call tools_arches,release); \
	debs=$$(scripts/mkdeb $(PWD)/out/deb release $$arches $$mods $(if $(SIGN_KEY),--sign $(SIGN_KEY) $(SIGN_CERT))) && \
	echo "$$debs" && { selftests/host/deb_lintian.sh $$debs || [ $$? -eq 4 ]; }

clean:
	$(KMAKE) clean 2>/dev/null || true
	rm -f rust/bindings_generated.rs
