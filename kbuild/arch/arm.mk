# arm64: how rustc must generate code to live inside Xen
# (mirrors xen/arch/arm/arch.mk and arch/arm/Rules.mk for C: -mcpu=generic
# -mgeneral-regs-only -mno-outline-atomics -fno-pie, the small code model).
ifneq ($(CONFIG_ARM_64),y)
$(error CONFIG_SCHED_NULL_RUST=y: the Rust null scheduler supports arm64 only, not 32-bit Arm; choose CONFIG_SCHED_NULL_C)
endif
NULL_RUST_TRIPLE := aarch64-unknown-none-softfloat
# core is rebuilt with the flags below (-Z build-std), as on x86.
NULL_RUST_CARGO_FLAGS := -Z build-std=core

# softfloat: no FP/SIMD registers (-mgeneral-regs-only), panic=abort. Xen
# arm64 is linked at 0x00200000 and compiled without -fpie: static
# relocations, the small code model (ADRP+ADD, +-4 GiB), no jump tables
# (rodata tables of absolute addresses), no unwind tables.
NULL_RUST_RUSTFLAGS := -C relocation-model=static -C code-model=small \
    -C jump-tables=no -C force-unwind-tables=no
