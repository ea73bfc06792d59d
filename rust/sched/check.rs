//! Debug builds (`CONFIG_DEBUG=y`): the scheduler's invariants, checked on
//! Xen's live state at the end of every hook that changes it, and a Xen
//! `panic()` naming the broken one.
//!
//! Only what the held locks make consistent is checked: the pCPUs whose
//! runqueue locks the hook holds, and the waitqueue under its own lock (a
//! queued unit can only be given a pCPU with the waitqueue lock held, so
//! "waiting and assigned" is never a transient). Hard affinity is not
//! checked here: Xen changes it before it calls `migrate`, so a hook may
//! legitimately see a unit outside its new affinity; the host tests check
//! that rule.

#[cfg(xen_debug)]
use null_policy::hooks::{Env, Waitq as _};
#[cfg(xen_debug)]
use null_policy::mask::Bits;

use crate::sched::env::XenEnv;

/// Check the invariants after a hook; `locked` are the pCPUs (resource
/// masters) whose runqueue locks the hook holds.
#[cfg(xen_debug)]
pub fn after_hook(env: &XenEnv<'_>, locked: &[u32]) {
    for &cpu in locked {
        if !env.prv().cpus.test(cpu) {
            continue; // not (or no longer) one of our pCPUs
        }
        let slot = env.slot(cpu);
        assert!(
            slot.is_none() == env.free().test(cpu),
            "null invariant: cpus_free disagrees with the pCPU's unit"
        );
        if let Some(u) = slot {
            assert!(
                u.master() == cpu,
                "null invariant: an assigned unit points at another pCPU"
            );
            assert!(
                !env.is_queued(u),
                "null invariant: a unit is both assigned and waiting"
            );
        }
    }
    let nr = env.nr_cpu_ids();
    env.with_waitq(|wq| {
        wq.find_first(|w| {
            assert!(
                !(0..nr).any(|c| env.prv().cpus.test(c) && env.slot(c) == Some(w)),
                "null invariant: a waiting unit is also assigned"
            );
            false
        });
    });
}

/// Release builds check nothing, as Xen's `ASSERT`s.
#[cfg(not(xen_debug))]
#[inline(always)]
pub fn after_hook(_env: &XenEnv<'_>, _locked: &[u32]) {}
