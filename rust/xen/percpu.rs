//! Per-CPU variables, read the way Xen's `per_cpu()` macro reads them.
//!
//! Xen 4.17 defines `per_cpu(var, cpu)` identically on x86 and Arm
//! (`asm/percpu.h`): `*RELOC_HIDE(&per_cpu__var, __per_cpu_offset[cpu])`,
//! the variable's address in the per-CPU template shifted by that CPU's
//! offset. Doing it here instead of through a C helper saves a call on the
//! hottest paths (`get_sched_res()` runs several times per `do_schedule`).
//! An architecture or Xen version that defines `per_cpu()` differently gets
//! its own variant of this file. Debug builds compare every read with the
//! C helper's.

use crate::bindings;

/// `per_cpu(sched_res, cpu)`: the pCPU's scheduling resource pointer.
///
/// # Safety
/// `cpu` is a pCPU whose per-CPU area is set up (any CPU Xen passes to a
/// scheduler hook).
#[inline]
pub unsafe fn sched_res(cpu: u32) -> *mut bindings::sched_resource {
    // SAFETY: a plain array written when CPUs come up; the caller's `cpu`
    // has its entry set.
    let offsets = unsafe { &*core::ptr::addr_of!(bindings::__per_cpu_offset) };
    debug_assert!((cpu as usize) < offsets.len(), "per_cpu: cpu >= NR_CPUS");
    // SAFETY: a CPU with a per-CPU area is below NR_CPUS, the array's
    // length (caller's contract); per_cpu() does not check it either.
    let off = unsafe { *offsets.get_unchecked(cpu as usize) };
    // RELOC_HIDE: integer arithmetic, as the per-CPU copy is not part of
    // the template object as far as the compiler knows.
    let addr =
        (core::ptr::addr_of!(bindings::per_cpu__sched_res) as usize).wrapping_add(off as usize);
    // SAFETY: `addr` is `cpu`'s copy of `sched_res` (caller's contract),
    // an aligned pointer-sized variable.
    let res = unsafe { *(addr as *const *mut bindings::sched_resource) };
    #[cfg(debug_assertions)]
    {
        // SAFETY: the helper reads the same variable through Xen's own
        // macro, for the same valid `cpu`.
        let c = unsafe { bindings::rust_helper_get_sched_res(cpu) };
        assert!(
            res == c,
            "per_cpu(sched_res) disagrees with get_sched_res()"
        );
    }
    res
}
