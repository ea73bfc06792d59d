//! Debug builds (`CONFIG_DEBUG=y`): the scheduler's invariants
//! ([`null_policy::check`]), checked on Xen's live state at the end of
//! every hook that changes it, and a Xen `panic()` naming the broken one.

#[cfg(xen_debug)]
use null_policy::check::{self, Violation};

use crate::sched::env::XenEnv;

/// Check the invariants after a hook; `locked` are the pCPUs (resource
/// masters) whose runqueue locks the hook holds.
#[cfg(xen_debug)]
pub fn after_hook(env: &XenEnv<'_>, locked: &[u32]) {
    // Literal messages: no core::fmt in the hypervisor (rust/xen/panic.rs).
    match check::after_hook(env, locked) {
        Ok(()) => {}
        Err(Violation::FreeMismatch { .. }) => {
            panic!("null invariant: cpus_free disagrees with the pCPU's unit")
        }
        Err(Violation::AssignedElsewhere { .. }) => {
            panic!("null invariant: an assigned unit points at another pCPU")
        }
        Err(Violation::AssignedAndWaiting { .. }) => {
            panic!("null invariant: a unit is both assigned and waiting")
        }
    }
}

/// Release builds check nothing, as Xen's `ASSERT`s.
#[cfg(not(xen_debug))]
#[inline(always)]
pub fn after_hook(_env: &XenEnv<'_>, _locked: &[u32]) {}
