//! Xen 4.17's `private.h` inlines that the hot hooks need, re-implemented
//! in Rust: `is_unit_online()` and `unit_runnable_state()`. C inlines them
//! into null.c; through a C helper they cost a call more. Debug builds
//! compare each result with the helper, Xen's own inline. A Xen version
//! that changes them needs this file changed (the bindings' layout checks
//! catch changed fields, not changed logic).

use core::ptr;

use crate::bindings::gcc;
use crate::xen::sched_if::Unit;

impl Unit {
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
            let c = |u: Self| unsafe { crate::bindings::rust_helper_is_unit_online(u.as_ptr()) };
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
            let c = unsafe { crate::bindings::rust_helper_unit_runnable_state(self.as_ptr()) };
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
                if runnable {
                    (*v).new_state = gcc::RUNSTATE_running as u32;
                    ret = true;
                } else if flags & gcc::VPF_blocked as core::ffi::c_ulong != 0 {
                    (*v).new_state = gcc::RUNSTATE_blocked as u32;
                } else {
                    (*v).new_state = gcc::RUNSTATE_offline as u32;
                }
                v = (*v).next_in_list;
            }
            ret
        }
    }
}
