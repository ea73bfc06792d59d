//! `smp_processor_id()`: the number of the pCPU running the caller.
//!
//! On x86 Xen keeps it in the `struct cpu_info` at the top of each pCPU's
//! stack, and the macro is two instructions; reading it here saves the
//! call to a C helper on `do_schedule`'s path ([`arch`]). Other
//! architectures use the helper, Xen's own macro.

#[cfg(target_arch = "x86_64")]
#[path = "arch/x86.rs"]
mod arch;

/// `smp_processor_id()`.
#[inline]
pub fn processor_id() -> u32 {
    #[cfg(target_arch = "x86_64")]
    let id = arch::processor_id();
    // SAFETY: no precondition.
    #[cfg(not(target_arch = "x86_64"))]
    let id = unsafe { crate::bindings::rust_helper_smp_processor_id() };
    debug_assert!(
        // SAFETY: no precondition; Xen's own macro, for comparison.
        id == unsafe { crate::bindings::rust_helper_smp_processor_id() },
        "smp_processor_id() disagrees with the C helper"
    );
    id
}
