//! Bit operations on CPU masks, word by word.
//!
//! Xen's `cpumask_t` is an array of `unsigned long`; its operations only look
//! at the first `nr_cpu_ids` bits. The functions here take the same limit and
//! combine several masks one word at a time, so no temporary mask (and no
//! per-CPU scratch mask) is ever needed.

use core::sync::atomic::{AtomicU64, Ordering};

/// Bits in one mask word.
pub const BITS_PER_WORD: u32 = 64;

/// Read access to the words of a CPU mask.
pub trait Bits {
    /// Number of 64-bit words in the mask.
    fn nwords(&self) -> usize;
    /// Word `i`; `i < self.nwords()`.
    fn word(&self, i: usize) -> u64;

    /// Whether bit `cpu` is set (`cpumask_test_cpu`).
    #[inline]
    fn test(&self, cpu: u32) -> bool {
        let i = (cpu / BITS_PER_WORD) as usize;
        i < self.nwords() && self.word(i) & (1u64 << (cpu % BITS_PER_WORD)) != 0
    }
}

impl Bits for [u64] {
    #[inline]
    fn nwords(&self) -> usize {
        self.len()
    }
    #[inline]
    fn word(&self, i: usize) -> u64 {
        // Words past the end hold no bits (and cannot panic).
        self.get(i).copied().unwrap_or(0)
    }
}

impl<const N: usize> Bits for [u64; N] {
    #[inline]
    fn nwords(&self) -> usize {
        N
    }
    #[inline]
    fn word(&self, i: usize) -> u64 {
        self.get(i).copied().unwrap_or(0)
    }
}

/// A mask that several CPUs update concurrently with atomic bit operations,
/// like null.c's `cpus_free` (`cpumask_set_cpu` is a locked `bts`).
pub struct AtomicMask<const N: usize> {
    words: [AtomicU64; N],
}

impl<const N: usize> AtomicMask<N> {
    /// An all-clear mask.
    pub const fn new() -> Self {
        Self {
            words: [const { AtomicU64::new(0) }; N],
        }
    }

    /// Set bit `cpu` (`cpumask_set_cpu`).
    #[inline]
    pub fn set(&self, cpu: u32) {
        let (i, bit) = split(cpu);
        self.word_for(i).fetch_or(bit, Ordering::SeqCst);
    }

    /// Clear bit `cpu` (`cpumask_clear_cpu`).
    #[inline]
    pub fn clear(&self, cpu: u32) {
        let (i, bit) = split(cpu);
        self.word_for(i).fetch_and(!bit, Ordering::SeqCst);
    }

    /// Word `i`, which must exist: a CPU number is below `NR_CPUS`.
    #[inline]
    fn word_for(&self, i: usize) -> &AtomicU64 {
        match self.words.get(i) {
            Some(w) => w,
            // A literal message: no formatting code is linked (see
            // rust/xen/panic.rs).
            None => panic!("null: CPU number beyond the mask"),
        }
    }
}

impl<const N: usize> Default for AtomicMask<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Bits for AtomicMask<N> {
    #[inline]
    fn nwords(&self) -> usize {
        N
    }
    #[inline]
    fn word(&self, i: usize) -> u64 {
        // Readers of `cpus_free` in null.c tolerate a stale view: a decision
        // taken on it is re-checked under the runqueue lock that matters.
        self.words.get(i).map_or(0, |w| w.load(Ordering::Relaxed))
    }
}

#[inline]
fn split(cpu: u32) -> (usize, u64) {
    (
        (cpu / BITS_PER_WORD) as usize,
        1u64 << (cpu % BITS_PER_WORD),
    )
}

/// The bits of word `i` that lie below `nr`.
#[inline]
fn limit(i: usize, nr: u32) -> u64 {
    let lo = i as u64 * BITS_PER_WORD as u64;
    let nr = nr as u64;
    if nr >= lo + BITS_PER_WORD as u64 {
        !0
    } else if nr <= lo {
        0
    } else {
        (1u64 << (nr - lo)) - 1
    }
}

/// Number of words that hold bits below `nr`, capped at `nwords`.
#[inline]
fn words_for(nr: u32, nwords: usize) -> usize {
    (nr.div_ceil(BITS_PER_WORD) as usize).min(nwords)
}

/// First set bit below `nr` of the mask whose word `i` is `f(i)`, if any
/// (`cpumask_first` returning `nr_cpu_ids` maps to `None`).
#[inline]
pub fn first(nwords: usize, nr: u32, f: impl Fn(usize) -> u64) -> Option<u32> {
    for i in 0..words_for(nr, nwords) {
        let w = f(i) & limit(i, nr);
        if w != 0 {
            return Some(i as u32 * BITS_PER_WORD + w.trailing_zeros());
        }
    }
    None
}

/// Whether no bit below `nr` is set (`cpumask_empty`).
#[inline]
pub fn is_empty(nwords: usize, nr: u32, f: impl Fn(usize) -> u64) -> bool {
    first(nwords, nr, f).is_none()
}

/// Number of set bits below `nr` (`cpumask_weight`).
#[inline]
pub fn weight(nwords: usize, nr: u32, f: impl Fn(usize) -> u64) -> u32 {
    (0..words_for(nr, nwords))
        .map(|i| (f(i) & limit(i, nr)).count_ones())
        .sum()
}

/// The `n`-th (from 0) set bit below `nr`, if there are that many.
#[inline]
pub fn nth(nwords: usize, nr: u32, mut n: u32, f: impl Fn(usize) -> u64) -> Option<u32> {
    for i in 0..words_for(nr, nwords) {
        let mut w = f(i) & limit(i, nr);
        let ones = w.count_ones();
        if n >= ones {
            n -= ones;
            continue;
        }
        while n > 0 {
            w &= w - 1;
            n -= 1;
        }
        return Some(i as u32 * BITS_PER_WORD + w.trailing_zeros());
    }
    None
}

/// `cpumask_any`: a pseudo-random set bit, chosen exactly as Xen 4.17 does —
/// the `rand() % weight`-th one, where `rand` is only consulted when more
/// than one bit is set. `None` for an empty mask.
#[inline]
pub fn any(
    nwords: usize,
    nr: u32,
    rand: impl FnOnce() -> u32,
    f: impl Fn(usize) -> u64,
) -> Option<u32> {
    let first = first(nwords, nr, &f)?;
    let w = weight(nwords, nr, &f);
    if w <= 1 {
        return Some(first);
    }
    nth(nwords, nr, rand() % w, f)
}

/// Whether every bit of `a` below `nr` is also in `b` (`cpumask_subset`).
#[inline]
pub fn subset<A: Bits + ?Sized, B: Bits + ?Sized>(a: &A, b: &B, nr: u32) -> bool {
    let n = a.nwords().min(b.nwords());
    is_empty(n, nr, |i| a.word(i) & !b.word(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_honours_limit() {
        let m = [0u64, 1 << 3];
        assert_eq!(first(2, 128, |i| m[i]), Some(67));
        assert_eq!(first(2, 67, |i| m[i]), None);
        assert_eq!(first(2, 68, |i| m[i]), Some(67));
    }

    #[test]
    fn nth_and_weight() {
        let m = [0b1011_0000u64, 0b11];
        assert_eq!(weight(2, 128, |i| m[i]), 5);
        assert_eq!(nth(2, 128, 0, |i| m[i]), Some(4));
        assert_eq!(nth(2, 128, 2, |i| m[i]), Some(7));
        assert_eq!(nth(2, 128, 3, |i| m[i]), Some(64));
        assert_eq!(nth(2, 128, 5, |i| m[i]), None);
        assert_eq!(weight(2, 65, |i| m[i]), 4);
    }

    #[test]
    fn any_consults_rand_only_when_needed() {
        let one = [1u64 << 9];
        assert_eq!(any(1, 64, || panic!("rand called"), |i| one[i]), Some(9));
        let three = [0b1110u64];
        assert_eq!(any(1, 64, || 4, |i| three[i]), Some(2));
        assert_eq!(any(1, 64, || 0, |i| [0u64][i]), None);
    }

    #[test]
    fn atomic_mask_set_clear() {
        let m = AtomicMask::<2>::new();
        m.set(70);
        m.set(1);
        assert!(m.test(70) && m.test(1) && !m.test(2));
        m.clear(70);
        assert!(!m.test(70));
        assert!(!m.test(1000));
    }

    #[test]
    fn subset_works() {
        assert!(subset(&[0b0110u64], &[0b1110u64], 64));
        assert!(!subset(&[0b0111u64], &[0b1110u64], 64));
        // Bits at or above nr do not count, as in Xen.
        assert!(subset(&[0b0111u64], &[0b0110u64], 0));
    }
}
