//! Bit operations on CPU masks, word by word.
//!
//! Xen's `cpumask_t` is an array of `unsigned long`; its operations only look
//! at the first `nr_cpu_ids` bits. The functions here take the same limit,
//! as a [`Span`], and combine several masks one word at a time, so no
//! temporary mask (and no per-CPU scratch mask) is ever needed.

use core::sync::atomic::{AtomicU64, Ordering};

/// Bits in one mask word.
pub const BITS_PER_WORD: u32 = 64;

/// Read access to the words of a CPU mask.
pub trait Bits {
    /// Number of 64-bit words in the mask.
    fn nwords(&self) -> usize;
    /// Word `i`: 0 when `i >= self.nwords()`, so masks of different
    /// widths combine word by word.
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

/// The words of a mask that hold bits below `nr_cpu_ids`, and which bits
/// of the last of them do: computed once (`nr_cpu_ids` is fixed after
/// boot), so that the loops below need no per-word limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Index of the last word; 0 for an empty span too.
    last: usize,
    /// The bits of word `last` in the span; 0 only for an empty span.
    tail: u64,
}

impl Span {
    /// The span of bits below `nr` in masks of `nwords` words.
    #[inline]
    pub fn new(nr: u32, nwords: usize) -> Span {
        let words = (nr.div_ceil(BITS_PER_WORD) as usize).min(nwords);
        if words == 0 {
            return Span { last: 0, tail: 0 };
        }
        // The bits of the last word at or above `nr`: fewer than 64, and
        // none when the mask ends before `nr`.
        let excess = (words as u64 * BITS_PER_WORD as u64).saturating_sub(nr as u64);
        Span {
            last: words - 1,
            tail: !0u64 >> excess,
        }
    }

    /// Number of words that hold bits of the span.
    #[inline]
    pub fn words(&self) -> usize {
        if self.tail == 0 {
            0
        } else {
            self.last + 1
        }
    }

    /// The bits of word `i` (`i <= self.last`) that lie in the span.
    #[inline]
    fn mask(&self, i: usize) -> u64 {
        if i == self.last {
            self.tail
        } else {
            !0
        }
    }
}

/// First set bit within `span` of the mask whose word `i` is `f(i)`, if
/// any (`cpumask_first` returning `nr_cpu_ids` maps to `None`).
#[inline]
pub fn first(span: Span, f: impl Fn(usize) -> u64) -> Option<u32> {
    // Whole words, then the last one under its tail: with one word (up to
    // 64 pCPUs) that is a load, an and and a test.
    for i in 0..span.last {
        let w = f(i);
        if w != 0 {
            return Some(i as u32 * BITS_PER_WORD + w.trailing_zeros());
        }
    }
    let w = f(span.last) & span.tail;
    if w != 0 {
        return Some(span.last as u32 * BITS_PER_WORD + w.trailing_zeros());
    }
    None
}

/// Whether no bit within `span` is set (`cpumask_empty`).
#[inline]
pub fn is_empty(span: Span, f: impl Fn(usize) -> u64) -> bool {
    first(span, f).is_none()
}

/// Number of set bits within `span` (`cpumask_weight`).
#[inline]
pub fn weight(span: Span, f: impl Fn(usize) -> u64) -> u32 {
    (0..=span.last)
        .map(|i| (f(i) & span.mask(i)).count_ones())
        .sum()
}

/// The `n`-th (from 0) set bit within `span`, if there are that many.
#[inline]
pub fn nth(span: Span, mut n: u32, f: impl Fn(usize) -> u64) -> Option<u32> {
    for i in 0..=span.last {
        let mut w = f(i) & span.mask(i);
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
pub fn any(span: Span, rand: impl FnOnce() -> u32, f: impl Fn(usize) -> u64) -> Option<u32> {
    let first = first(span, &f)?;
    let w = weight(span, &f);
    if w <= 1 {
        return Some(first);
    }
    nth(span, rand() % w, f)
}

/// Whether every bit of `a` within `span` is also in `b`
/// (`cpumask_subset`).
#[inline]
pub fn subset<A: Bits + ?Sized, B: Bits + ?Sized>(a: &A, b: &B, span: Span) -> bool {
    is_empty(span, |i| a.word(i) & !b.word(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_honours_limit() {
        let m = [0u64, 1 << 3];
        assert_eq!(first(Span::new(128, 2), |i| m[i]), Some(67));
        assert_eq!(first(Span::new(67, 2), |i| m[i]), None);
        assert_eq!(first(Span::new(68, 2), |i| m[i]), Some(67));
        // A limit beyond the mask stops at its last word.
        assert_eq!(first(Span::new(1000, 2), |i| m[i]), Some(67));
        assert_eq!(first(Span::new(0, 2), |_| !0), None);
    }

    #[test]
    fn span_matches_bit_by_bit() {
        let masks: [[u64; 3]; 4] = [
            [!0, !0, !0],
            [1 << 63, 0, 1],
            [0, 1 << 63, 1 << 5],
            [0x8000_0001, 0, 1 << 63],
        ];
        for m in &masks {
            for nr in 0..=200u32 {
                let span = Span::new(nr, 3);
                assert_eq!(span.words(), nr.div_ceil(64).min(3) as usize);
                let bits: std::vec::Vec<u32> = (0..nr.min(192))
                    .filter(|&c| m[(c / 64) as usize] & (1 << (c % 64)) != 0)
                    .collect();
                assert_eq!(first(span, |i| m[i]), bits.first().copied(), "nr {nr}");
                assert_eq!(weight(span, |i| m[i]), bits.len() as u32, "nr {nr}");
                for (n, &c) in bits.iter().enumerate() {
                    assert_eq!(nth(span, n as u32, |i| m[i]), Some(c));
                }
                assert_eq!(nth(span, bits.len() as u32, |i| m[i]), None);
            }
        }
    }

    #[test]
    fn nth_and_weight() {
        let m = [0b1011_0000u64, 0b11];
        let all = Span::new(128, 2);
        assert_eq!(weight(all, |i| m[i]), 5);
        assert_eq!(nth(all, 0, |i| m[i]), Some(4));
        assert_eq!(nth(all, 2, |i| m[i]), Some(7));
        assert_eq!(nth(all, 3, |i| m[i]), Some(64));
        assert_eq!(nth(all, 5, |i| m[i]), None);
        assert_eq!(weight(Span::new(65, 2), |i| m[i]), 4);
        assert_eq!(weight(Span::new(64, 2), |i| m[i]), 3);
        assert_eq!(weight(Span::new(5, 2), |i| m[i]), 1);
    }

    #[test]
    fn any_consults_rand_only_when_needed() {
        let one = [1u64 << 9];
        let s = Span::new(64, 1);
        assert_eq!(any(s, || panic!("rand called"), |i| one[i]), Some(9));
        let three = [0b1110u64];
        assert_eq!(any(s, || 4, |i| three[i]), Some(2));
        assert_eq!(any(s, || 0, |i| [0u64][i]), None);
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
        let s = Span::new(64, 1);
        assert!(subset(&[0b0110u64], &[0b1110u64], s));
        assert!(!subset(&[0b0111u64], &[0b1110u64], s));
        // Bits at or above nr do not count, as in Xen.
        assert!(subset(&[0b0111u64], &[0b0110u64], Span::new(0, 1)));
        assert!(!subset(&[0b0111u64], &[0b0110u64], Span::new(1, 1)));
        assert!(subset(&[0b1110u64], &[0b0110u64], Span::new(3, 1)));
        assert!(!subset(&[0b1110u64], &[0b0110u64], Span::new(4, 1)));
    }
}
