//! Placement of a unit on a pCPU: null.c's `pick_res()`.

use crate::affinity::{Affinity, BalanceStep};
use crate::mask::Bits;

/// What the pCPU the unit currently points at (`sched_unit_master(unit)`)
/// holds, seen from that unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// No unit is assigned to it.
    Free,
    /// This unit is assigned to it.
    Mine,
    /// Another unit is assigned to it.
    Taken,
}

/// Choose the pCPU for a unit currently pointing at `cpu`.
///
/// In each balance step (soft only if the unit has an effective soft
/// affinity): keep `cpu` if it is free or already ours and allowed;
/// otherwise take the first free allowed pCPU. If no step finds one, any
/// pCPU of `pool & hard` (`cpumask_any`): the caller only assigns the unit
/// there if it turns out to be free. `None` when `pool & hard` is empty,
/// which Xen guarantees never happens.
pub fn pick_cpu<M, F>(
    aff: &Affinity<'_, M>,
    cpu: u32,
    slot: Slot,
    free: &F,
    rand: impl FnOnce() -> u32,
) -> Option<u32>
where
    M: Bits + ?Sized,
    F: Bits + ?Sized,
{
    // The two balance steps of null.c's loop, unrolled: the soft one only
    // with an effective soft affinity. Both need `cpu` in `pool & hard`.
    let keep = slot != Slot::Taken && aff.pool.test(cpu) && aff.hard.test(cpu);
    if aff.has_soft_affinity() {
        let fallback = aff.soft_falls_back();
        if keep && (fallback || aff.soft.test(cpu)) {
            return Some(cpu);
        }
        if let Some(c) = aff.first_free_in_step(BalanceStep::Soft, fallback, free) {
            return Some(c);
        }
    }
    if keep {
        return Some(cpu);
    }
    if let Some(c) = aff.first_free_in_step(BalanceStep::Hard, false, free) {
        return Some(c);
    }
    aff.any_allowed(rand)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a<'a>(hard: &'a [u64; 1], soft: &'a [u64; 1], pool: &'a [u64; 1]) -> Affinity<'a, [u64; 1]> {
        Affinity::new(hard, soft, true, pool, 8, crate::mask::Span::new(8, 1))
    }

    #[test]
    fn keeps_current_cpu_when_free_or_mine() {
        let (h, s, p) = ([0xf], [0xf], [0xf]);
        let aff = a(&h, &s, &p);
        assert_eq!(pick_cpu(&aff, 2, Slot::Free, &[0b0001u64], || 0), Some(2));
        assert_eq!(pick_cpu(&aff, 2, Slot::Mine, &[0u64], || 0), Some(2));
        assert_eq!(pick_cpu(&aff, 2, Slot::Taken, &[0b1000u64], || 0), Some(3));
    }

    #[test]
    fn prefers_soft_affinity() {
        let (h, s, p) = ([0xf], [0b1100], [0xf]);
        let aff = a(&h, &s, &p);
        // cpu 0 is free and allowed, but only in the hard step; cpu 3 is free and soft.
        assert_eq!(pick_cpu(&aff, 0, Slot::Free, &[0b1001u64], || 0), Some(3));
        // No free soft pCPU: keep cpu 0 in the hard step.
        assert_eq!(pick_cpu(&aff, 0, Slot::Free, &[0b0001u64], || 0), Some(0));
    }

    #[test]
    fn falls_back_to_any_allowed() {
        let (h, s, p) = ([0b0110], [0b0110], [0xf]);
        let aff = a(&h, &s, &p);
        assert_eq!(pick_cpu(&aff, 0, Slot::Taken, &[0u64], || 1), Some(2));
        assert_eq!(pick_cpu(&aff, 0, Slot::Taken, &[0u64], || 0), Some(1));
    }
}
