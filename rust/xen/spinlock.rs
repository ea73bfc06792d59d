//! Xen's `spinlock_t` guarding Rust data.
//!
//! Xen fixes each lock as IRQ-safe or IRQ-unsafe on first use and checks
//! every later use (`check_lock()` in xen/common/spinlock.c), and lock
//! profiling and debugging change `spinlock_t`'s size; so every lock Xen's
//! rules govern is a real `spinlock_t`, taken through Xen's own functions.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

use crate::bindings;
use crate::xen::irq::IrqsOff;

/// Data of type `T` protected by a Xen `spinlock_t`.
///
/// A guard gives `&mut T`: the lock grants exclusive access, so the data
/// needs no interior mutability of its own.
///
/// # Invariants
/// `raw` was initialised with `spin_lock_init`; `data` is only accessed by
/// a holder of `raw` (through a guard).
#[repr(C)]
pub struct SpinLock<T> {
    raw: UnsafeCell<bindings::spinlock_t>,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by the Xen spinlock.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves the data; a `spinlock_t` has no affinity.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A lock around `data`. Must be [`SpinLock::init`]ed in its final place
    /// before first use.
    pub fn new(data: T) -> Self {
        // SAFETY: all-zero is a valid bit pattern for `spinlock_t` (it is
        // overwritten by init() before any use).
        let raw = unsafe { core::mem::zeroed() };
        Self {
            raw: UnsafeCell::new(raw),
            data: UnsafeCell::new(data),
        }
    }

    /// `spin_lock_init()`, in place.
    pub fn init(&self) {
        // SAFETY: nobody can hold a lock that was never initialised; the
        // pointer is to our own field.
        // INVARIANT: initialised here, before any guard exists.
        unsafe { bindings::rust_helper_spin_lock_init(self.raw.get()) };
    }

    /// `spin_lock_irqsave()`: for locks taken with interrupts on or off.
    pub fn lock_irqsave(&self) -> IrqSaveGuard<'_, T> {
        // SAFETY: `raw` is initialised (invariant).
        let flags = unsafe { bindings::rust_helper_spin_lock_irqsave(self.raw.get()) };
        IrqSaveGuard { lock: self, flags }
    }

    /// `spin_lock()`, for a lock only ever taken with interrupts off (the
    /// waitqueue lock, nested in a runqueue lock or the irqsave private
    /// lock, whose guards lend the token).
    pub fn lock(&self, _irqs_off: IrqsOff<'_>) -> Guard<'_, T> {
        // SAFETY: `raw` is initialised (invariant).
        unsafe { bindings::rust_helper_spin_lock(self.raw.get()) };
        Guard { lock: self }
    }
}

/// A held [`SpinLock`] taken with [`SpinLock::lock_irqsave`].
pub struct IrqSaveGuard<'a, T> {
    lock: &'a SpinLock<T>,
    flags: core::ffi::c_ulong,
}

impl<T> IrqSaveGuard<'_, T> {
    /// Interrupts are off while this lock is held.
    pub fn irqs_off(&self) -> IrqsOff<'_> {
        // SAFETY: taken with spin_lock_irqsave(), so interrupts stay off
        // until the guard drops, which the borrow outlives.
        unsafe { IrqsOff::assume() }
    }
}

impl<T> Deref for IrqSaveGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold the lock (type invariant of SpinLock).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for IrqSaveGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we hold the lock, and this guard is its only holder.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for IrqSaveGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: we hold the lock, taken with these flags.
        unsafe { bindings::_spin_unlock_irqrestore(self.lock.raw.get(), self.flags) };
    }
}

/// A held [`SpinLock`] taken with [`SpinLock::lock`].
pub struct Guard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold the lock (type invariant of SpinLock).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we hold the lock, and this guard is its only holder.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: we hold the lock.
        unsafe { bindings::rust_helper_spin_unlock(self.lock.raw.get()) };
    }
}
