//! The scheduler interface of `xen/common/sched/private.h`: units,
//! resources and domains as seen by a scheduler.

use core::ptr::{self, NonNull};

use crate::bindings::{self, gcc};
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

    /// `is_unit_online()`.
    ///
    /// Xen 4.17's inline (`private.h`), in Rust, as
    /// [`Unit::runnable_state`] is; debug builds compare with the helper.
    #[inline(always)] // sleep's path, in an object built for size.
    pub fn is_online(self) -> bool {
        let online = self.is_online_here();
        #[cfg(debug_assertions)]
        {
            // SAFETY: live unit; the helper is Xen's own inline.
            let c = |u: Self| unsafe { bindings::rust_helper_is_unit_online(u.as_ptr()) };
            // A vCPU going up or down meanwhile is re-checked once before
            // a difference is reported.
            if online != c(self) {
                assert!(
                    self.is_online_here() == c(self),
                    "is_unit_online() disagrees with the C helper"
                );
            }
        }
        online
    }

    #[inline(always)]
    fn is_online_here(self) -> bool {
        let u = self.as_ptr();
        let mut online = false;
        // SAFETY: live unit; its vCPU list does not change while it is in a
        // scheduler. pause_flags changes concurrently and is read once per
        // vCPU, volatile, as test_bit()'s asm does.
        unsafe {
            let next_unit = (*u).next_in_list;
            let mut v = (*u).vcpu_list;
            // for_each_sched_unit_vcpu(unit, v)
            while !v.is_null()
                && (next_unit.is_null() || ((*v).vcpu_id as u32) < (*next_unit).unit_id)
            {
                // is_vcpu_online(v): !test_bit(_VPF_down, &v->pause_flags)
                let flags = ptr::read_volatile(ptr::addr_of!((*v).pause_flags));
                if flags & gcc::VPF_down as core::ffi::c_ulong == 0 {
                    online = true;
                    break;
                }
                v = (*v).next_in_list;
            }
        }
        online
    }

    /// `unit_runnable()`.
    pub fn is_runnable(self) -> bool {
        // SAFETY: live unit.
        unsafe { bindings::rust_helper_unit_runnable(self.as_ptr()) }
    }

    /// `unit_runnable_state()`; caller holds the unit's runqueue lock.
    ///
    /// Xen 4.17's inline (`private.h`), in Rust: C inlines it into
    /// `null_schedule()`, and the helper call cost as much again. Debug
    /// builds compare with the helper, which writes the same states.
    #[inline(always)] // do_schedule's path, in an object built for size.
    pub fn runnable_state(self) -> bool {
        let ret = self.runnable_state_here();
        #[cfg(debug_assertions)]
        {
            // SAFETY: as below; the helper is Xen's own inline.
            let c = unsafe { bindings::rust_helper_unit_runnable_state(self.as_ptr()) };
            // The pause counts may change meanwhile (vcpu_pause() bumps
            // them before taking this lock): a real difference persists.
            if c != ret {
                assert!(
                    self.runnable_state_here() == c,
                    "unit_runnable_state() disagrees with the C helper"
                );
            }
        }
        ret
    }

    #[inline(always)]
    fn runnable_state_here(self) -> bool {
        let u = self.as_ptr();
        // The pause fields change concurrently: each is read once, volatile,
        // as Xen's atomic_read()s.
        // SAFETY: live unit whose runqueue lock the caller holds: its vCPU
        // list and each vCPU's new_state are stable and ours to write.
        unsafe {
            let mut v = (*u).vcpu_list;
            // is_idle_unit(): is_idle_vcpu(unit->vcpu_list).
            if (*(*v).domain).domain_id as i128 == gcc::DOMID_IDLE {
                return true;
            }
            let next_unit = (*u).next_in_list;
            let mut ret = false;
            // for_each_sched_unit_vcpu(unit, v)
            while !v.is_null()
                && (next_unit.is_null() || ((*v).vcpu_id as u32) < (*next_unit).unit_id)
            {
                // vcpu_runnable(v); GCC loads pause_flags once for it and
                // vcpu_runstate_blocked(v), and so do we.
                let flags = ptr::read_volatile(ptr::addr_of!((*v).pause_flags));
                let count = ptr::read_volatile(ptr::addr_of!((*v).pause_count.counter));
                let dcount = ptr::read_volatile(ptr::addr_of!((*(*v).domain).pause_count.counter));
                let runnable =
                    (flags | count as core::ffi::c_ulong | dcount as core::ffi::c_ulong) == 0;
                (*v).new_state = if runnable {
                    gcc::RUNSTATE_running as u32
                } else if flags & gcc::VPF_blocked as core::ffi::c_ulong != 0 {
                    gcc::RUNSTATE_blocked as u32
                } else {
                    gcc::RUNSTATE_offline as u32
                };
                ret |= runnable;
                v = (*v).next_in_list;
            }
            ret
        }
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
