//! The waitqueue's two intrusive lists ([`NullWaitq`]) as the policy's
//! [`null_policy::waitq::Waitq`]: list mechanics only, the waitqueue lock
//! held (its guard gives `&mut`).

use core::ptr::NonNull;
use core::sync::atomic::Ordering::Relaxed;

use null_policy::waitq::{self, Class};

use crate::list::List;
use crate::sched::data::{NullUnit, NullWaitq, UnitAdapter};
use crate::xen::sched_if::Unit;
use crate::xen::time;

impl NullWaitq {
    fn list(&self, class: Class) -> &List<UnitAdapter> {
        match class {
            Class::Unrestricted => &self.unrestricted,
            Class::Restricted => &self.restricted,
        }
    }

    fn list_mut(&mut self, class: Class) -> &mut List<UnitAdapter> {
        match class {
            Class::Unrestricted => &mut self.unrestricted,
            Class::Restricted => &mut self.restricted,
        }
    }
}

/// The list a queued unit is on.
fn class_of(nvc: &NullUnit) -> Class {
    if nvc.restricted.load(Relaxed) {
        Class::Restricted
    } else {
        Class::Unrestricted
    }
}

fn unit_of(n: NonNull<NullUnit>) -> Unit {
    // SAFETY: a queued NullUnit is alive: free_udata only runs after
    // remove_unit took the unit out of the waitqueue.
    unsafe { n.as_ref() }.unit
}

fn nvc_of<'a>(unit: Unit) -> &'a NullUnit {
    // SAFETY: units handed to the waitqueue are ours (the Env invariant of
    // XenEnv, whose with_waitq lends it).
    unsafe { NullUnit::of(unit) }
}

impl waitq::Waitq for NullWaitq {
    type Unit = Unit;

    fn head(&self, class: Class) -> Option<Unit> {
        self.list(class).first().map(unit_of)
    }

    fn next(&self, unit: Unit) -> Option<Unit> {
        let nvc = nvc_of(unit);
        // SAFETY: `unit` is queued (trait contract), on the list of its class.
        unsafe { self.list(class_of(nvc)).next(nvc.ptr()) }.map(unit_of)
    }

    fn class(&self, unit: Unit) -> Class {
        class_of(nvc_of(unit))
    }

    fn seq(&self, unit: Unit) -> u64 {
        nvc_of(unit).seq.load(Relaxed)
    }

    fn contains(&self, unit: Unit) -> bool {
        nvc_of(unit).waitq_elem.is_linked()
    }

    fn push_back(&mut self, unit: Unit, class: Class) {
        let nvc = nvc_of(unit);
        let seq = self.next_seq;
        self.next_seq = seq + 1;
        nvc.seq.store(seq, Relaxed);
        nvc.queued_at.store(time::now(), Relaxed);
        nvc.restricted.store(class == Class::Restricted, Relaxed);
        // SAFETY: our unit's NullUnit; it stays alive and in place until
        // removed (remove_unit precedes free_udata), and it is not queued
        // (the policy only pushes units it found unqueued).
        unsafe { self.list_mut(class).push_back(nvc.ptr()) };
    }

    // Out of line, as before the lists lost their RefCell: inlined, it
    // cost `sleep`'s common path (an online unit) a saved register.
    #[inline(never)]
    fn remove(&mut self, unit: Unit) {
        let nvc = nvc_of(unit);
        // SAFETY: our unit's NullUnit, on the list of its class or on none.
        unsafe { self.list_mut(class_of(nvc)).remove(nvc.ptr()) };
    }

    fn move_before(&mut self, unit: Unit, class: Class, before: Option<Unit>) {
        let nvc = nvc_of(unit);
        // SAFETY: queued (trait contract), on the list of its class.
        unsafe { self.list_mut(class_of(nvc)).remove(nvc.ptr()) };
        nvc.restricted.store(class == Class::Restricted, Relaxed);
        let before = before.map(|b| nvc_of(b).ptr());
        // SAFETY: as in push_back; `before` is on the list of `class`
        // (trait contract).
        unsafe { self.list_mut(class).insert_before(nvc.ptr(), before) };
    }

    fn is_empty(&self) -> bool {
        self.unrestricted.is_empty() && self.restricted.is_empty()
    }
}
