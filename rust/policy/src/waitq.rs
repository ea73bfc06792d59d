//! The waitqueue (null.c's `prv->waitq`) as two FIFOs ordered by one
//! enqueue sequence.
//!
//! null.c keeps a single FIFO and scans it, twice, for every pCPU it hands
//! over: linear in the number of waiting units even when they could all
//! run anywhere. Here a waiting unit sits on one of two lists by its
//! [`Class`], and every enqueue takes the next number of a sequence shared
//! by both, so null.c's FIFO order is the merge of the two lists by that
//! number ([`Fifo`]). The soft balance step only ever looks at restricted
//! units (an unrestricted one has no effective soft affinity); the hard
//! step walks the merge and stops at the first unit it may take, which,
//! when the oldest unrestricted unit may run on the pCPU, is at most the
//! restricted units queued before it and that one.

use crate::affinity::{soft_aff_effective, Affinity};
use crate::mask::{self, Bits, Span};

/// Which of the waitqueue's two FIFOs a waiting unit is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Hard affinity covers every pCPU below `nr_cpu_ids` and soft
    /// affinity is not effective: the soft step always skips the unit, and
    /// the hard step may take it on any pCPU of its pool.
    Unrestricted,
    /// Every other unit.
    Restricted,
}

impl Class {
    /// The class of a unit with hard affinity `hard` and this
    /// `soft_aff_effective`, `nr` being `nr_cpu_ids`.
    pub fn of_masks<H: Bits + ?Sized>(hard: &H, soft_effective: bool, nr: u32) -> Class {
        let covers_all = hard.nwords() as u64 * mask::BITS_PER_WORD as u64 >= nr as u64
            && mask::is_empty(Span::new(nr, hard.nwords()), |i| !hard.word(i));
        if covers_all && !soft_effective {
            Class::Unrestricted
        } else {
            Class::Restricted
        }
    }

    /// The class of a unit with affinity `aff`, as it is now.
    pub fn of<M: Bits + ?Sized>(aff: &Affinity<'_, M>) -> Class {
        Class::of_masks(aff.hard, aff.soft_effective, aff.nr)
    }

    /// The class a unit will have once Xen's `sched_set_affinity()` has
    /// installed `hard` and `soft`: it recomputes `soft_aff_effective` as
    /// `!cpumask_subset(hard, soft) && cpumask_intersects(soft, hard)`.
    pub fn after_set<H, S>(hard: &H, soft: &S, nr: u32) -> Class
    where
        H: Bits + ?Sized,
        S: Bits + ?Sized,
    {
        Class::of_masks(hard, soft_aff_effective(hard, soft, nr), nr)
    }
}

/// The waitqueue, as seen with its lock held: changed through `&mut`,
/// which only the lock's guard gives.
///
/// # Invariants
/// - Each list is in increasing [`Waitq::seq`] order, and every waiting
///   unit has a distinct number, so the merge by number ([`Fifo`]) is the
///   order in which the units were queued (null.c's single FIFO).
/// - A unit on the [`Class::Unrestricted`] list has that class for its
///   current affinity: enqueuers pass [`Class::of`], and an affinity change
///   while queued goes through [`Waitq::reclassify`] first
///   (`adjust_affinity`).
pub trait Waitq {
    /// The unit handle.
    type Unit: Copy + Eq;

    /// The oldest unit of `class`.
    fn head(&self, class: Class) -> Option<Self::Unit>;
    /// The unit after `unit` on its list; `unit` is queued.
    fn next(&self, unit: Self::Unit) -> Option<Self::Unit>;
    /// The list `unit` (queued) is on.
    fn class(&self, unit: Self::Unit) -> Class;
    /// The enqueue number of `unit` (queued).
    fn seq(&self, unit: Self::Unit) -> u64;
    /// Whether `unit` is queued.
    fn contains(&self, unit: Self::Unit) -> bool;
    /// Append a unit that is not queued to the list of `class`, with the
    /// next enqueue number.
    fn push_back(&mut self, unit: Self::Unit, class: Class);
    /// Remove a unit; nothing happens if it is not queued (`list_del_init`).
    fn remove(&mut self, unit: Self::Unit);
    /// Move a queued unit from its list to the list of `class`, before
    /// `before` (a unit on that list) or at its tail, keeping its enqueue
    /// number. List mechanics only: [`Waitq::reclassify`] chooses where.
    fn move_before(&mut self, unit: Self::Unit, class: Class, before: Option<Self::Unit>);
    /// Whether no unit waits.
    fn is_empty(&self) -> bool;

    /// Move a queued unit to the list of `class`, keeping its enqueue
    /// number (so its FIFO position); nothing happens if it is not queued
    /// or already there.
    fn reclassify(&mut self, unit: Self::Unit, class: Class) {
        if !self.contains(unit) || self.class(unit) == class {
            return;
        }
        // INVARIANT: back in enqueue order, before the first younger unit.
        let seq = self.seq(unit);
        let mut before = self.head(class);
        while let Some(b) = before {
            if self.seq(b) > seq {
                break;
            }
            before = self.next(b);
        }
        self.move_before(unit, class, before);
    }
}

/// The waiting units in FIFO order (with their list), merging the two
/// lists by enqueue number. The waitqueue must not change meanwhile.
pub struct Fifo<'a, W: Waitq> {
    waitq: &'a W,
    restricted: Option<W::Unit>,
    unrestricted: Option<W::Unit>,
}

impl<'a, W: Waitq> Fifo<'a, W> {
    /// Start at the oldest waiting unit.
    pub fn new(waitq: &'a W) -> Self {
        Self::with_restricted_head(waitq, waitq.head(Class::Restricted))
    }

    /// [`Fifo::new`], `restricted` being `waitq.head(Class::Restricted)`,
    /// already read by the caller (the hand-off's soft step).
    pub(crate) fn with_restricted_head(waitq: &'a W, restricted: Option<W::Unit>) -> Self {
        Fifo {
            waitq,
            restricted,
            unrestricted: waitq.head(Class::Unrestricted),
        }
    }
}

impl<W: Waitq> Iterator for Fifo<'_, W> {
    type Item = (W::Unit, Class);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let wq = self.waitq;
        let take_restricted = match (self.restricted, self.unrestricted) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(r), Some(u)) => wq.seq(r) < wq.seq(u),
        };
        if take_restricted {
            let r = self.restricted?;
            self.restricted = wq.next(r);
            Some((r, Class::Restricted))
        } else {
            let u = self.unrestricted?;
            self.unrestricted = wq.next(u);
            Some((u, Class::Unrestricted))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let full = [!0u64; 2];
        let part = [!0u64, 1];
        assert_eq!(Class::of_masks(&full, false, 128), Class::Unrestricted);
        assert_eq!(Class::of_masks(&full, true, 128), Class::Restricted);
        assert_eq!(Class::of_masks(&part, false, 128), Class::Restricted);
        // Bits at or above nr_cpu_ids do not matter.
        assert_eq!(Class::of_masks(&part, false, 65), Class::Unrestricted);
        // A mask too short for nr_cpu_ids does not cover it.
        assert_eq!(Class::of_masks(&[!0u64], false, 65), Class::Restricted);
        // soft ⊇ hard, or soft ∩ hard empty: not effective (Xen's rule).
        assert_eq!(Class::after_set(&full, &full, 128), Class::Unrestricted);
        assert_eq!(
            Class::after_set(&full, &[0u64, 0], 128),
            Class::Unrestricted
        );
        assert_eq!(Class::after_set(&full, &part, 128), Class::Restricted);
    }
}
