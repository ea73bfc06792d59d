//! The scheduler interface of `xen/common/sched/private.h`: units,
//! resources and domains as seen by a scheduler (accessors; the inlines
//! re-implemented in Rust are in `sched_inline.rs`).

use core::ptr::NonNull;

use crate::bindings;
use crate::xen::cpumask::{CpuMask, MaskVar};

/// A `struct sched_unit *` handed to us by Xen.
///
/// Xen keeps a unit alive from `alloc_udata` to `free_udata`, and the
/// scheduler only sees units in between; fields are read with the unit's
/// runqueue lock held or racily as null.c does, so all reads go through raw
/// pointers, never through a Rust reference to the whole struct.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Unit(NonNull<bindings::sched_unit>);

impl Unit {
    /// Wrap a unit pointer from Xen.
    ///
    /// # Safety
    /// `p` points to a live `struct sched_unit` for as long as the handle
    /// is used (between Xen's `alloc_udata` and `free_udata` for it).
    pub unsafe fn from_raw(p: *const bindings::sched_unit) -> Option<Self> {
        NonNull::new(p.cast_mut()).map(Unit)
    }

    /// The raw pointer.
    pub fn as_ptr(self) -> *mut bindings::sched_unit {
        self.0.as_ptr()
    }

    /// `unit->priv`.
    pub fn priv_(self) -> *mut core::ffi::c_void {
        // SAFETY: live unit (from_raw contract).
        unsafe { (*self.as_ptr()).priv_ }
    }

    /// `current->sched_unit`: the unit of the vCPU running on this pCPU.
    pub fn current() -> Unit {
        // SAFETY: `current` is the running vCPU, whose unit is live while
        // it runs (and the caller's handle is used only meanwhile).
        match unsafe { Unit::from_raw((*bindings::rust_helper_get_current()).sched_unit) } {
            Some(u) => u,
            None => panic!("current vCPU without a unit"),
        }
    }

    /// `unit->priv = p`, for `switch_sched`'s idle unit.
    ///
    /// # Safety
    /// The caller holds the unit's runqueue lock (Xen's, around
    /// `switch_sched`), under which alone `priv` of an idle unit is read.
    pub unsafe fn set_priv(self, p: *mut core::ffi::c_void) {
        // SAFETY: live unit; exclusive per the contract.
        unsafe { (*self.as_ptr()).priv_ = p };
    }

    /// `unit->unit_id`.
    pub fn id(self) -> u32 {
        // SAFETY: live unit; the id never changes.
        unsafe { (*self.as_ptr()).unit_id }
    }

    /// `unit->domain`.
    pub fn domain(self) -> Domain {
        // SAFETY: live unit; a unit's domain outlives it.
        Domain(unsafe { NonNull::new_unchecked((*self.as_ptr()).domain) })
    }

    /// `sched_unit_master(unit)`: `unit->res->master_cpu`.
    pub fn master(self) -> u32 {
        // SAFETY: live unit; `res` always points at a live resource (Xen
        // sets it before inserting the unit and never clears it).
        unsafe { (*(*self.as_ptr()).res).master_cpu }
    }

    /// `unit->res` as the resource it is.
    pub fn res(self) -> Resource {
        // SAFETY: as in master().
        Resource(unsafe { NonNull::new_unchecked((*self.as_ptr()).res) })
    }

    /// `unit->cpu_hard_affinity`.
    pub fn hard_affinity<'a>(self) -> &'a CpuMask {
        // SAFETY: the mask is allocated with the unit and lives as long.
        unsafe { CpuMask::from_raw((*self.as_ptr()).cpu_hard_affinity.mask_ptr()) }
    }

    /// `unit->cpu_soft_affinity`.
    pub fn soft_affinity<'a>(self) -> &'a CpuMask {
        // SAFETY: as for hard_affinity().
        unsafe { CpuMask::from_raw((*self.as_ptr()).cpu_soft_affinity.mask_ptr()) }
    }

    /// `unit->soft_aff_effective`.
    pub fn soft_aff_effective(self) -> bool {
        // SAFETY: live unit; a racy bool read, as in C.
        unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!((*self.as_ptr()).soft_aff_effective))
        }
    }

    /// `is_idle_unit()`.
    pub fn is_idle(self) -> bool {
        // SAFETY: live unit.
        unsafe { bindings::rust_helper_is_idle_unit(self.as_ptr()) }
    }

    /// `unit_runnable()`.
    pub fn is_runnable(self) -> bool {
        // SAFETY: live unit.
        unsafe { bindings::rust_helper_unit_runnable(self.as_ptr()) }
    }

    /// `sched_set_res(unit, get_sched_res(cpu))`; caller holds the locks
    /// Xen requires for moving the unit.
    pub fn set_res(self, cpu: u32) {
        // SAFETY: live unit; `cpu` is a valid pCPU with a resource.
        unsafe { bindings::rust_helper_sched_set_res(self.as_ptr(), Resource::of(cpu).as_ptr()) };
    }

    /// `unit->next_task = next; unit->next_time = -1`: `do_schedule`'s result.
    pub fn set_next(self, next: Unit) {
        // SAFETY: live units; Xen's schedule() owns `prev` while it calls
        // do_schedule and reads these fields after it.
        unsafe {
            (*self.as_ptr()).next_task = next.as_ptr();
            (*self.as_ptr()).next_time = -1;
            (*next.as_ptr()).migrated = false;
        }
    }

    /// `unit->next_task = unit`, for the idle unit of the resource being
    /// scheduled when it is not `prev`: Xen rewrites a unit's next_task
    /// only when it is `prev`, so the idle unit's would go on naming the
    /// last unit it handed over to, which can be destroyed or moved away
    /// while this pCPU idles, and `schedule_cpu_rm()` writes through it
    /// (xen-patches/0005 fixes that side for every scheduler).
    pub fn point_next_at_self(self) {
        // SAFETY: live unit; the caller schedules its resource, holding its
        // runqueue lock, under which alone the idle unit's next_task is
        // read while it is not running (schedule_cpu_rm()).
        unsafe { (*self.as_ptr()).next_task = self.as_ptr() };
    }
}

/// A `struct sched_resource *` (per-pCPU scheduling resource).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Resource(NonNull<bindings::sched_resource>);

impl Resource {
    /// `get_sched_res(cpu)`.
    pub fn of(cpu: u32) -> Self {
        // SAFETY: every pCPU the scheduler is asked about has its per-CPU
        // area and a resource (Xen allocates it when the pCPU comes up).
        Resource(unsafe { NonNull::new_unchecked(crate::xen::percpu::sched_res(cpu)) })
    }

    /// The raw pointer.
    pub fn as_ptr(self) -> *mut bindings::sched_resource {
        self.0.as_ptr()
    }

    /// `sr->sched_priv`.
    pub fn sched_priv(self) -> *mut core::ffi::c_void {
        // SAFETY: live resource.
        unsafe { (*self.as_ptr()).sched_priv }
    }

    /// `sr->scheduler`: the scheduler instance the pCPU belongs to (the
    /// idle scheduler's while it is in no cpupool).
    pub fn scheduler(self) -> *const bindings::scheduler {
        // SAFETY: live resource.
        unsafe { (*self.as_ptr()).scheduler }
    }

    /// `sr->curr`.
    pub fn curr(self) -> Option<Unit> {
        // SAFETY: live resource; `curr` is a live unit (or null early).
        unsafe { Unit::from_raw((*self.as_ptr()).curr) }
    }

    /// `sr->sched_unit_idle`.
    pub fn idle_unit(self) -> Unit {
        // SAFETY: live resource; the idle unit always exists.
        match unsafe { Unit::from_raw((*self.as_ptr()).sched_unit_idle) } {
            Some(u) => u,
            None => panic!("resource without an idle unit"),
        }
    }

    /// `sr->master_cpu`.
    pub fn master_cpu(self) -> u32 {
        // SAFETY: live resource.
        unsafe { (*self.as_ptr()).master_cpu }
    }

    /// `&sr->_lock`: the lock `switch_sched` hands back to Xen.
    pub fn own_lock(self) -> *mut bindings::spinlock_t {
        // SAFETY: live resource; only the address is taken.
        unsafe { core::ptr::addr_of_mut!((*self.as_ptr())._lock) }
    }

    /// `sr->schedule_lock`.
    pub fn schedule_lock(self) -> *mut bindings::spinlock_t {
        // SAFETY: live resource.
        unsafe { (*self.as_ptr()).schedule_lock }
    }

    /// `spin_is_locked(sr->schedule_lock)`, for assertions.
    pub fn schedule_lock_is_locked(self) -> bool {
        // SAFETY: a valid lock pointer of a live resource.
        unsafe { bindings::_spin_is_locked(self.schedule_lock()) != 0 }
    }
}

/// A `struct domain *`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Domain(NonNull<bindings::domain>);

impl Domain {
    /// Wrap a domain pointer from Xen.
    ///
    /// # Safety
    /// `p` points to a live domain for as long as the handle is used.
    pub unsafe fn from_raw(p: *mut bindings::domain) -> Option<Self> {
        NonNull::new(p).map(Domain)
    }

    /// The raw pointer.
    pub fn as_ptr(self) -> *mut bindings::domain {
        self.0.as_ptr()
    }

    /// `d->domain_id`.
    pub fn id(self) -> u16 {
        // SAFETY: live domain; the id never changes.
        unsafe { (*self.as_ptr()).domain_id }
    }

    /// `d->is_dying != DOMDYING_alive`: `domain_kill()` has begun.
    pub fn is_dying(self) -> bool {
        // SAFETY: live domain; an aligned word, read racily as Xen's own
        // readers of it do.
        unsafe { core::ptr::read_volatile(&raw const (*self.as_ptr()).is_dying) != 0 }
    }

    /// `d->sched_priv`.
    pub fn sched_priv(self) -> *mut core::ffi::c_void {
        // SAFETY: live domain.
        unsafe { (*self.as_ptr()).sched_priv }
    }

    /// `cpupool_domain_master_cpumask(d)`: `d->cpupool->res_valid`.
    pub fn pool_mask<'a>(self) -> &'a CpuMask {
        // SAFETY: only called for non-idle domains, whose cpupool is set
        // while they have units in a scheduler; the mask lives with it.
        unsafe {
            let pool = (*self.as_ptr()).cpupool;
            debug_assert!(!pool.is_null(), "d->cpupool != NULL");
            CpuMask::from_raw((*pool).res_valid.mask_ptr())
        }
    }

    /// The domain's units (`for_each_sched_unit`).
    pub fn units(self) -> impl Iterator<Item = Unit> {
        // SAFETY: live domain; its unit list only changes with the domain
        // paused or under locks the caller holds (the dump holds prv->lock).
        let first = unsafe { Unit::from_raw((*self.as_ptr()).sched_unit_list) };
        core::iter::successors(first, |u| {
            // SAFETY: `u` is a live unit of the list.
            unsafe { Unit::from_raw((*u.as_ptr()).next_in_list) }
        })
    }
}
