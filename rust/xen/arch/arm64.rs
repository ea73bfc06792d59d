//! arm64 (Xen 4.17, `asm/current.h`, `asm/percpu.h`): `smp_processor_id()`
//! is `get_processor_id()`, i.e. `this_cpu(cpu_id)`: the per-CPU variable
//! `per_cpu__cpu_id` shifted by this pCPU's per-CPU offset, which Xen keeps
//! in TPIDR_EL2 (`this_cpu(var)` is `*RELOC_HIDE(&per_cpu__var,
//! READ_SYSREG(TPIDR_EL2))`). The variable and its type come from bindgen,
//! its size from GCC (rust/bindings/layout.c), so they follow the
//! configured tree; a Xen version that finds the CPU number differently
//! needs its own variant of this file. Debug builds compare every read
//! with the C helper (`crate::xen::smp::processor_id`).

use crate::bindings;
use crate::bindings::gcc;

// `this_cpu(cpu_id)` is the `unsigned int` read below, as GCC sees it.
static_assertions::const_assert_eq!(
    core::mem::size_of::<u32>() as i128,
    gcc::SIZEOF_this_cpu_cpu_id
);

/// `this_cpu(cpu_id)`.
#[inline]
pub fn processor_id() -> u32 {
    let off: usize;
    // SAFETY: only reads TPIDR_EL2 (no memory, no flags), as Xen's
    // READ_SYSREG(TPIDR_EL2) does.
    unsafe {
        core::arch::asm!("mrs {}, tpidr_el2", out(reg) off, options(nomem, nostack, preserves_flags))
    };
    // The type annotation makes bindgen's declaration agree with the read.
    let var: *const u32 = core::ptr::addr_of!(bindings::per_cpu__cpu_id);
    // RELOC_HIDE: integer arithmetic, as the per-CPU copy is not part of
    // the template object as far as the compiler knows.
    let addr = (var as usize).wrapping_add(off);
    // Xen sets TPIDR_EL2 before the pCPU runs any scheduler code
    // (start_xen(), start_secondary()) and never changes it while the pCPU
    // is up, and hypervisor code does not migrate between pCPUs.
    // SAFETY: so `addr` is this pCPU's copy of cpu_id, an aligned u32
    // written once when the pCPU came up.
    unsafe { core::ptr::read(addr as *const u32) }
}
