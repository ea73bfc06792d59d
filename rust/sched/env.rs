//! The policy core's [`Env`] over Xen's live state.

use core::ptr;

use null_policy::affinity::Affinity;
use null_policy::hooks::{Env, Event, Stat};
use null_policy::mask::{AtomicMask, Bits, Span};

use crate::sched::data::{NullPcpu, NullPrivate, NullUnit, NullWaitq};
use crate::sched::events;
use crate::xen::cpumask::{CpuMask, MASK_WORDS};

use crate::xen::hook::{Ops, Scheduler};
use crate::xen::perfc::{self, XenStat};
use crate::xen::runq::{RunqHeld, Trylocked};
use crate::xen::sched_if::{Resource, Unit};
use crate::xen::{smp, softirq};

/// The environment one hook runs in, used by reference: `&XenEnv` is the
/// hook's `ops` pointer itself (the type is transparent over
/// [`Scheduler`]), so passing it to the policy's out-of-line functions
/// costs no stack slot, and a hook whose usual path calls nothing needs no
/// stack frame.
///
/// # Invariants
/// The hook holds the runqueue locks that the policy function it calls
/// documents, for the arguments it passes (`held`, zero-sized, stands for
/// the proof of one, with interrupts off); every unit handed to the policy
/// is a live unit of this scheduler and every pCPU one of its pCPUs.
#[repr(transparent)]
pub struct XenEnv<'a> {
    sched: Scheduler<NullPrivate>,
    held: RunqHeld<'a>,
}

impl<'a> XenEnv<'a> {
    /// The environment for a hook of scheduler `ops`, under the runqueue
    /// lock `held` proves.
    ///
    /// # Safety
    /// The runqueue lock(s) held are those the policy function the caller
    /// will call requires, for the arguments it will pass (`held` says
    /// that a runqueue lock is held, not which: see docs/design.md).
    #[inline(always)]
    pub unsafe fn new(ops: Ops<'a, NullPrivate>, held: RunqHeld<'a>) -> &'a Self {
        // The proof is zero-sized: the `held` field of the place stands
        // for it from here on.
        let _ = held;
        // INVARIANT: per the contract.
        // SAFETY: `XenEnv` is transparent over `Scheduler` (the compiler
        // checks that its other field is zero-sized with alignment 1), so
        // the scheduler `ops` points at, live for 'a, is a `XenEnv` for 'a.
        unsafe { &*ptr::from_ref(ops.place()).cast::<Self>() }
    }

    /// The scheduler's private data.
    #[inline]
    pub fn prv(&self) -> &NullPrivate {
        self.ops().data()
    }

    /// Our scheduler.
    #[inline(always)]
    pub fn ops(&self) -> Ops<'_, NullPrivate> {
        self.sched.ops()
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

impl Env for XenEnv<'_> {
    type Unit = Unit;
    type Mask = CpuMask;
    type Free = AtomicMask<MASK_WORDS>;
    type Waitq = NullWaitq;
    type RunqGuard = Trylocked;

    fn affinity(&self, unit: Unit) -> Affinity<'_, CpuMask> {
        let prv = self.prv();
        debug_assert!(
            prv.span == Span::new(smp::nr_cpu_ids(), MASK_WORDS) && prv.nr == smp::nr_cpu_ids(),
            "nr_cpu_ids changed after the scheduler was initialised"
        );
        Affinity::new(
            unit.hard_affinity(),
            unit.soft_affinity(),
            unit.soft_aff_effective(),
            unit.domain().pool_mask(),
            prv.nr,
            prv.span,
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
        smp::random()
    }

    fn slot(&self, cpu: u32) -> Option<Unit> {
        self.pcpu(cpu).get()
    }

    fn set_slot(&self, cpu: u32, unit: Option<Unit>) {
        self.pcpu(cpu).set(unit)
    }

    fn owned_slot(&self, cpu: u32) -> Option<Option<Unit>> {
        // schedule_cpu_rm() sets sched_priv to NULL (and the scheduler to
        // the idle one) under the pCPU's lock, and only later calls our
        // deinit_pdata, which clears the `cpus` bit.
        if !self.prv().cpus.test(cpu) || !self.ops().serves(cpu) {
            return None;
        }
        // SAFETY: a pCPU of ours whose runqueue lock the caller holds: its
        // sched_priv is NULL (being unhooked, under that lock) or our
        // NullPcpu, which Xen frees only after unhooking it.
        unsafe { NullPcpu::of_if_hooked(cpu) }.map(NullPcpu::get)
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

    fn with_waitq<R>(&self, f: impl FnOnce(&mut NullWaitq) -> R) -> R {
        let mut wq = self.prv().waitq.lock(self.held.irqs_off());
        f(&mut wq)
    }

    fn trylock_master(&self, unit: Unit, held: &[u32]) -> Option<Trylocked> {
        Trylocked::unit_master(unit, held, self.held)
    }

    fn raise_softirq(&self, cpu: u32) {
        softirq::raise_schedule(cpu);
    }

    fn raise_softirq_mask(&self, scratch_cpu: u32, nwords: usize, word: impl Fn(usize) -> u64) {
        // SAFETY: the policy calls this holding `scratch_cpu`'s runqueue
        // lock (its contract; type invariant).
        unsafe { softirq::raise_schedule_mask(scratch_cpu, self.held, nwords, word) };
    }

    #[inline(always)]
    fn event(&self, event: Event<Unit>) {
        events::report(self, event);
    }

    #[inline(always)]
    fn tracing(&self) -> bool {
        crate::xen::trace::enabled()
    }

    #[inline(always)]
    fn stat(&self, which: impl FnOnce() -> Stat) {
        // Counters off: the choice is not made (its helper calls are not
        // free for the compiler to drop, as C's inlines are).
        if cfg!(xen_perf_counters) {
            perfc::crank(XenStat::Policy(which()));
        }
    }
}
