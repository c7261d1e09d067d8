# SPDX-License-Identifier: GPL-2.0
#
# The kernel series the module builds against differ in their `kernel`
# crate (6.12 LTS; 7.x, tested on 7.3). The target tree's version selects
# rust/compat.rs's side with one cfg, set here from the tree's own Makefile
# variables: nothing else in the module tests a kernel version.
ifeq ($(shell test "$(VERSION)" -ge 7 && echo y),y)
rustflags-y += --cfg ipsec_rs_k7
endif

# User-Mode Linux (ARCH=um) builds its Rust position-independent
# (-Crelocation-model=pie), and the GOT relocations that leaves in a module
# (R_X86_64_GOTPCREL) are refused by its module loader ("Unknown rela
# relocation: 9"); its modules are mapped above 2 GiB, out of reach of the
# static model's 32-bit relocations (R_X86_64_32S). A module for it is
# built as UML's C code is, with the large code model.
ifdef CONFIG_UML
rustflags-y += -Crelocation-model=static -Ccode-model=large
endif
