# SPDX-License-Identifier: GPL-2.0
#
# The kernel series the module builds against differ in their `kernel`
# crate (6.12 LTS; 7.x, tested on 7.3). The target tree's version selects
# rust/compat.rs's side with one cfg, set here from the tree's own Makefile
# variables: nothing else in the module tests a kernel version.
ifeq ($(shell test "$(VERSION)" -ge 7 && echo y),y)
rustflags-y += --cfg ipsec_rs_k7
endif
