//! `SCHEDULE_SOFTIRQ`: tickling pCPUs.

use crate::bindings::{self, gcc};
use crate::xen::cpumask::MASK_WORDS;
use crate::xen::runq::RunqHeld;

/// `cpu_raise_softirq(cpu, SCHEDULE_SOFTIRQ)`.
#[inline]
pub fn raise_schedule(cpu: u32) {
    // SAFETY: `cpu` is a valid pCPU; raising a softirq is IRQ-safe.
    unsafe { bindings::cpu_raise_softirq(cpu, gcc::SCHEDULE_SOFTIRQ as u32) };
}

/// `cpumask_raise_softirq(mask, SCHEDULE_SOFTIRQ)` for the mask whose words
/// are `word(0..nwords)`, built in `scratch_cpu`'s scratch mask as null.c
/// builds it.
///
/// # Safety
/// The caller holds `scratch_cpu`'s runqueue lock (`held`), which makes
/// that pCPU's scratch mask its own.
pub unsafe fn raise_schedule_mask(
    scratch_cpu: u32,
    _held: RunqHeld<'_>,
    nwords: usize,
    word: impl Fn(usize) -> u64,
) {
    // SAFETY: `scratch_cpu` is a valid pCPU.
    let scratch = unsafe { bindings::rust_helper_cpumask_scratch_cpu(scratch_cpu) };
    for i in 0..MASK_WORDS {
        let w = if i < nwords { word(i) } else { 0 };
        // SAFETY: `i` indexes the scratch mask's words; ours under the
        // runqueue lock (contract).
        unsafe { (*scratch).bits[i] = w as _ };
    }
    // SAFETY: a valid mask; raising softirqs is IRQ-safe.
    unsafe { bindings::cpumask_raise_softirq(scratch, gcc::SCHEDULE_SOFTIRQ as u32) };
}
