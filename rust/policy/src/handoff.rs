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
    /// The unit whose turn it is could not be taken (its runqueue lock is
    /// busy): nobody takes the pCPU now, the caller retries later.
    Contended,
    /// No waiting unit may run on the pCPU.
    NoneSuitable,
}

/// Offer `cpu` to the waiting units.
///
/// Two passes, as null.c does: first the units that have an effective soft
/// affinity including `cpu`, in FIFO order; then every unit whose hard
/// affinity includes `cpu`, in FIFO order. The first suitable unit in that
/// order is the one whose turn it is, and only it is asked: `try_take`
/// trylocks its runqueue lock. If that fails the outcome is
/// [`Handoff::Contended`] and the caller retries the hand-off later; a
/// younger unit is never taken instead. (null.c's `null_schedule()` passes
/// over a busy waiter to the next one, so a transient lock contention lets
/// a younger vCPU jump the queue; our patch 0009 does the same for null.c.)
///
/// Same unit found as null.c's scans of its single FIFO, but: the soft pass
/// only walks the restricted list (an unrestricted unit has no effective
/// soft affinity, so null.c skips it there), and the hard pass walks the
/// FIFO merge of both lists, stopping at the first unit allowed on `cpu`.
/// With the oldest unrestricted unit allowed on `cpu` (any pCPU of its
/// pool), that is the restricted units before it, plus it.
pub fn offer<'a, W, M>(
    waitq: &W,
    affinity: impl Fn(W::Unit) -> Affinity<'a, M>,
    cpu: u32,
    try_take: impl FnOnce(W::Unit) -> bool,
) -> Handoff<W::Unit>
where
    W: Waitq,
    M: Bits + ?Sized + 'a,
{
    match first_suitable(waitq, affinity, cpu) {
        None => Handoff::NoneSuitable,
        Some(u) if try_take(u) => Handoff::Taken(u),
        Some(_) => Handoff::Contended,
    }
}

/// The waiting unit whose turn it is to take `cpu`, if any may run there.
fn first_suitable<'a, W, M>(
    waitq: &W,
    affinity: impl Fn(W::Unit) -> Affinity<'a, M>,
    cpu: u32,
) -> Option<W::Unit>
where
    W: Waitq,
    M: Bits + ?Sized + 'a,
{
    // Soft step.
    let restricted = waitq.head(Class::Restricted);
    let mut cur = restricted;
    while let Some(u) = cur {
        let aff = affinity(u);
        if aff.has_soft_affinity() && aff.allows(cpu, BalanceStep::Soft) {
            return Some(u);
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
    Fifo::with_restricted_head(waitq, restricted)
        .map(|(u, _)| u)
        .find(|&u| affinity(u).allows(cpu, BalanceStep::Hard))
}
