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

    // Hard step. A unit's list need not match the masks read here:
    // `adjust_affinity` moves a waiting unit to the list of its new class
    // before Xen installs the new masks, and a hand-off on another pCPU
    // may run in between (it holds the waitqueue lock, not the unit's
    // runqueue lock, which it only trylocks). The decision is always made
    // on the live masks, so it is right either way; that each unit is on
    // its class's list *between* hooks is checked on the host model
    // (`Model::check_waitq`, after every step of the property tests).
    for (u, _) in Fifo::with_restricted_head(waitq, restricted) {
        let aff = affinity(u);
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
