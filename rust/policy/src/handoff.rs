//! Handing a free pCPU to a waiting unit: the waitqueue scans of
//! `unit_deassign()` and `null_schedule()`.

use crate::affinity::{Affinity, BalanceStep};
use crate::mask::Bits;
use crate::waitq::{Class, Fifo, Waitq};

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

/// Offer `cpu` to the waiting units.
///
/// Two passes, as null.c does: first the units that have an effective soft
/// affinity including `cpu`, in FIFO order; then every unit whose hard
/// affinity includes `cpu`, in FIFO order. `try_take` is asked about each
/// suitable unit in that order; the first one it accepts wins. (In
/// `unit_deassign()` it always accepts; in `null_schedule()` it trylocks the
/// unit's current runqueue.)
///
/// Same units asked, in the same order, as null.c's scans of its single
/// FIFO, but: the soft pass only walks the restricted list (an unrestricted
/// unit has no effective soft affinity, so null.c skips it there), and the
/// hard pass walks the FIFO merge of both lists, stopping at the unit
/// taken. With the oldest unrestricted unit allowed on `cpu` (any pCPU of
/// its pool) and accepted, that is the restricted units before it, plus it.
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

    // Soft step.
    let restricted = waitq.head(Class::Restricted);
    let mut cur = restricted;
    while let Some(u) = cur {
        let aff = affinity(u);
        if aff.has_soft_affinity() && aff.allows(cpu, BalanceStep::Soft) {
            found = true;
            if try_take(u) {
                return Handoff::Taken(u);
            }
        }
        cur = waitq.next(u);
    }

    // Hard step.
    for (u, class) in Fifo::with_restricted_head(waitq, restricted) {
        let aff = affinity(u);
        debug_assert!(
            class == Class::Restricted || Class::of(&aff) == Class::Unrestricted,
            "null: unrestricted waiter whose affinity changed unseen"
        );
        if aff.allows(cpu, BalanceStep::Hard) {
            found = true;
            if try_take(u) {
                return Handoff::Taken(u);
            }
        }
    }

    if found {
        Handoff::Contended
    } else {
        Handoff::NoneSuitable
    }
}
