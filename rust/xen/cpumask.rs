//! Xen's `cpumask_t`, read word by word by the policy core.

use core::cell::UnsafeCell;

use null_policy::mask::Bits;

use crate::bindings;

/// Words in a `cpumask_t` of the configured tree (`BITS_TO_LONGS(NR_CPUS)`).
pub const MASK_WORDS: usize = core::mem::size_of::<bindings::cpumask_t>() / 8;

/// A `cpumask_t` owned by Xen, which other pCPUs may update while we read
/// it (e.g. a unit's affinity while we scan the waitqueue, as null.c does).
/// Words are therefore read with volatile loads, like `READ_ONCE`.
#[repr(transparent)]
pub struct CpuMask(UnsafeCell<bindings::cpumask_t>);

impl CpuMask {
    /// View a Xen mask.
    ///
    /// # Safety
    /// `p` points to a `cpumask_t` that stays allocated for `'a`.
    pub unsafe fn from_raw<'a>(p: *const bindings::cpumask_t) -> &'a Self {
        // SAFETY: repr(transparent) over UnsafeCell<cpumask_t>; validity for
        // 'a is the caller's promise.
        unsafe { &*p.cast::<Self>() }
    }
}

impl CpuMask {
    /// For C (`%*pbl`).
    pub fn as_ptr(&self) -> *const bindings::cpumask_t {
        self.0.get()
    }
}

impl Bits for CpuMask {
    #[inline]
    fn nwords(&self) -> usize {
        MASK_WORDS
    }
    #[inline]
    fn word(&self, i: usize) -> u64 {
        if i >= MASK_WORDS {
            // No bits beyond the mask; and no bounds-check panic below.
            return 0;
        }
        // SAFETY: `i < MASK_WORDS` (checked above); the mask is valid
        // (from_raw contract); a concurrent writer only flips bits.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.0.get()).bits[i])) as u64 }
    }
}

// MaskBuf::as_ptr hands u64 words to C as `unsigned long`.
static_assertions::const_assert_eq!(core::mem::size_of::<core::ffi::c_ulong>(), 8);

/// A mask on the stack, for what is printed with `%*pbl` (the dumps and
/// warnings): the intersection of two masks.
pub struct MaskBuf([u64; MASK_WORDS]);

impl MaskBuf {
    /// `a & b`, word by word.
    pub fn and<A: Bits + ?Sized, B: Bits + ?Sized>(a: &A, b: &B) -> Self {
        let mut w = [0; MASK_WORDS];
        for (i, w) in w.iter_mut().enumerate() {
            *w = a.word(i) & b.word(i);
        }
        Self(w)
    }

    /// For `%*pbl`: `unsigned long` is 64 bits on every Xen target.
    pub fn as_ptr(&self) -> *const core::ffi::c_ulong {
        self.0.as_ptr().cast()
    }
}

/// A `cpumask_var_t`: a pointer when NR_CPUS is large, a one-element array
/// otherwise (xen/include/xen/cpumask.h).
pub trait MaskVar {
    /// The mask it designates.
    fn mask_ptr(&self) -> *const bindings::cpumask_t;
}

impl MaskVar for *mut bindings::cpumask_t {
    fn mask_ptr(&self) -> *const bindings::cpumask_t {
        *self
    }
}

impl MaskVar for [bindings::cpumask_t; 1] {
    fn mask_ptr(&self) -> *const bindings::cpumask_t {
        self.as_ptr()
    }
}
