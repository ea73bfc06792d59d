# x86-64: how rustc must generate code to live inside Xen
# (mirrors xen/arch/x86/arch.mk for C).
NULL_RUST_TRIPLE := x86_64-unknown-none
# core is rebuilt with the flags below (-Z build-std, hence a nightly), so
# the mitigations cover every instruction in the object, not only ours.
NULL_RUST_CARGO_FLAGS := -Z build-std=core

# The target already has no red zone, no MMX/SSE/x87 (soft-float) and
# panic=abort. Xen is linked at 0xffff82d040000000: neither the low nor the
# top 2 GiB, so no absolute 32-bit addressing (code-model=kernel would emit
# R_X86_64_32S). Like Xen's -fpic with hidden visibility: PC-relative
# references, direct calls (no GOT/PLT indirection), no jump tables.
NULL_RUST_RUSTFLAGS := -C relocation-model=pie -C code-model=small \
    -Z plt=yes -Z direct-access-external-data=yes -C jump-tables=no

NULL_RUST_RUSTFLAGS += $(if $(CONFIG_XEN_IBT),-Z cf-protection=branch)
NULL_RUST_RUSTFLAGS += $(if $(CONFIG_INDIRECT_THUNK),-Z retpoline-external-thunk)
NULL_RUST_RUSTFLAGS += $(if $(CONFIG_RETURN_THUNK),-Z function-return=thunk-extern)
