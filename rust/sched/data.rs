//! The null scheduler's private data, and its locking rules.
//!
//! Locking (as documented in null.c, and encoded in the types below):
//! - Scheduler lock (a.k.a. runqueue lock): Xen's per-pCPU
//!   `sched_resource` lock. Serialises assignment and deassignment of units
//!   to that pCPU: [`NullPcpu::unit`] and the pCPU's bit in
//!   [`NullPrivate::cpus_free`] change only with it held.
//! - Private lock ([`NullPrivate::domains`]): scheduler-wide; serialises the
//!   list of domains. Taken `irqsave`.
//! - Waitqueue lock ([`NullPrivate::waitq`]): scheduler-wide; serialises the
//!   list of units waiting for a pCPU. Always taken with interrupts off,
//!   nested inside a runqueue lock (or the private lock, in the dump).
//!
//! Order: private lock, then runqueue lock, then waitqueue lock:
//! - with both runqueue and private locks, the private lock comes first;
//! - with both runqueue and waitqueue locks, the runqueue lock comes first;
//! - with both private and waitqueue locks, the private lock comes first;
//! - holding a runqueue lock, never acquire the private lock;
//! - holding the waitqueue lock, never acquire a runqueue lock or the
//!   private lock (only `trylock` one, as `null_schedule()` does).
//!
//! In the types:
//! - the runqueue lock is taken only through the guards of
//!   [`crate::xen::runq`] (or held by Xen around the hook), and the policy
//!   runs in a [`XenEnv`](crate::sched::env::XenEnv) that borrows the
//!   guard's [`RunqHeld`](crate::xen::runq::RunqHeld) proof;
//! - the waitqueue lock is reachable only through [`SpinLock::lock`], which
//!   demands an [`IrqsOff`](crate::xen::irq::IrqsOff) token borrowed from
//!   the runqueue lock's proof or from the private lock's guard, so it
//!   cannot outlive the lock it nests in;
//! - the private lock only through [`SpinLock::lock_irqsave`], whose guard
//!   gives `&mut` to the domain list.

use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU64, Ordering::Relaxed};

use null_policy::admission::Admitted;
use null_policy::mask::{self, AtomicMask, Bits, Span};

use crate::list::{Links, List};
use crate::list_adapter;
use crate::xen::alloc::{AllocError, XBox, Zeroable};
use crate::xen::cpumask::MASK_WORDS;
use crate::xen::ffi::sched_unit;
use crate::xen::sched_if::{Domain, Resource, Unit};
use crate::xen::spinlock::SpinLock;

/// System-wide private data (`ops->sched_data`).
///
/// # Invariants
/// - Every unit in `waitq` is online, inserted in this scheduler, and on no
///   pCPU.
/// - A pCPU of this scheduler has its bit in `cpus_free` set iff its
///   [`NullPcpu::unit`] is null, except transiently while its runqueue lock
///   is held, and except that `null_schedule()` re-sets a bit it finds clear
///   on a pCPU with no unit (as null.c does).
///
/// `repr(C)`, the waitqueue lock first: the hooks that take it then pass
/// the private data's own address to `spin_lock()` (one register and
/// instruction fewer on `sleep`'s path than at the offset rustc chose).
#[repr(C)]
pub struct NullPrivate {
    /// Units not assigned to any pCPU (`prv->waitq`), under its own lock.
    pub waitq: SpinLock<NullWaitq>,
    /// Domains of this scheduler (`prv->ndom`), under the private lock.
    pub domains: SpinLock<List<DomAdapter>>,
    /// pCPUs without a unit (`prv->cpus_free`); each bit is changed with its
    /// pCPU's runqueue lock held, atomically, and read racily.
    pub cpus_free: AtomicMask<MASK_WORDS>,
    /// The pCPUs (resource masters) of this scheduler: set in
    /// `switch_sched`, cleared in `deinit_pdata`. Read by the debug-build
    /// invariant checks (`check.rs`).
    pub cpus: AtomicMask<MASK_WORDS>,
    /// `nr_cpu_ids`, which Xen sets before the first scheduler is
    /// initialised and never changes (x86 `set_nr_cpu_ids()` and Arm's
    /// `start_xen()` run before `scheduler_init()`): read once, in `init`;
    /// debug builds check it on every use.
    pub nr: u32,
    /// The mask words below [`NullPrivate::nr`].
    pub span: Span,
    /// The non-idle units whose data this scheduler allocated and has not
    /// freed (`sched_null_admission`, [`null_policy::admission`]).
    pub admitted: Admitted,
}

// SAFETY: every field is valid as zero bytes: the locks' `spinlock_t`s
// before `spin_lock_init` (SpinLock::new zeroes them too) around lists of
// null pointers and a zero counter, atomic masks and counters, `nr`, and
// a Span of zero words; and zero is an empty scheduler's state (both
// lists empty, no pCPU, no unit), but for `nr` and `span`, which
// `try_new` sets.
unsafe impl Zeroable for NullPrivate {}

impl NullPrivate {
    /// Private data for `nr_cpu_ids` = `nr`, in place on Xen's heap, locks
    /// initialised: empty, but for `nr` and its span (all that is not zero
    /// at first: no value is built and copied over the zeroed memory).
    pub fn try_new(nr: u32) -> Result<XBox<Self>, AllocError> {
        let prv = XBox::try_new_zeroed(|prv: &mut Self| {
            prv.nr = nr;
            prv.span = Span::new(nr, MASK_WORDS);
        })?;
        prv.domains.init();
        prv.waitq.init();
        Ok(prv)
    }

    /// How many units fit: the scheduler's pCPUs (resources), now.
    pub fn capacity(&self) -> u32 {
        mask::weight(self.span, |i| self.cpus.word(i))
    }
}

/// The waitqueue, with its lock held: null.c's single FIFO split in two
/// by [`Class`](null_policy::waitq::Class), merged back into FIFO order by
/// [`NullUnit::seq`] (see `null_policy::waitq`).
///
/// # Invariants
/// Each list is in increasing `seq` order; a unit on `unrestricted` has
/// that class for its current affinity (`adjust_affinity` moves it before
/// Xen changes the masks).
pub struct NullWaitq {
    /// Units whose hard affinity covers every pCPU and whose soft affinity
    /// is not effective, oldest first.
    pub unrestricted: List<UnitAdapter>,
    /// The other waiting units, oldest first.
    pub restricted: List<UnitAdapter>,
    /// The enqueue number the next queued unit gets (64 bits: no wrap);
    /// hence also how many times a unit was queued since `init`.
    pub next_seq: u64,
}

impl NullWaitq {
    /// Both lists empty.
    pub const fn new() -> Self {
        Self {
            unrestricted: List::new(),
            restricted: List::new(),
            next_seq: 0,
        }
    }
}

impl Default for NullWaitq {
    fn default() -> Self {
        Self::new()
    }
}

/// Physical CPU (`get_sched_res(cpu)->sched_priv`).
pub struct NullPcpu {
    /// The unit assigned to this pCPU, or null; changed under the pCPU's
    /// runqueue lock.
    pub unit: AtomicPtr<sched_unit>,
}

impl Default for NullPcpu {
    fn default() -> Self {
        Self::new()
    }
}

impl NullPcpu {
    /// A pCPU with nothing assigned.
    pub const fn new() -> Self {
        Self {
            unit: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The per-pCPU data of `cpu`.
    ///
    /// # Safety
    /// `cpu` belongs to a scheduler of ours (its resource's `sched_priv` is
    /// a `NullPcpu` from `alloc_pdata`).
    pub unsafe fn of<'a>(cpu: u32) -> &'a Self {
        // SAFETY: per the contract, sched_priv is our NullPcpu, alive until
        // free_pdata, which Xen calls only after the pCPU left us.
        unsafe { &*Resource::of(cpu).sched_priv().cast::<NullPcpu>() }
    }

    /// The per-pCPU data of `cpu`, or `None` while `schedule_cpu_rm()`
    /// unhooks it (its `sched_priv` is NULL before `deinit_pdata` runs).
    ///
    /// # Safety
    /// `cpu` belonged to a scheduler of ours, and the caller holds its
    /// runqueue lock (under which Xen unhooks the data before freeing it).
    pub unsafe fn of_if_hooked<'a>(cpu: u32) -> Option<&'a Self> {
        let npc = Resource::of(cpu).sched_priv().cast::<NullPcpu>();
        // SAFETY: non-NULL: our NullPcpu, alive while hooked (contract).
        (!npc.is_null()).then(|| unsafe { &*npc })
    }

    /// The assigned unit.
    pub fn get(&self) -> Option<Unit> {
        // SAFETY: a unit stays assigned only while it is alive: remove_unit
        // deassigns it before Xen frees it.
        unsafe { Unit::from_raw(self.unit.load(Relaxed)) }
    }

    /// Assign `unit` (or nothing).
    pub fn set(&self, unit: Option<Unit>) {
        self.unit
            .store(unit.map_or(ptr::null_mut(), Unit::as_ptr), Relaxed);
    }
}

/// Schedule unit (`unit->priv`).
pub struct NullUnit {
    /// Link in one of [`NullPrivate::waitq`]'s lists.
    pub waitq_elem: Links,
    /// Which list: the restricted one. Changed under the waitqueue lock.
    pub restricted: AtomicBool,
    /// Enqueue number (FIFO position). Changed under the waitqueue lock.
    pub seq: AtomicU64,
    /// `NOW()` when it was last queued, for the dump. Changed under the
    /// waitqueue lock.
    pub queued_at: AtomicI64,
    /// Counted in [`NullPrivate::admitted`] (every unit but idle ones).
    pub admitted: bool,
    /// The unit this belongs to.
    pub unit: Unit,
}
list_adapter!(pub UnitAdapter, NullUnit, waitq_elem);

impl NullUnit {
    /// `null_unit(unit)`.
    ///
    /// # Safety
    /// `unit` is a unit of one of our schedulers (its `priv` is a
    /// `NullUnit` from our `alloc_udata`, not yet freed).
    pub unsafe fn of<'a>(unit: Unit) -> &'a Self {
        // SAFETY: per the contract.
        unsafe { &*unit.priv_().cast::<NullUnit>() }
    }

    /// Pointer form, for the list.
    pub fn ptr(&self) -> NonNull<NullUnit> {
        NonNull::from(self)
    }
}

/// Domain (`d->sched_priv`).
pub struct NullDom {
    /// Link in [`NullPrivate::domains`].
    pub ndom_elem: Links,
    /// The domain.
    pub dom: Domain,
}
list_adapter!(pub DomAdapter, NullDom, ndom_elem);
