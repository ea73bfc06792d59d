//! The runqueue locks: Xen's per-resource `schedule_lock` (`sr->_lock` for
//! a pCPU of ours, handed to Xen by `switch_sched`), as guards.
//!
//! Each guard owns its unlock, the way null.c pairs its lock and unlock
//! calls: [`UnitLockIrq`] (`unit_schedule_lock_irq()`, with the relock
//! `insert_unit` needs), [`UnitLock`] (`unit_schedule_lock()`, nested in
//! the irqsave private lock in the dump), [`PcpuLockIrqSave`]
//! (`pcpu_schedule_lock_irqsave()`) and [`PcpuTryLock`]
//! (`pcpu_schedule_trylock()`). Code that needs a runqueue lock takes a
//! [`RunqHeld`] borrowed from the guard (or assumed once in a hook Xen
//! calls with the lock held), so the borrow checker keeps it from outliving
//! the lock.

use core::cell::Cell;
use core::ffi::c_ulong;
use core::ptr::NonNull;

use crate::bindings::{self, spinlock_t};
use crate::xen::irq::IrqsOff;
use crate::xen::sched_if::{Resource, Unit};

/// Proof that this pCPU holds a runqueue lock with interrupts off, for
/// `'a`: which one is the documented contract of the function taking it.
///
/// Borrowed from a guard ([`UnitLockIrq::held`], [`PcpuLockIrqSave::held`]),
/// or [`RunqHeld::assume`]d at the top of a hook that Xen calls with the
/// lock taken.
#[derive(Clone, Copy)]
pub struct RunqHeld<'a> {
    irqs: IrqsOff<'a>,
}

impl<'a> RunqHeld<'a> {
    /// Record that Xen holds a runqueue lock, with interrupts off.
    ///
    /// # Safety
    /// The caller holds a runqueue lock, taken `_irq` or `_irqsave`, for
    /// `'a`.
    pub unsafe fn assume() -> Self {
        Self {
            // SAFETY: interrupts are off while the lock is held (contract).
            irqs: unsafe { IrqsOff::assume() },
        }
    }

    /// Interrupts are off while the lock is held.
    pub fn irqs_off(self) -> IrqsOff<'a> {
        self.irqs
    }
}

/// The unit's runqueue lock, taken with `unit_schedule_lock_irq()`;
/// released with `unit_schedule_unlock_irq()` on drop.
///
/// # Invariants
/// `lock` is the lock `unit_schedule_lock*()` returned for `unit`, held
/// by us; interrupts are off.
pub struct UnitLockIrq {
    /// A `Cell`: [`UnitLockIrq::relock`] swaps it while proofs borrowed
    /// from the guard are alive, which stay true (a lock of the unit is
    /// held again before `relock` returns; IRQs stay off throughout).
    lock: Cell<*mut spinlock_t>,
    unit: Unit,
}

impl UnitLockIrq {
    /// `unit_schedule_lock_irq(unit)`; interrupts must be on (Xen asserts
    /// it), as in `insert_unit` and `remove_unit`.
    pub fn new(unit: Unit) -> Self {
        // SAFETY: a live unit (Unit's contract).
        let lock = unsafe { bindings::rust_helper_unit_schedule_lock_irq(unit.as_ptr()) };
        Self {
            lock: Cell::new(lock),
            unit,
        }
    }

    /// Release the lock and take the unit's lock again, interrupts staying
    /// off: after `sched_set_res()` the unit's master pCPU, hence its lock,
    /// may have changed.
    pub fn relock(&self) {
        // SAFETY: we hold `lock` (type invariant); interrupts stay off.
        unsafe { bindings::rust_helper_spin_unlock(self.lock.get()) };
        // SAFETY: a live unit.
        let lock = unsafe { bindings::rust_helper_unit_schedule_lock(self.unit.as_ptr()) };
        // INVARIANT: the unit's lock, held again, interrupts still off.
        self.lock.set(lock);
    }

    /// Proof of the held lock.
    pub fn held(&self) -> RunqHeld<'_> {
        // SAFETY: we hold the lock with interrupts off (type invariant) for
        // as long as the borrow.
        unsafe { RunqHeld::assume() }
    }
}

impl Drop for UnitLockIrq {
    fn drop(&mut self) {
        // `unit_schedule_unlock_irq()` is `spin_unlock_irq()` after an
        // ASSERT that `lock` is the unit's: the helper in debug builds, the
        // plain unlock (one argument fewer) in release builds.
        #[cfg(debug_assertions)]
        // SAFETY: we hold `lock`, the unit's lock, taken with _irq.
        unsafe {
            bindings::rust_helper_unit_schedule_unlock_irq(self.lock.get(), self.unit.as_ptr())
        };
        #[cfg(not(debug_assertions))]
        // SAFETY: as above.
        unsafe {
            bindings::rust_helper_spin_unlock_irq(self.lock.get())
        };
    }
}

/// The unit's runqueue lock, taken with `unit_schedule_lock()` while
/// interrupts are already off (the dump, inside the irqsave private lock);
/// released with `unit_schedule_unlock()` on drop.
///
/// # Invariants
/// As [`UnitLockIrq`]'s; interrupts are off for `'a`.
pub struct UnitLock<'a> {
    lock: *mut spinlock_t,
    unit: Unit,
    _irqs: IrqsOff<'a>,
}

impl<'a> UnitLock<'a> {
    /// `unit_schedule_lock(unit)`.
    pub fn new(unit: Unit, irqs: IrqsOff<'a>) -> Self {
        // SAFETY: a live unit (Unit's contract).
        let lock = unsafe { bindings::rust_helper_unit_schedule_lock(unit.as_ptr()) };
        Self {
            lock,
            unit,
            _irqs: irqs,
        }
    }
}

impl Drop for UnitLock<'_> {
    fn drop(&mut self) {
        // SAFETY: we hold `lock`, the unit's lock.
        unsafe { bindings::rust_helper_unit_schedule_unlock(self.lock, self.unit.as_ptr()) };
    }
}

/// A pCPU's runqueue lock, taken with `pcpu_schedule_lock_irqsave()`;
/// released with `pcpu_schedule_unlock_irqrestore()` on drop.
///
/// # Invariants
/// `lock` is `cpu`'s runqueue lock, held by us, taken with `flags`.
pub struct PcpuLockIrqSave {
    lock: *mut spinlock_t,
    flags: c_ulong,
    cpu: u32,
}

impl PcpuLockIrqSave {
    /// `pcpu_schedule_lock_irqsave(cpu, &flags)`; `cpu` is a pCPU Xen
    /// passed to a hook.
    pub fn new(cpu: u32) -> Self {
        let mut flags: c_ulong = 0;
        // SAFETY: a valid pCPU; the helper stores the flags for the unlock.
        let lock = unsafe { bindings::rust_helper_pcpu_schedule_lock_irqsave(cpu, &mut flags) };
        Self { lock, flags, cpu }
    }

    /// Proof of the held lock.
    pub fn held(&self) -> RunqHeld<'_> {
        // SAFETY: we hold the lock, taken irqsave (type invariant), for as
        // long as the borrow.
        unsafe { RunqHeld::assume() }
    }
}

impl Drop for PcpuLockIrqSave {
    fn drop(&mut self) {
        // SAFETY: we hold `lock`, `cpu`'s, taken with these flags.
        unsafe {
            bindings::rust_helper_pcpu_schedule_unlock_irqrestore(self.lock, self.flags, self.cpu)
        };
    }
}

/// A pCPU's runqueue lock taken with `pcpu_schedule_trylock()`, released
/// with `spin_unlock()` on drop. Non-null by type: a failed trylock (NULL)
/// never becomes a guard, whose drop would unlock NULL.
///
/// # Invariants
/// `0` is a runqueue lock we hold.
pub struct PcpuTryLock(NonNull<spinlock_t>);

impl PcpuTryLock {
    /// `pcpu_schedule_trylock(cpu)`: `None` if the lock is busy. Only
    /// under another runqueue lock (`held`), as null.c trylocks: its IRQs
    /// are already off.
    pub fn new(cpu: u32, _held: RunqHeld<'_>) -> Option<Self> {
        // SAFETY: `cpu` is a valid pCPU with a resource.
        let lock = unsafe { bindings::rust_helper_pcpu_schedule_trylock(cpu) };
        // Not `then_some(..)` on a guard: that builds it eagerly and, on
        // failure, drops it, unlocking NULL (seen: a page fault at 0 under
        // contention).
        NonNull::new(lock).map(PcpuTryLock)
    }
}

impl Drop for PcpuTryLock {
    fn drop(&mut self) {
        // SAFETY: we hold this lock (type invariant).
        unsafe { bindings::rust_helper_spin_unlock(self.0.as_ptr()) };
    }
}

/// A waiting unit's runqueue lock for a hand-off that is about to point it
/// at another pCPU ([`Trylocked::unit_master`]).
pub enum Trylocked {
    /// We took this lock and release it on drop.
    Taken(PcpuTryLock),
    /// The unit's lock is one the caller already holds.
    AlreadyHeld,
}

impl Trylocked {
    /// Lock the runqueue of `unit`'s master pCPU for a hand-off, the caller
    /// holding the runqueue locks of the pCPUs in `held`: `None` if
    /// `pcpu_schedule_trylock()` fails.
    ///
    /// null.c asserts the unit's lock is not ours; it can be (a unit woken
    /// on its free pCPU outside its soft affinity waits, and only that pCPU
    /// may be free): then we already hold what `vcpu_wake()` would hold,
    /// and a trylock could only fail, forever. Compared as lock pointers:
    /// with sched-gran > 1 several pCPUs share one.
    pub fn unit_master(unit: Unit, held: &[u32], proof: RunqHeld<'_>) -> Option<Self> {
        let lock = unit.res().schedule_lock();
        if held
            .iter()
            .any(|&cpu| Resource::of(cpu).schedule_lock() == lock)
        {
            return Some(Trylocked::AlreadyHeld);
        }
        PcpuTryLock::new(unit.master(), proof).map(Trylocked::Taken)
    }
}
