//! The policy core's [`Env`] over Xen's live state.

use core::ptr::NonNull;
use core::sync::atomic::Ordering::Relaxed;

use null_policy::admission::Mode;
use null_policy::affinity::Affinity;
use null_policy::hooks::{Class, Env, Event, Stat, Waitq as WaitqTrait};
use null_policy::mask::{AtomicMask, Bits, Span};

use crate::bindings::{self, gcc};
use crate::list::ListCell;
use crate::sched::admission;
use crate::sched::data::{NullPcpu, NullPrivate, NullUnit, UnitAdapter, Waitq};
use crate::xen::cpumask::{CpuMask, MaskBuf, MASK_WORDS};
use crate::xen::irq::IrqsOff;
use crate::xen::perfc::{self, XenStat};
use crate::xen::printk::{dprintk, printk};
use crate::xen::sched_if::{Resource, Unit};
use crate::xen::time;
use crate::xen::trace;

/// The environment one hook runs in.
///
/// # Invariants
/// Interrupts are off (`irqs`), and the hook holds the runqueue locks the
/// policy function it calls documents; every unit handed to the policy is
/// a live unit of this scheduler and every pCPU one of its pCPUs.
pub struct XenEnv<'a> {
    /// Our scheduler; `prv` and `nr_cpu_ids` are read when needed, not
    /// up front: `do_schedule`'s usual path needs neither.
    ops: *const bindings::scheduler,
    irqs: IrqsOff,
    _prv: core::marker::PhantomData<&'a NullPrivate>,
}

impl<'a> XenEnv<'a> {
    /// The environment for a hook of scheduler `ops`.
    ///
    /// # Safety
    /// `ops` is one of our initialised schedulers, and the caller holds the
    /// runqueue lock(s) that the policy function it will call requires.
    pub unsafe fn new(ops: *const bindings::scheduler, irqs: IrqsOff) -> Self {
        // INVARIANT: `ops` is ours and initialised, and the lock
        // requirements are the caller's.
        Self {
            ops,
            irqs,
            _prv: core::marker::PhantomData,
        }
    }

    /// The scheduler's private data.
    #[inline]
    pub fn prv(&self) -> &'a NullPrivate {
        // SAFETY: `ops` is ours and initialised (type invariant).
        unsafe { NullPrivate::of(self.ops) }
    }

    /// `nr_cpu_ids`.
    #[inline]
    fn nr(&self) -> u32 {
        // SAFETY: reading a plain global set at boot.
        unsafe { bindings::nr_cpu_ids }
    }

    fn pcpu(&self, cpu: u32) -> &NullPcpu {
        // SAFETY: pCPUs given to the policy belong to this scheduler
        // (type invariant).
        unsafe { NullPcpu::of(cpu) }
    }

    fn nvc(&self, unit: Unit) -> &NullUnit {
        // SAFETY: units given to the policy are ours (type invariant).
        unsafe { NullUnit::of(unit) }
    }
}

impl Waitq {
    fn list(&self, class: Class) -> &ListCell<UnitAdapter> {
        match class {
            Class::Unrestricted => &self.unrestricted,
            Class::Restricted => &self.restricted,
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
    // SAFETY: units handed to the waitqueue are ours (Env invariant).
    unsafe { NullUnit::of(unit) }
}

impl WaitqTrait for Waitq {
    type Unit = Unit;

    fn head(&self, class: Class) -> Option<Unit> {
        self.list(class).get().first().map(unit_of)
    }

    fn next(&self, unit: Unit) -> Option<Unit> {
        let nvc = nvc_of(unit);
        // SAFETY: `unit` is queued (trait contract), on the list of its class.
        unsafe { self.list(class_of(nvc)).get().next(nvc.ptr()) }.map(unit_of)
    }

    fn class(&self, unit: Unit) -> Class {
        class_of(nvc_of(unit))
    }

    fn seq(&self, unit: Unit) -> u64 {
        nvc_of(unit).seq.load(Relaxed)
    }

    fn push_back(&self, unit: Unit, class: Class) {
        let nvc = nvc_of(unit);
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        nvc.seq.store(seq, Relaxed);
        nvc.queued_at.store(time::now(), Relaxed);
        nvc.restricted.store(class == Class::Restricted, Relaxed);
        // SAFETY: our unit's NullUnit; it stays alive and in place until
        // removed (remove_unit precedes free_udata), and it is not queued
        // (the policy only pushes units it found unqueued).
        unsafe { self.list(class).get_mut().push_back(nvc.ptr()) };
    }

    fn remove(&self, unit: Unit) {
        let nvc = nvc_of(unit);
        // SAFETY: our unit's NullUnit, on the list of its class or on none.
        unsafe { self.list(class_of(nvc)).get_mut().remove(nvc.ptr()) };
    }

    fn reclassify(&self, unit: Unit, class: Class) {
        let nvc = nvc_of(unit);
        if !nvc.waitq_elem.is_linked() || class_of(nvc) == class {
            return;
        }
        // SAFETY: queued, on the list of its class.
        unsafe { self.list(class_of(nvc)).get_mut().remove(nvc.ptr()) };
        // INVARIANT: back in enqueue order, before the first younger unit.
        let seq = nvc.seq.load(Relaxed);
        let mut list = self.list(class).get_mut();
        let mut before = list.first();
        while let Some(b) = before {
            // SAFETY: queued NullUnits are alive.
            if unsafe { b.as_ref() }.seq.load(Relaxed) > seq {
                break;
            }
            // SAFETY: `b` is on this list.
            before = unsafe { list.next(b) };
        }
        nvc.restricted.store(class == Class::Restricted, Relaxed);
        // SAFETY: as in push_back; `before` is on this list.
        unsafe { list.insert_before(nvc.ptr(), before) };
    }

    fn is_empty(&self) -> bool {
        self.unrestricted.get().is_empty() && self.restricted.get().is_empty()
    }
}

/// A runqueue lock for `null_schedule()`'s hand-off: taken with
/// `pcpu_schedule_trylock()` (unlocked on drop), or the caller's own lock.
pub enum TryLocked {
    /// We took this lock and release it on drop. Non-null by type: a
    /// failed trylock (NULL) must never become a guard, whose drop would
    /// unlock NULL.
    Taken(NonNull<bindings::spinlock_t>),
    /// The unit's lock is the one the caller already holds.
    AlreadyHeld,
}

impl Drop for TryLocked {
    fn drop(&mut self) {
        if let TryLocked::Taken(lock) = *self {
            // SAFETY: we hold this lock (trylock succeeded).
            unsafe { bindings::rust_helper_spin_unlock(lock.as_ptr()) };
        }
    }
}

/// `{ uint16_t unit, dom; uint32_t cpu; }`: PICKED_CPU, (DE)ASSIGN.
#[repr(C)]
struct TrcUnitCpu {
    unit: u16,
    dom: u16,
    cpu: u32,
}

/// `{ uint16_t unit, dom; uint16_t cpu, new_cpu; }`: MIGRATE.
#[repr(C)]
struct TrcMigrate {
    unit: u16,
    dom: u16,
    cpu: u16,
    new_cpu: u16,
}

/// `{ uint16_t tasklet, cpu; int16_t unit, dom; }`: SCHEDULE.
#[repr(C)]
struct TrcSchedule {
    tasklet: u16,
    cpu: u16,
    unit: i16,
    dom: i16,
}

fn trc_unit_cpu(unit: Unit, cpu: u32) -> TrcUnitCpu {
    TrcUnitCpu {
        unit: unit.id() as u16,
        dom: unit.domain().id(),
        cpu,
    }
}

impl Env for XenEnv<'_> {
    type Unit = Unit;
    type Mask = CpuMask;
    type Free = AtomicMask<MASK_WORDS>;
    type Waitq = Waitq;
    type RunqGuard = TryLocked;

    fn nr_cpu_ids(&self) -> u32 {
        self.nr()
    }

    fn affinity(&self, unit: Unit) -> Affinity<'_, CpuMask> {
        let span = self.prv().span;
        debug_assert!(
            span == Span::new(self.nr(), MASK_WORDS),
            "nr_cpu_ids changed after the scheduler was initialised"
        );
        Affinity::with_span(
            unit.hard_affinity(),
            unit.soft_affinity(),
            unit.soft_aff_effective(),
            unit.domain().pool_mask(),
            self.nr(),
            span,
        )
    }

    fn is_online(&self, unit: Unit) -> bool {
        unit.is_online()
    }

    fn is_runnable(&self, unit: Unit) -> bool {
        unit.is_runnable()
    }

    #[inline(always)]
    fn runnable_state(&self, unit: Unit) -> bool {
        unit.runnable_state()
    }

    fn master(&self, unit: Unit) -> u32 {
        unit.master()
    }

    fn set_res(&self, unit: Unit, cpu: u32) {
        unit.set_res(cpu)
    }

    fn curr_on_cpu(&self, cpu: u32) -> Option<Unit> {
        Resource::of(cpu).curr()
    }

    fn resource_master(&self, cpu: u32) -> u32 {
        Resource::of(cpu).master_cpu()
    }

    fn random(&self) -> u32 {
        // SAFETY: get_random() has no precondition.
        unsafe { bindings::get_random() }
    }

    fn slot(&self, cpu: u32) -> Option<Unit> {
        self.pcpu(cpu).get()
    }

    fn set_slot(&self, cpu: u32, unit: Option<Unit>) {
        self.pcpu(cpu).set(unit)
    }

    fn owned_slot(&self, cpu: u32) -> Option<Option<Unit>> {
        let sr = Resource::of(cpu);
        let npc = sr.sched_priv().cast::<NullPcpu>();
        // schedule_cpu_rm() sets sched_priv to NULL (and the scheduler to
        // the idle one) under the pCPU's lock, and only later calls our
        // deinit_pdata, which clears the `cpus` bit.
        if !self.prv().cpus.test(cpu) || sr.scheduler() != self.ops || npc.is_null() {
            return None;
        }
        // Xen frees a NullPcpu only after schedule_cpu_rm() unhooked it.
        // SAFETY: non-NULL sched_priv of our pCPU: our NullPcpu; the caller
        // holds its runqueue lock, under which it is unhooked.
        Some(unsafe { &*npc }.get())
    }

    fn free(&self) -> &AtomicMask<MASK_WORDS> {
        &self.prv().cpus_free
    }

    fn mark_free(&self, cpu: u32, free: bool) {
        if free {
            self.prv().cpus_free.set(cpu)
        } else {
            self.prv().cpus_free.clear(cpu)
        }
    }

    fn is_queued(&self, unit: Unit) -> bool {
        self.nvc(unit).waitq_elem.is_linked()
    }

    fn with_waitq<R>(&self, f: impl FnOnce(&Waitq) -> R) -> R {
        let wq = self.prv().waitq.lock(self.irqs);
        f(&wq)
    }

    fn trylock_master(&self, unit: Unit, held: &[u32]) -> Option<TryLocked> {
        // null.c asserts the unit's lock is not ours; it can be (a unit
        // woken on its free pCPU outside its soft affinity waits, and only
        // that pCPU may be free): then we already hold what vcpu_wake()
        // would hold, and a trylock could only fail, forever. Compared as
        // lock pointers: with sched-gran > 1 several pCPUs share one.
        let lock = unit.res().schedule_lock();
        if held
            .iter()
            .any(|&cpu| Resource::of(cpu).schedule_lock() == lock)
        {
            return Some(TryLocked::AlreadyHeld);
        }
        // SAFETY: `unit.master()` is a valid pCPU with a resource.
        let lock = unsafe { bindings::rust_helper_pcpu_schedule_trylock(unit.master()) };
        // Not `then_some(TryLocked::Taken(lock))`: that builds the guard
        // eagerly and, on failure, drops it, unlocking NULL (seen: a page
        // fault at 0 under contention).
        NonNull::new(lock).map(TryLocked::Taken)
    }

    fn raise_softirq(&self, cpu: u32) {
        // SAFETY: `cpu` is a valid pCPU; raising a softirq is IRQ-safe.
        unsafe { bindings::cpu_raise_softirq(cpu, gcc::SCHEDULE_SOFTIRQ as u32) };
    }

    fn raise_softirq_mask(&self, scratch_cpu: u32, nwords: usize, word: impl Fn(usize) -> u64) {
        // SAFETY: we hold `scratch_cpu`'s runqueue lock (policy contract), so
        // its scratch mask is ours to use, as null.c uses it.
        let scratch = unsafe { bindings::rust_helper_cpumask_scratch_cpu(scratch_cpu) };
        for i in 0..MASK_WORDS {
            let w = if i < nwords { word(i) } else { 0 };
            // SAFETY: `i` indexes the scratch mask's words; exclusive use.
            unsafe { (*scratch).bits[i] = w as _ };
        }
        // SAFETY: a valid mask; raising softirqs is IRQ-safe.
        unsafe { bindings::cpumask_raise_softirq(scratch, gcc::SCHEDULE_SOFTIRQ as u32) };
    }

    #[inline(always)]
    fn event(&self, event: Event<Unit>) {
        // The common case costs what C's `if ( unlikely(tb_init_done) )`
        // does: one load and branch. Debug builds also print the
        // (de)assignments, as null.c's dprintk()s do; every build warns of
        // a unit that has to wait (null.c: debug builds only).
        let printed = matches!(event, Event::Assign { .. } | Event::Deassign { .. });
        let waits = matches!(
            event,
            Event::NotAssigned { .. } | Event::NotAssignedOnWake { .. }
        );
        if trace::enabled() || (cfg!(xen_debug) && printed) || waits {
            self.event_slow(event);
        }
    }

    #[inline(always)]
    fn tracing(&self) -> bool {
        trace::enabled()
    }

    fn stat(&self, stat: Stat) {
        perfc::crank(XenStat::Policy(stat));
    }

    #[inline(always)]
    fn stat_with(&self, which: impl FnOnce() -> Stat) {
        // Counters off: the choice is not made (its helper calls are not
        // free for the compiler to drop, as C's inlines are).
        if cfg!(xen_perf_counters) {
            self.stat(which());
        }
    }
}

impl XenEnv<'_> {
    /// Trace records and debug messages of an [`Event`]: out of line, off
    /// the hot paths.
    #[cold]
    #[inline(never)]
    fn event_slow(&self, event: Event<Unit>) {
        match event {
            Event::PickedCpu { unit, cpu } => {
                if trace::enabled() {
                    trace::record(gcc::TRC_SNULL_PICKED_CPU, &trc_unit_cpu(unit, cpu));
                }
            }
            Event::Assign { unit, cpu } => {
                dprintk!(
                    XENLOG_G_INFO,
                    "%d <-- %pdv%d\n",
                    cpu,
                    unit.domain().as_ptr(),
                    unit.id()
                );
                if trace::enabled() {
                    trace::record(gcc::TRC_SNULL_UNIT_ASSIGN, &trc_unit_cpu(unit, cpu));
                }
            }
            Event::Deassign { unit, cpu } => {
                dprintk!(
                    XENLOG_G_INFO,
                    "%d <-- NULL (%pdv%d)\n",
                    cpu,
                    unit.domain().as_ptr(),
                    unit.id()
                );
                if trace::enabled() {
                    trace::record(gcc::TRC_SNULL_UNIT_DEASSIGN, &trc_unit_cpu(unit, cpu));
                }
            }
            Event::Migrate { unit, from, to } => {
                if trace::enabled() {
                    let d = TrcMigrate {
                        unit: unit.id() as u16,
                        dom: unit.domain().id(),
                        cpu: from as u16,
                        new_cpu: to as u16,
                    };
                    trace::record(gcc::TRC_SNULL_MIGRATE, &d);
                }
            }
            Event::Schedule {
                cpu,
                tasklet,
                assigned,
            } => {
                if trace::enabled() {
                    let (unit, dom) = match assigned {
                        None => (-1, -1),
                        Some(u) => (u.id() as i16, u.domain().id() as i16),
                    };
                    let d = TrcSchedule {
                        tasklet: tasklet as u16,
                        cpu: cpu as u16,
                        unit,
                        dom,
                    };
                    trace::record(gcc::TRC_SNULL_SCHEDULE, &d);
                }
            }
            Event::Tasklet => {
                if trace::enabled() {
                    // trace_var(TRC_SNULL_TASKLET, 1, 0, NULL)
                    trace::record(gcc::TRC_SNULL_TASKLET, &());
                }
            }
            Event::NotAssigned { unit } | Event::NotAssignedOnWake { unit } => {
                self.warn_waiting(unit);
            }
        }
    }

    /// null.c's "WARNING: dXvY not assigned to any CPU!", in every build,
    /// naming the pool and why: no free pCPU where the unit may run (its
    /// hard affinity within its pool). Rate-limited as a guest-caused
    /// message (`XENLOG_G_WARNING`), except under
    /// `sched_null_admission=strict`, where a waiting unit means Xen gave
    /// the scheduler no way to refuse it (a pCPU left a full pool, or hard
    /// affinities share a pCPU): then it is always logged.
    fn warn_waiting(&self, unit: Unit) {
        let may = MaskBuf::and(unit.hard_affinity(), unit.domain().pool_mask());
        let strict = admission::mode() == Mode::Strict;
        let level = if strict {
            gcc::XENLOG_WARNING
        } else {
            gcc::XENLOG_G_WARNING
        };
        let why = if strict {
            c" (sched_null_admission=strict could not refuse it)"
        } else {
            c""
        };
        // SAFETY: `ops` is ours (type invariant).
        let pool = unsafe { admission::pool_id(self.ops) };
        printk!(
            "%sWARNING: %pdv%d not assigned to any CPU! cpupool %d has no free pCPU in {%*pbl} (its hard affinity & pool)%s\n",
            level.as_ptr(),
            unit.domain().as_ptr(),
            unit.id(),
            pool,
            self.nr() as core::ffi::c_int,
            may.as_ptr(),
            why.as_ptr()
        );
    }
}
