//! The scheduler's invariants on its live state, checked at the end of a
//! hook: what debug builds of Xen check after every hook that changes
//! state (`rust/sched/check.rs` panics on a [`Violation`]), and what the
//! host model's driver checks after every hook it calls.
//!
//! Only what the hook's locks make consistent is checked: the pCPUs whose
//! runqueue locks the hook holds. Their free bit must match their slot,
//! and a unit in a slot must point at that pCPU and not be waiting (a unit
//! is only queued under its runqueue lock, which for an assigned unit is
//! its pCPU's). Other pCPUs are not looked at: their state changes under
//! locks the hook does not hold, and their private data may be on its way
//! out (`schedule_cpu_rm()` clears a pCPU's `sched_priv` before it calls
//! `deinit_pdata`, and frees it after): reading it would report transient
//! states as violations, or fault. Hard affinity is not checked either:
//! Xen changes it before it calls `migrate`, so a hook may legitimately see
//! a unit outside its new affinity; the host tests check that rule.

use crate::hooks::Env;
use crate::mask::Bits;

/// A broken invariant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A pCPU's bit in `cpus_free` disagrees with its slot.
    FreeMismatch {
        /// The pCPU.
        cpu: u32,
    },
    /// The unit in a pCPU's slot points at another pCPU.
    AssignedElsewhere {
        /// The pCPU.
        cpu: u32,
    },
    /// The unit in a pCPU's slot is also in the waitqueue.
    AssignedAndWaiting {
        /// The pCPU.
        cpu: u32,
    },
}

/// Check the invariants after a hook; `locked` are the pCPUs (resource
/// masters) whose runqueue locks the hook holds. pCPUs that are not (or no
/// longer) the scheduler's are skipped ([`Env::owned_slot`]).
pub fn after_hook<E: Env>(env: &E, locked: &[u32]) -> Result<(), Violation> {
    for &cpu in locked {
        let Some(slot) = env.owned_slot(cpu) else {
            continue;
        };
        if slot.is_none() != env.free().test(cpu) {
            return Err(Violation::FreeMismatch { cpu });
        }
        if let Some(u) = slot {
            if env.master(u) != cpu {
                return Err(Violation::AssignedElsewhere { cpu });
            }
            if env.is_queued(u) {
                return Err(Violation::AssignedAndWaiting { cpu });
            }
        }
    }
    Ok(())
}
