//! Handing a free pCPU to a waiting unit: the waitqueue scans of
//! `unit_deassign()` and `null_schedule()`.

use crate::affinity::{Affinity, BalanceStep, BALANCE_STEPS};
use crate::hooks::Waitq;
use crate::mask::Bits;

/// The outcome of offering a pCPU to the waitqueue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handoff<U> {
    /// This unit takes the pCPU.
    Taken(U),
    /// Suitable units exist, but none could be taken (lock contention).
    Contended,
    /// No waiting unit may run on the pCPU.
    NoneSuitable,
}

/// Offer `cpu` to the units of a FIFO waitqueue.
///
/// Two passes, as null.c does: first the units that have an effective soft
/// affinity including `cpu`, in FIFO order; then every unit whose hard
/// affinity includes `cpu`, in FIFO order. `try_take` is asked about each
/// suitable unit in that order; the first one it accepts wins. (In
/// `unit_deassign()` it always accepts; in `null_schedule()` it trylocks the
/// unit's current runqueue.)
pub fn offer<'a, W, M>(
    waitq: &W,
    affinity: impl Fn(W::Unit) -> Affinity<'a, M>,
    cpu: u32,
    mut try_take: impl FnMut(W::Unit) -> bool,
) -> Handoff<W::Unit>
where
    W: Waitq,
    M: Bits + ?Sized + 'a,
{
    let mut found = false;
    for step in BALANCE_STEPS {
        let taken = waitq.find_first(|u| {
            let aff = affinity(u);
            if step == BalanceStep::Soft && !aff.has_soft_affinity() {
                return false;
            }
            if !aff.allows(cpu, step) {
                return false;
            }
            found = true;
            try_take(u)
        });
        if let Some(u) = taken {
            return Handoff::Taken(u);
        }
    }
    if found {
        Handoff::Contended
    } else {
        Handoff::NoneSuitable
    }
}
