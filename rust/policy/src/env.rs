//! What the policy sees of Xen ([`Env`]), and what it reports to it
//! ([`Event`], [`Stat`]).

use crate::affinity::Affinity;
use crate::mask::Bits;
use crate::waitq::Waitq;

/// Something the scheduler reports: a xentrace record and/or a debug log
/// line of null.c.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<U> {
    /// `TRC_SNULL_PICKED_CPU`.
    PickedCpu {
        /// The unit placed.
        unit: U,
        /// The pCPU chosen.
        cpu: u32,
    },
    /// `TRC_SNULL_UNIT_ASSIGN` and "`cpu` <-- dXvY".
    Assign {
        /// The unit assigned.
        unit: U,
        /// Its pCPU.
        cpu: u32,
    },
    /// `TRC_SNULL_UNIT_DEASSIGN` and "`cpu` <-- NULL (dXvY)".
    Deassign {
        /// The unit removed from the pCPU.
        unit: U,
        /// The pCPU now free.
        cpu: u32,
    },
    /// `TRC_SNULL_MIGRATE`.
    Migrate {
        /// The unit.
        unit: U,
        /// Its pCPU before.
        from: u32,
        /// The pCPU it is sent to.
        to: u32,
    },
    /// `TRC_SNULL_SCHEDULE`.
    Schedule {
        /// The pCPU running the scheduler (`smp_processor_id()`).
        cpu: u32,
        /// Whether tasklet work is pending.
        tasklet: bool,
        /// The unit assigned to the resource, if any.
        assigned: Option<U>,
    },
    /// `TRC_SNULL_TASKLET`.
    Tasklet,
    /// "WARNING: dXvY not assigned to any CPU!" from insert and migrate.
    NotAssigned {
        /// The unit left waiting.
        unit: U,
    },
    /// The same warning from wake, which null.c prints with `d%dv%d`.
    NotAssignedOnWake {
        /// The unit left waiting.
        unit: U,
    },
}

/// The `SCHED_STAT_CRANK` counters null.c increments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // Each is the Xen perf counter of the same name.
pub enum Stat {
    UnitInsert,
    UnitRemove,
    UnitWakeRunning,
    UnitWakeOnrunq,
    UnitWakeRunnable,
    UnitWakeNotRunnable,
    UnitSleep,
    MigrateRunning,
    MigrateOnRunq,
    Migrated,
    Schedule,
}

/// What the scheduler sees of Xen, and the state it owns.
///
/// The hypervisor layer implements this over Xen's structures; the host
/// model implements it over plain data. Methods take `&self`: the state is
/// shared between pCPUs and its protection is by lock, as documented per
/// method.
pub trait Env {
    /// A unit handle (`struct sched_unit *`).
    type Unit: Copy + Eq;
    /// A CPU mask of Xen (`cpumask_t`).
    type Mask: Bits + ?Sized;
    /// The mask of free pCPUs.
    type Free: Bits + ?Sized;
    /// The waitqueue, as seen with its lock held.
    type Waitq: Waitq<Unit = Self::Unit>;
    /// Proof that a runqueue lock taken with [`Env::trylock_master`] is held;
    /// dropping it unlocks.
    type RunqGuard;

    /// The affinity masks of a unit. Caller holds the unit's runqueue lock
    /// or the waitqueue lock (as null.c does when scanning the waitqueue).
    fn affinity(&self, unit: Self::Unit) -> Affinity<'_, Self::Mask>;
    /// `is_unit_online()`.
    fn is_online(&self, unit: Self::Unit) -> bool;
    /// `unit_runnable()`.
    fn is_runnable(&self, unit: Self::Unit) -> bool;
    /// `unit_runnable_state()`: also records each vCPU's next run state.
    fn runnable_state(&self, unit: Self::Unit) -> bool;
    /// `sched_unit_master()`.
    fn master(&self, unit: Self::Unit) -> u32;
    /// `sched_set_res(unit, get_sched_res(cpu))`.
    fn set_res(&self, unit: Self::Unit, cpu: u32);
    /// `curr_on_cpu()`: the unit running on `cpu`, possibly the idle unit
    /// (which is never a unit the policy is asked about).
    fn curr_on_cpu(&self, cpu: u32) -> Option<Self::Unit>;
    /// `sched_get_resource_cpu()`.
    fn resource_master(&self, cpu: u32) -> u32;
    /// `get_random()`.
    fn random(&self) -> u32;

    /// The unit assigned to `cpu` (`npc->unit`); caller holds `cpu`'s
    /// runqueue lock (or the waitqueue lock, for a racy read as in null.c).
    fn slot(&self, cpu: u32) -> Option<Self::Unit>;
    /// Set `npc->unit` of `cpu`; caller holds `cpu`'s runqueue lock.
    fn set_slot(&self, cpu: u32, unit: Option<Self::Unit>);
    /// The pCPUs with no unit (`prv->cpus_free`).
    fn free(&self) -> &Self::Free;
    /// Mark `cpu` free or not; caller holds `cpu`'s runqueue lock.
    fn mark_free(&self, cpu: u32, free: bool);
    /// Whether the unit is in the waitqueue (`!list_empty(&nvc->waitq_elem)`);
    /// caller holds the unit's runqueue lock.
    fn is_queued(&self, unit: Self::Unit) -> bool;
    /// Run `f` with the waitqueue lock held (which grants `&mut`).
    fn with_waitq<R>(&self, f: impl FnOnce(&mut Self::Waitq) -> R) -> R;
    /// Lock the runqueue of the unit's master pCPU, for a hand-off that is
    /// about to point the unit at another pCPU; the caller holds the
    /// runqueue locks of the pCPUs (resource masters) in `held`. `None` if
    /// `pcpu_schedule_trylock()` fails. If the unit's lock *is* one of
    /// those held, the guard just records that: null.c asserts this cannot
    /// happen in `null_schedule()`, but it does when a unit wakes on its
    /// free pCPU outside its soft affinity (see `tests/props.rs`), and
    /// trylocking a held lock would fail forever.
    fn trylock_master(&self, unit: Self::Unit, held: &[u32]) -> Option<Self::RunqGuard>;
    /// The unit assigned to `cpu` if `cpu` is (still) one of this
    /// scheduler's pCPUs, `None` if it is not: for the debug checks
    /// ([`crate::check`]), which must never dereference the private data
    /// of a pCPU Xen is taking away (`schedule_cpu_rm()` clears it before
    /// it calls `deinit_pdata`). Caller holds `cpu`'s runqueue lock.
    fn owned_slot(&self, cpu: u32) -> Option<Option<Self::Unit>>;

    /// `cpu_raise_softirq(cpu, SCHEDULE_SOFTIRQ)`.
    fn raise_softirq(&self, cpu: u32);
    /// `cpumask_raise_softirq(mask, SCHEDULE_SOFTIRQ)` for the mask whose
    /// words are `word(0..nwords)`. Caller holds `scratch_cpu`'s runqueue
    /// lock, so that pCPU's scratch mask may be used to build it.
    fn raise_softirq_mask(&self, scratch_cpu: u32, nwords: usize, word: impl Fn(usize) -> u64);
    /// Report a trace record / log line.
    fn event(&self, event: Event<Self::Unit>);
    /// Whether reporting an [`Event::Schedule`] or [`Event::Tasklet`] has
    /// any effect (xentrace is on); when it has none, [`crate::hooks::schedule`] may skip
    /// building them.
    #[inline]
    fn tracing(&self) -> bool {
        true
    }
    /// `SCHED_STAT_CRANK` of the counter `which` names. `which` only runs
    /// if counters are kept at all: without `CONFIG_PERF_COUNTERS`, C's
    /// compiler drops the crank and any work to choose the counter (as in
    /// `wake`), and so must the implementation. `which` must have no
    /// effect besides its result.
    fn stat(&self, which: impl FnOnce() -> Stat);
}
