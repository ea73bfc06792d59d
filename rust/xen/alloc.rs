//! Xen's heap (`xzalloc` / `xfree`) as an owning box that can fail.

use core::ffi::c_void;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use crate::bindings;

/// Allocation failed: the hooks turn this into `-ENOMEM` or `NULL` as their
/// C contract says.
#[derive(Debug)]
pub struct AllocError;

/// A `T` on Xen's heap, zero-initialised then written.
///
/// # Invariants
/// `ptr` came from `_xzalloc(size_of::<T>(), align_of::<T>())` and holds an
/// initialised `T` that this box owns.
pub struct XBox<T> {
    ptr: NonNull<T>,
}

impl<T> XBox<T> {
    /// Allocate and move `value` in; `Err` when Xen's heap is exhausted.
    pub fn try_new(value: T) -> Result<Self, AllocError> {
        #[cfg(xen_debug)]
        if fault::inject(core::any::type_name::<T>()) {
            return Err(AllocError);
        }
        // SAFETY: `_xzalloc` may be called with any size and alignment from
        // any context the scheduler's alloc hooks run in (IRQs enabled).
        let p = unsafe { bindings::_xzalloc(size_of::<T>() as _, align_of::<T>() as _) };
        let ptr = NonNull::new(p.cast::<T>()).ok_or(AllocError)?;
        // SAFETY: fresh, suitably sized and aligned allocation.
        unsafe { ptr.as_ptr().write(value) };
        // INVARIANT: allocated by _xzalloc and initialised just above.
        Ok(Self { ptr })
    }

    /// A `T` whose bytes are all zero, as `_xzalloc` gives them, then
    /// `init` sets the fields that are not: no `T` is built and copied in
    /// (for a `T` that is mostly zero, that is a `memset()` of memory
    /// already zeroed); `Err` when Xen's heap is exhausted.
    pub fn try_new_zeroed(init: impl FnOnce(&mut T)) -> Result<Self, AllocError>
    where
        T: Zeroable,
    {
        #[cfg(xen_debug)]
        if fault::inject(core::any::type_name::<T>()) {
            return Err(AllocError);
        }
        // SAFETY: as in try_new.
        let p = unsafe { bindings::_xzalloc(size_of::<T>() as _, align_of::<T>() as _) };
        let mut ptr = NonNull::new(p.cast::<T>()).ok_or(AllocError)?;
        // SAFETY: a fresh allocation, suitably sized and aligned, of zero
        // bytes, which are a valid T (Zeroable); nobody else has it.
        init(unsafe { ptr.as_mut() });
        // INVARIANT: allocated by _xzalloc and holding an initialised T.
        Ok(Self { ptr })
    }

    /// Give up ownership, for storing in a Xen `void *` slot.
    pub fn into_raw(this: Self) -> NonNull<T> {
        let p = this.ptr;
        core::mem::forget(this);
        p
    }

    /// Take ownership back.
    ///
    /// # Safety
    /// `ptr` came from [`XBox::into_raw`] and nobody else owns it any more.
    pub unsafe fn from_raw(ptr: NonNull<T>) -> Self {
        // INVARIANT: the caller hands back what into_raw produced.
        Self { ptr }
    }
}

/// Types for which all-zero bytes are a valid value: what `_xzalloc`
/// returns is then one ([`XBox::try_new_zeroed`]).
///
/// # Safety
/// Every field, recursively, is valid as all-zero bytes (integers, atomics,
/// raw pointers, `UnsafeCell`s of such, a `spinlock_t` before
/// `spin_lock_init`), and a zeroed value upholds the type's invariants.
pub unsafe trait Zeroable {}

impl<T> core::ops::Deref for XBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: owned and initialised (type invariant).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Drop for XBox<T> {
    fn drop(&mut self) {
        // SAFETY: we own an initialised T allocated by _xzalloc (invariant).
        unsafe {
            self.ptr.as_ptr().drop_in_place();
            bindings::xfree(self.ptr.as_ptr().cast::<c_void>());
        }
    }
}

/// Allocation-failure injection for the tests (debug builds only): Xen's
/// `sched-null-fail-alloc=N` makes every N-th allocation after boot fail.
/// Boot-time allocations (idle units, dom0, Pool-0's pCPUs) are never
/// failed: Xen panics on those by design.
#[cfg(xen_debug)]
mod fault {
    use core::ffi::{c_int, c_uint};
    use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

    use crate::bindings;
    use crate::xen::printk::printk;

    /// Allocations counted so far (after boot).
    static COUNT: AtomicU32 = AtomicU32::new(0);

    /// Whether this allocation (of a `what`) must fail.
    pub fn inject(what: &str) -> bool {
        // SAFETY: both are plain globals, written by Xen during boot (the
        // parameter when parsing the command line, the state as boot
        // progresses); racy reads of aligned words are fine here.
        let (every, state) = unsafe { (bindings::rust_null_fail_alloc, bindings::system_state) };
        if every == 0 || state != bindings::SYS_STATE_active {
            return false;
        }
        let n = COUNT.fetch_add(1, Relaxed) + 1;
        if !n.is_multiple_of(every) {
            return false;
        }
        printk!(
            "null: injected allocation failure %u (%.*s)\n",
            n as c_uint,
            what.len() as c_int,
            what.as_ptr()
        );
        true
    }
}
