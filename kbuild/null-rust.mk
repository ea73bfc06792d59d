# Build glue for Xen's xen/common/sched/Makefile (included from there by
# xen-patches/0001): builds the Rust null scheduler and its C helpers with
# cargo, against the configured tree being built, and partially links them
# into one relocatable object, common/sched/null-rust.o.
#
# NULL_RUST_SRC: this repository. Defaults to the symlink
# xen/common/sched/null-rust that scripts/prepare-xen.sh creates.
NULL_RUST_SRC ?= $(abs_srctree)/common/sched/null-rust
CARGO ?= cargo

# Target triple and rustc code-generation flags: per architecture, in
# kbuild/arch/$(SRCARCH).mk. What cannot be built stops here, with one
# line naming the option, not deep inside cargo.
null_rust_arches := $(patsubst %.mk,%,$(notdir $(wildcard $(NULL_RUST_SRC)/kbuild/arch/*.mk)))
ifeq ($(filter $(SRCARCH),$(null_rust_arches)),)
$(error CONFIG_SCHED_NULL_RUST=y: the Rust null scheduler does not support $(SRCARCH) (supported: $(null_rust_arches)); choose CONFIG_SCHED_NULL_C)
endif
include $(NULL_RUST_SRC)/kbuild/arch/$(SRCARCH).mk

# The toolchain: the one rust-toolchain.toml pins, as a rustup "+CHANNEL"
# (cargo runs outside this repository, where rustup would not find the
# file). Set NULL_RUST_TOOLCHAIN= (empty) to use the cargo on PATH as is.
ifeq ($(origin NULL_RUST_TOOLCHAIN),undefined)
NULL_RUST_TOOLCHAIN := +$(shell sed -n 's/^channel *= *"\(.*\)"$$/\1/p' $(NULL_RUST_SRC)/rust-toolchain.toml)
endif
ifeq ($(shell command -v $(CARGO) 2>/dev/null),)
$(error CONFIG_SCHED_NULL_RUST=y needs $(CARGO) (Rust with rust-src, see the README of $(NULL_RUST_SRC)) on PATH, or choose CONFIG_SCHED_NULL_C)
endif

# Xen's ASSERT()s are debug-only; so are Rust's debug_assert!()s.
NULL_RUST_RUSTFLAGS += $(if $(CONFIG_DEBUG),-C debug-assertions=on,-C debug-assertions=off)
NULL_RUST_RUSTFLAGS += -C panic=abort -C force-unwind-tables=no

# Optimisation level of the object (and of the core it is built with).
NULL_RUST_OPT_LEVEL ?= s

NULL_RUST_TARGET_DIR := $(abs_objtree)/$(obj)/.null-rust-target
NULL_RUST_LIB := $(NULL_RUST_TARGET_DIR)/$(NULL_RUST_TRIPLE)/release/libxen_null_sched.a

# The exact flags Xen compiles a C file of this directory with, minus the
# dependency-file options (the helpers must expand Xen's inlines as null.c).
null_rust_cflags = $(filter-out -MMD -MP -MF $(depfile),$(c_flags))

# A staticlib alone, so that fat LTO folds core and our crates into one
# object and drops all they do not use (with an rlib too, rustc skips LTO).
# .null-rust.env records what cargo was given, so that tools (clippy over
# the hypervisor-only code, scripts/clippy-xen.sh) can run against the same
# configured tree. Cargo decides itself whether anything changed; the object is only
# replaced when its contents differ, so Xen relinks only when needed.
$(obj)/null-rust.o: $(NULL_RUST_SRC)/kbuild/null-rust.lds FORCE
	@echo "  CARGO   $@"
	$(Q)printf '%s\n' "XEN_OBJTREE='$(abs_objtree)'" "XEN_SRCTREE='$(abs_srctree)'" \
	    "XEN_CC='$(CC)'" "XEN_CFLAGS='$(null_rust_cflags)'" \
	    "RUSTFLAGS='$(NULL_RUST_RUSTFLAGS)'" "NULL_RUST_TRIPLE='$(NULL_RUST_TRIPLE)'" \
	    "NULL_RUST_TOOLCHAIN='$(NULL_RUST_TOOLCHAIN)'" \
	    "NULL_RUST_CARGO_FLAGS='$(NULL_RUST_CARGO_FLAGS)'" > $(@D)/.null-rust.env
	$(Q)env -u CFLAGS -u CC -u LDFLAGS -u MAKEFLAGS -u MFLAGS \
	    CARGO_PROFILE_RELEASE_OPT_LEVEL=$(NULL_RUST_OPT_LEVEL) \
	    XEN_OBJTREE=$(abs_objtree) XEN_SRCTREE=$(abs_srctree) \
	    XEN_CC="$(CC)" XEN_CFLAGS="$(null_rust_cflags)" \
	    RUSTFLAGS="$(NULL_RUST_RUSTFLAGS)" \
	    $(CARGO) $(NULL_RUST_TOOLCHAIN) rustc --quiet --release --locked \
	    $(NULL_RUST_CARGO_FLAGS) --target $(NULL_RUST_TRIPLE) \
	    --manifest-path $(NULL_RUST_SRC)/Cargo.toml -p xen-null-sched \
	    --lib --crate-type staticlib \
	    --target-dir $(NULL_RUST_TARGET_DIR)
	$(Q)rm -rf $(@D)/.null-rust-objs && mkdir -p $(@D)/.null-rust-objs
	$(Q)cd $(@D)/.null-rust-objs && $(AR) x $(NULL_RUST_LIB)
	$(Q)$(LD) -r -T $(NULL_RUST_SRC)/kbuild/null-rust.lds -o $@.tmp \
	    $$(ls $(@D)/.null-rust-objs/*.o | grep -v '/compiler_builtins-')
	$(Q)$(call move-if-changed,$@.tmp,$@)
