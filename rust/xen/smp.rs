//! `smp_processor_id()`: the number of the pCPU running the caller.
//!
//! On x86 Xen keeps it in the `struct cpu_info` at the top of each pCPU's
//! stack, and the macro is two instructions; on arm64 it is the per-CPU
//! variable `cpu_id`, found through TPIDR_EL2 (four instructions). Reading
//! it here saves the call to a C helper on `do_schedule`'s path
//! ([`arch`]). Other architectures would use the helper, Xen's own macro.
//! Debug builds compare the two on every call.

#[cfg(target_arch = "x86_64")]
#[path = "arch/x86.rs"]
mod arch;

#[cfg(target_arch = "aarch64")]
#[path = "arch/arm64.rs"]
mod arch;

/// `smp_processor_id()`.
#[inline]
pub fn processor_id() -> u32 {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    let id = arch::processor_id();
    // SAFETY: no precondition.
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let id = unsafe { crate::bindings::rust_helper_smp_processor_id() };
    debug_assert!(
        // SAFETY: no precondition; Xen's own macro, for comparison.
        id == unsafe { crate::bindings::rust_helper_smp_processor_id() },
        "smp_processor_id() disagrees with the C helper"
    );
    id
}

/// `nr_cpu_ids`: set before the first scheduler is initialised (x86
/// `set_nr_cpu_ids()`, Arm's `start_xen()`), never changed after.
#[inline]
pub fn nr_cpu_ids() -> u32 {
    // SAFETY: a plain global, written once at boot before any scheduler
    // exists.
    unsafe { crate::bindings::nr_cpu_ids }
}

/// `per_cpu(cpu_sibling_mask, cpu)`, for the dump.
pub fn sibling_mask(cpu: u32) -> &'static crate::xen::cpumask::CpuMask {
    // SAFETY: a valid pCPU's topology mask, allocated while it exists.
    unsafe {
        crate::xen::cpumask::CpuMask::from_raw(crate::bindings::rust_helper_cpu_sibling_mask(cpu))
    }
}

/// `per_cpu(cpu_core_mask, cpu)`, for the dump.
pub fn core_mask(cpu: u32) -> &'static crate::xen::cpumask::CpuMask {
    // SAFETY: as for sibling_mask().
    unsafe {
        crate::xen::cpumask::CpuMask::from_raw(crate::bindings::rust_helper_cpu_core_mask(cpu))
    }
}

/// `get_random()`.
#[inline]
pub fn random() -> u32 {
    // SAFETY: get_random() has no precondition.
    unsafe { crate::bindings::get_random() }
}

/// `system_state < SYS_STATE_active`: Xen is still booting.
pub fn booting() -> bool {
    // SAFETY: a plain global, written as boot progresses; read racily.
    unsafe { crate::bindings::system_state < crate::bindings::SYS_STATE_active }
}
