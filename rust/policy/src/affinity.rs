//! Hard and soft affinity, and the two balance steps of `private.h`.
//!
//! A unit first looks for a pCPU in its soft affinity (intersected with its
//! hard affinity), then anywhere in its hard affinity; always within the
//! cpupool's pCPUs. Soft affinity is only looked at when it makes a
//! difference (`has_soft_affinity`).

use crate::mask::{self, Bits, Span};

/// One step of affinity balancing (`BALANCE_SOFT_AFFINITY` = 0,
/// `BALANCE_HARD_AFFINITY` = 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BalanceStep {
    /// Look in soft ∩ hard affinity (or hard, if that is empty).
    Soft = 0,
    /// Look in hard affinity.
    Hard = 1,
}

/// `soft_aff_effective` as Xen's `sched_set_affinity()` computes it from
/// new masks: soft affinity does not cover hard affinity
/// (`!cpumask_subset(hard, soft)`) but meets it
/// (`cpumask_intersects(soft, hard)`); `nr` is `nr_cpu_ids`.
pub fn soft_aff_effective<H, S>(hard: &H, soft: &S, nr: u32) -> bool
where
    H: Bits + ?Sized,
    S: Bits + ?Sized,
{
    let span = Span::new(nr, hard.nwords().min(soft.nwords()));
    !mask::subset(hard, soft, span) && !mask::is_empty(span, |i| hard.word(i) & soft.word(i))
}

/// The masks that constrain where one unit may run.
pub struct Affinity<'a, M: Bits + ?Sized> {
    /// `unit->cpu_hard_affinity`.
    pub hard: &'a M,
    /// `unit->cpu_soft_affinity`.
    pub soft: &'a M,
    /// `unit->soft_aff_effective`.
    pub soft_effective: bool,
    /// `cpupool_domain_master_cpumask(unit->domain)`: the pool's resources.
    pub pool: &'a M,
    /// `nr_cpu_ids`: bits at or above it are ignored, as by Xen.
    pub nr: u32,
    /// The words and bits of the masks below `nr`.
    pub span: Span,
}

impl<'a, M: Bits + ?Sized> Affinity<'a, M> {
    /// The affinity of a unit, `nr` being `nr_cpu_ids` and `span` its
    /// words in masks of this kind (`Span::new(nr, words)`: computed once,
    /// as `nr_cpu_ids` does not change once Xen has booted).
    #[inline]
    pub fn new(
        hard: &'a M,
        soft: &'a M,
        soft_effective: bool,
        pool: &'a M,
        nr: u32,
        span: Span,
    ) -> Self {
        Affinity {
            hard,
            soft,
            soft_effective,
            pool,
            nr,
            span,
        }
    }

    /// `has_soft_affinity()`: soft affinity is effective and does not cover
    /// the whole pool.
    #[inline]
    pub fn has_soft_affinity(&self) -> bool {
        self.soft_effective && !mask::subset(self.pool, self.soft, self.span)
    }

    /// Whether soft ∩ hard is empty, in which case the soft step falls back
    /// to the hard affinity (`affinity_balance_cpumask()`).
    #[inline]
    pub fn soft_falls_back(&self) -> bool {
        mask::is_empty(self.span, |i| self.soft.word(i) & self.hard.word(i))
    }

    /// Word `i` of `affinity_balance_cpumask(step) & pool`.
    #[inline]
    fn step_word(&self, step: BalanceStep, fallback: bool, i: usize) -> u64 {
        let hard = self.hard.word(i);
        let aff = match step {
            BalanceStep::Soft if !fallback => self.soft.word(i) & hard,
            _ => hard,
        };
        aff & self.pool.word(i)
    }

    /// `unit_check_affinity()`: may the unit run on `cpu` in this step?
    #[inline]
    pub fn allows(&self, cpu: u32, step: BalanceStep) -> bool {
        if !(self.pool.test(cpu) && self.hard.test(cpu)) {
            return false;
        }
        match step {
            BalanceStep::Hard => true,
            BalanceStep::Soft => self.soft.test(cpu) || self.soft_falls_back(),
        }
    }

    /// First pCPU of `balance(step) & pool & free`.
    #[inline]
    pub fn first_free<F: Bits + ?Sized>(&self, step: BalanceStep, free: &F) -> Option<u32> {
        let fallback = step == BalanceStep::Soft && self.soft_falls_back();
        self.first_free_in_step(step, fallback, free)
    }

    /// [`Affinity::first_free`], `fallback` being
    /// [`Affinity::soft_falls_back`] (only looked at in the soft step).
    #[inline]
    pub fn first_free_in_step<F: Bits + ?Sized>(
        &self,
        step: BalanceStep,
        fallback: bool,
        free: &F,
    ) -> Option<u32> {
        mask::first(self.span, |i| {
            self.step_word(step, fallback, i) & free.word(i)
        })
    }

    /// Whether `hard & pool` intersects `free` (`cpumask_intersects`).
    #[inline]
    pub fn intersects_free<F: Bits + ?Sized>(&self, free: &F) -> bool {
        self.first_free(BalanceStep::Hard, free).is_some()
    }

    /// `cpumask_any(pool & hard)`, or `None` when the unit may run nowhere.
    #[inline]
    pub fn any_allowed(&self, rand: impl FnOnce() -> u32) -> Option<u32> {
        mask::any(self.span, rand, |i| self.hard.word(i) & self.pool.word(i))
    }

    /// Word `i` of `hard & pool & free`: the pCPUs to tickle when a woken
    /// unit has to wait.
    #[inline]
    pub fn free_word<F: Bits + ?Sized>(&self, free: &F, i: usize) -> u64 {
        self.hard.word(i) & self.pool.word(i) & free.word(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aff<'a>(
        hard: &'a [u64; 1],
        soft: &'a [u64; 1],
        pool: &'a [u64; 1],
        eff: bool,
    ) -> Affinity<'a, [u64; 1]> {
        Affinity::new(hard, soft, eff, pool, 8, Span::new(8, 1))
    }

    #[test]
    fn soft_affinity_only_when_it_matters() {
        let pool = [0b1111];
        assert!(!aff(&[0b1111], &[0b1111], &pool, true).has_soft_affinity());
        assert!(aff(&[0b1111], &[0b0011], &pool, true).has_soft_affinity());
        assert!(!aff(&[0b1111], &[0b0011], &pool, false).has_soft_affinity());
    }

    #[test]
    fn soft_step_falls_back_to_hard_when_disjoint() {
        let a = aff(&[0b1100], &[0b0011], &[0b1111], true);
        assert!(a.allows(2, BalanceStep::Soft));
        assert!(!a.allows(0, BalanceStep::Soft));
        let b = aff(&[0b1110], &[0b0011], &[0b1111], true);
        assert!(b.allows(1, BalanceStep::Soft));
        assert!(!b.allows(2, BalanceStep::Soft));
        assert!(b.allows(2, BalanceStep::Hard));
    }

    #[test]
    fn pool_limits_everything() {
        let a = aff(&[0b1111], &[0b1111], &[0b0101], true);
        assert!(!a.allows(1, BalanceStep::Hard));
        assert_eq!(a.first_free(BalanceStep::Hard, &[0b1110u64]), Some(2));
        assert_eq!(a.free_word(&[0b1111u64], 0), 0b0101);
    }
}
