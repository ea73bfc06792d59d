//! The null scheduler's `struct scheduler` hooks, as safe functions.
//!
//! Each hook takes the handles its trampoline made of Xen's pointers, takes
//! the locks null.c takes, and calls the policy (`null_policy::hooks`);
//! allocation hooks return `Result`/`Option`, which the trampolines turn
//! into Xen's conventions. Decisions live in the policy crate. The
//! exported `extern "C"` trampolines are at the end of the file: each body
//! is [`sched_hook!`], the conversion of its kind of hook
//! (rust/xen/hook.rs).

use core::ffi::{c_int, c_uint, c_void};
use core::ptr::NonNull;

use null_policy::hooks::{self as policy, Insert, Next, Stat};

use crate::sched::admission;
use crate::sched::check;
use crate::sched::data::{NullDom, NullPcpu, NullPrivate, NullUnit};
use crate::sched::env::XenEnv;
use crate::xen::alloc::{AllocError, XBox};
use crate::xen::cpumask::CpuMask;
use crate::xen::ffi::{
    cpumask_t, domain, s_time_t, sched_resource, sched_unit, scheduler, spinlock_t,
};
use crate::xen::hook::{sched_hook, Ops};
use crate::xen::perfc::{self, XenStat};
use crate::xen::printk::printk;
use crate::xen::runq::{RunqHeld, UnitLockIrq};
use crate::xen::sched_if::{Domain, Resource, Unit};
use crate::xen::smp;

/// Our scheduler, as the hooks see it.
type NullOps<'a> = Ops<'a, NullPrivate>;

/// `init`: allocate the private data.
#[inline(always)]
fn init() -> Result<XBox<NullPrivate>, AllocError> {
    printk!("Initializing null scheduler\nWARNING: This is experimental software in development.\nUse at your own risk.\n");
    printk!("null: Rust implementation\n");
    NullPrivate::try_new(smp::nr_cpu_ids())
}

/// `deinit`: free the private data.
#[inline(always)]
fn deinit(prv: Option<XBox<NullPrivate>>) {
    drop(prv);
}

/// `alloc_pdata`.
#[inline(always)]
fn alloc_pdata(_cpu: u32) -> Result<XBox<NullPcpu>, AllocError> {
    XBox::try_new(NullPcpu::new())
}

/// `free_pdata`.
#[inline(always)]
fn free_pdata(pcpu: Option<XBox<NullPcpu>>) {
    drop(pcpu);
}

/// `deinit_pdata`: the pCPU leaves the scheduler.
#[inline(always)]
fn deinit_pdata(ops: NullOps<'_>, npc: &NullPcpu, cpu: u32) {
    let prv = ops.data();
    policy::deinit_pdata(&prv.cpus, &prv.cpus_free, cpu, |u| npc.set(u));
}

/// `switch_sched`: `cpu` (resource `sr`) joins this scheduler (its idle
/// unit's data is `nvc`, its pCPU data `npc`); returns its runqueue lock.
#[inline(always)]
fn switch_sched(
    ops: NullOps<'_>,
    cpu: u32,
    sr: Resource,
    npc: &NullPcpu,
    nvc: &NullUnit,
) -> *mut spinlock_t {
    debug_assert!(nvc.unit.is_idle(), "is_idle_unit(nvc->unit)");
    // Xen holds the (maybe not yet right) runqueue lock, IRQs off.
    debug_assert!(
        !crate::xen::irq::local_irq_is_enabled(),
        "!local_irq_is_enabled()"
    );
    let prv = ops.data();
    policy::init_pdata(&prv.cpus, &prv.cpus_free, cpu, |u| npc.set(u));
    sr.own_lock()
}

/// `alloc_udata`: `None` on failure, or when admission control refuses
/// the unit (`sched_null_admission=strict` and the pool is full).
#[inline(always)]
fn alloc_udata(ops: NullOps<'_>, unit: Unit) -> Option<XBox<NullUnit>> {
    // Idle units are never counted; nor is the private data looked at for
    // them (the boot scheduler allocates pCPU 0's before Pool-0 exists).
    let admitted = !unit.is_idle();
    let prv = if admitted {
        let prv = ops.data();
        let dying = unit.domain().is_dying();
        if let Err(r) = prv.admitted.admit(admission::mode(), prv.capacity(), dying) {
            admission::refused(ops, unit, r);
            return None;
        }
        Some(prv)
    } else {
        None
    };
    match XBox::try_new(NullUnit {
        waitq_elem: Default::default(),
        restricted: Default::default(),
        seq: Default::default(),
        queued_at: Default::default(),
        admitted,
        unit,
    }) {
        Ok(b) => {
            perfc::crank(XenStat::UnitAlloc);
            Some(b)
        }
        Err(AllocError) => {
            if let Some(prv) = prv {
                prv.admitted.release();
            }
            None
        }
    }
}

/// `free_udata`.
#[inline(always)]
fn free_udata(ops: NullOps<'_>, nvc: Option<XBox<NullUnit>>) {
    if let Some(nvc) = nvc {
        debug_assert!(!nvc.waitq_elem.is_linked(), "freeing a queued unit");
        if nvc.admitted {
            ops.data().admitted.release();
        }
        drop(nvc);
    }
}

/// `alloc_domdata`: the domain's data, on the private data's list.
#[inline(always)]
fn alloc_domdata(ops: NullOps<'_>, dom: Domain) -> Result<NonNull<NullDom>, AllocError> {
    let ndom = XBox::into_raw(XBox::try_new(NullDom {
        ndom_elem: Default::default(),
        dom,
    })?);
    let mut domains = ops.data().domains.lock_irqsave();
    // SAFETY: a fresh node, whose box free_domdata takes back only after
    // removing it from the list.
    unsafe { domains.push_back(ndom) };
    Ok(ndom)
}

/// `free_domdata` (nothing for NULL).
#[inline(always)]
fn free_domdata(ops: NullOps<'_>, ndom: Option<XBox<NullDom>>) {
    let Some(ndom) = ndom else {
        return;
    };
    {
        let mut domains = ops.data().domains.lock_irqsave();
        // SAFETY: our node, put on this list by alloc_domdata.
        unsafe { domains.remove(NonNull::from(&*ndom)) };
    }
    drop(ndom);
}

/// `insert_unit`.
#[inline(always)]
fn insert(ops: NullOps<'_>, u: Unit) {
    debug_assert!(!u.is_idle(), "!is_idle_unit(unit)");

    let lock = UnitLockIrq::new(u);
    {
        // SAFETY: the unit's runqueue lock is held (relocked by the
        // policy, through the guard, whenever the unit moves).
        let env = unsafe { XenEnv::new(ops, lock.held()) };
        if policy::insert(env, u, || lock.relock()) == Insert::Offline {
            return;
        }
        check::after_hook(env, &[u.master()]);
    }
    drop(lock);
    perfc::crank(XenStat::Policy(Stat::UnitInsert));
}

/// `remove_unit`.
#[inline(always)]
fn remove(ops: NullOps<'_>, u: Unit) {
    debug_assert!(!u.is_idle(), "!is_idle_unit(unit)");
    let lock = UnitLockIrq::new(u);
    // SAFETY: the unit's runqueue lock is held.
    let env = unsafe { XenEnv::new(ops, lock.held()) };
    policy::remove(env, u);
    check::after_hook(env, &[u.master()]);
}

/// `wake` (`vcpu_wake()`, the unit's runqueue lock held, IRQs off).
#[inline(always)]
fn wake(ops: NullOps<'_>, u: Unit, held: RunqHeld<'_>) {
    debug_assert!(!u.is_idle(), "!is_idle_unit(unit)");
    // SAFETY: `held` is the unit's runqueue lock (the hook's contract).
    let env = unsafe { XenEnv::new(ops, held) };
    policy::wake(env, u);
    check::after_hook(env, &[u.master()]);
}

/// `sleep` (`vcpu_sleep_nosync()`, the unit's runqueue lock held, IRQs
/// off).
#[inline(always)]
fn sleep(ops: NullOps<'_>, u: Unit, held: RunqHeld<'_>) {
    debug_assert!(!u.is_idle(), "!is_idle_unit(unit)");
    // SAFETY: `held` is the unit's runqueue lock (the hook's contract).
    let env = unsafe { XenEnv::new(ops, held) };
    policy::sleep(env, u);
    check::after_hook(env, &[u.master()]);
}

/// `pick_resource` (the unit's runqueue lock held, IRQs off): the pCPU.
#[inline(always)]
fn pick_resource(ops: NullOps<'_>, u: Unit, held: RunqHeld<'_>) -> u32 {
    debug_assert!(!u.is_idle(), "!is_idle_unit(unit)");
    debug_assert!(
        u.res().schedule_lock_is_locked(),
        "spin_is_locked(get_sched_res(cpu)->schedule_lock)"
    );
    // SAFETY: `held` is the unit's runqueue lock (the hook's contract).
    policy::pick_res(unsafe { XenEnv::new(ops, held) }, u)
}

/// `migrate` (the runqueue locks of the unit's pCPU and of `new_cpu`
/// held, IRQs off).
#[inline(always)]
fn migrate(ops: NullOps<'_>, u: Unit, new_cpu: u32, held: RunqHeld<'_>) {
    debug_assert!(!u.is_idle(), "!is_idle_unit(unit)");
    // SAFETY: Xen holds the runqueue locks of the unit's pCPU and of
    // `new_cpu` (the hook's contract).
    let env = unsafe { XenEnv::new(ops, held) };
    let from = u.master();
    policy::migrate(env, u, new_cpu);
    check::after_hook(env, &[from, new_cpu]);
}

/// `adjust_affinity`: Xen's `sched_set_affinity()` is about to install
/// `hard` and/or `soft` (`None`: that one stays) as the unit's affinity.
/// null.c has no such hook; ours only moves a waiting unit between the
/// waitqueue's two lists, keeping its FIFO position: nothing is placed.
#[inline(always)]
fn adjust_affinity(ops: NullOps<'_>, u: Unit, hard: Option<&CpuMask>, soft: Option<&CpuMask>) {
    // Idle units (sched_init_vcpu()) may carry another scheduler's data.
    if u.is_idle() {
        return;
    }
    // SAFETY: a non-idle unit of ours carries our NullUnit.
    let nvc = unsafe { NullUnit::of(u) };
    // Not queued: nothing to do. Only a holder of the unit's runqueue lock
    // queues it, and the caller holds that lock or has not inserted the
    // unit; a hand-off may dequeue it meanwhile, which the policy handles.
    if !nvc.waitq_elem.is_linked() {
        return;
    }
    // SAFETY: a queued unit is inserted, so Xen holds its runqueue lock,
    // taken _irq/_irqsave (the hook's contract), which the policy needs.
    let env = unsafe { XenEnv::new(ops, RunqHeld::assume()) };
    policy::adjust_affinity(env, u, hard, soft);
}

/// `null_unit_check()`: debug-build consistency of a unit and its data.
#[cfg(xen_debug)]
fn unit_check(u: Unit) {
    // SAFETY: every unit Xen schedules on our pCPUs has our NullUnit.
    let nvc = unsafe { NullUnit::of(u) };
    assert!(nvc.unit == u, "BUG_ON(nvc->unit != unit)");
    if u.domain().sched_priv().is_null() {
        assert!(u.is_idle(), "BUG_ON(!is_idle_unit(unit))");
    } else {
        assert!(!u.is_idle(), "BUG_ON(is_idle_unit(unit))");
    }
    perfc::crank(XenStat::UnitCheck);
}

/// `do_schedule`: pick what runs next on this pCPU's resource (its
/// runqueue lock held, IRQs off), after `prev`.
#[inline(always)]
fn schedule(ops: NullOps<'_>, prev: Unit, tasklet_work_scheduled: bool, held: RunqHeld<'_>) {
    let cur_cpu = crate::xen::smp::processor_id();
    // Read once, before the policy's stores (which the compiler cannot
    // tell apart from per-CPU data), for the idle unit at the end.
    let cur_res = Resource::of(cur_cpu);
    #[cfg(xen_debug)]
    unit_check(Unit::current());
    // SAFETY: `held` is this resource's runqueue lock (the hook's
    // contract).
    let env = unsafe { XenEnv::new(ops, held) };
    let next = policy::schedule(env, cur_cpu, tasklet_work_scheduled);
    // One tail per outcome: a unit the policy picks is never the idle
    // unit (slots and the waitqueue hold inserted units only; debug
    // builds check), so only the idle outcome reads the idle unit.
    match next {
        Next::Unit(next) => {
            debug_assert!(
                next != cur_res.idle_unit(),
                "do_schedule picked the idle unit"
            );
            #[cfg(xen_debug)]
            unit_check(next);
            prev.set_next(next);
        }
        Next::Idle => {
            let idle = cur_res.idle_unit();
            #[cfg(xen_debug)]
            unit_check(idle);
            prev.set_next(idle);
            // A unit hands over to idle: keep the idle unit from naming
            // it (a null pCPU is tickless, so idle may not be prev again
            // for long).
            if prev != idle {
                idle.point_next_at_self();
            }
        }
    }
}

// The exported trampolines, which the hook table (table.rs) names: each
// turns Xen's pointers into handles (rust/xen/hook.rs) and calls the hook
// above.

/// `init`.
///
/// # Safety
/// Called by Xen with the `struct scheduler` being initialised.
#[no_mangle]
pub unsafe extern "C" fn null_rs_init(ops: *mut scheduler) -> c_int {
    sched_hook!(init(ops) => init)
}

/// `deinit`.
///
/// # Safety
/// Called by Xen once, after `init`, when all pCPUs and domains have left
/// the scheduler.
#[no_mangle]
pub unsafe extern "C" fn null_rs_deinit(ops: *mut scheduler) {
    sched_hook!(deinit(ops) => deinit)
}

/// `alloc_pdata`: `ERR_PTR(-ENOMEM)` on failure.
///
/// # Safety
/// Called by Xen.
#[no_mangle]
pub unsafe extern "C" fn null_rs_alloc_pdata(_ops: *const scheduler, _cpu: c_int) -> *mut c_void {
    sched_hook!(alloc_pdata(_cpu) => alloc_pdata)
}

/// `free_pdata`.
///
/// # Safety
/// `pcpu` is NULL or from our `alloc_pdata`, no longer in use.
#[no_mangle]
pub unsafe extern "C" fn null_rs_free_pdata(
    _ops: *const scheduler,
    pcpu: *mut c_void,
    _cpu: c_int,
) {
    sched_hook!(free_pdata(pcpu) => free_pdata)
}

/// `deinit_pdata`.
///
/// # Safety
/// Called by Xen with our initialised scheduler and the pCPU's
/// `alloc_pdata` data, which it frees only afterwards.
#[no_mangle]
pub unsafe extern "C" fn null_rs_deinit_pdata(
    ops: *const scheduler,
    pcpu: *mut c_void,
    cpu: c_int,
) {
    sched_hook!(deinit_pdata(ops, pcpu, cpu) => deinit_pdata)
}

/// `switch_sched`: returns the pCPU's runqueue lock.
///
/// # Safety
/// Called by Xen from `schedule_cpu_add()`, holding `cpu`'s runqueue lock
/// with IRQs off, with our initialised scheduler, our `alloc_pdata` data
/// for `cpu` and our (idle unit's) `alloc_udata` data.
#[no_mangle]
pub unsafe extern "C" fn null_rs_switch_sched(
    new_ops: *mut scheduler,
    cpu: c_uint,
    pdata: *mut c_void,
    vdata: *mut c_void,
) -> *mut spinlock_t {
    sched_hook!(switch_sched(new_ops, cpu, pdata, vdata) => switch_sched)
}

/// `alloc_udata`: `NULL` on failure or refusal.
///
/// # Safety
/// Called by Xen with one of our initialised schedulers and a live unit
/// (for `sched_move_domain()`, a unit not yet in use whose domain and id
/// are set).
#[no_mangle]
pub unsafe extern "C" fn null_rs_alloc_udata(
    ops: *const scheduler,
    unit_ptr: *mut sched_unit,
    _dd: *mut c_void,
) -> *mut c_void {
    sched_hook!(alloc_udata(ops, unit_ptr) => alloc_udata)
}

/// `free_udata`.
///
/// # Safety
/// `priv_` is NULL or from the `alloc_udata` of scheduler `ops`, its unit
/// removed; `ops` still initialised (Xen frees a pool's units before the
/// pool).
#[no_mangle]
pub unsafe extern "C" fn null_rs_free_udata(ops: *const scheduler, priv_: *mut c_void) {
    sched_hook!(free_udata(ops, priv_) => free_udata)
}

/// `alloc_domdata`: `ERR_PTR(-ENOMEM)` on failure.
///
/// # Safety
/// Called by Xen with one of our initialised schedulers and a live domain.
#[no_mangle]
pub unsafe extern "C" fn null_rs_alloc_domdata(
    ops: *const scheduler,
    d: *mut domain,
) -> *mut c_void {
    sched_hook!(alloc_domdata(ops, d) => alloc_domdata)
}

/// `free_domdata`.
///
/// # Safety
/// `data` is NULL or from our `alloc_domdata`, handed back once.
#[no_mangle]
pub unsafe extern "C" fn null_rs_free_domdata(ops: *const scheduler, data: *mut c_void) {
    sched_hook!(free_domdata(ops, data) => free_domdata)
}

/// `insert_unit`.
///
/// # Safety
/// Called by Xen with one of our initialised schedulers and a live,
/// non-idle unit of one of its domains, holding no runqueue lock.
#[no_mangle]
pub unsafe extern "C" fn null_rs_unit_insert(ops: *const scheduler, unit_ptr: *mut sched_unit) {
    sched_hook!(unit(ops, unit_ptr) => insert)
}

/// `remove_unit`.
///
/// # Safety
/// Called by Xen with one of our initialised schedulers and a live,
/// non-idle unit of one of its domains, holding no runqueue lock.
#[no_mangle]
pub unsafe extern "C" fn null_rs_unit_remove(ops: *const scheduler, unit_ptr: *mut sched_unit) {
    sched_hook!(unit(ops, unit_ptr) => remove)
}

/// `wake`.
///
/// # Safety
/// Called by Xen (`vcpu_wake()`) with one of our initialised schedulers
/// and a live unit of it, holding the unit's runqueue lock with IRQs off.
#[no_mangle]
#[optimize(speed)]
pub unsafe extern "C" fn null_rs_unit_wake(ops: *const scheduler, unit_ptr: *mut sched_unit) {
    sched_hook!(locked_unit(ops, unit_ptr) => wake)
}

/// `sleep`.
///
/// # Safety
/// Called by Xen (`vcpu_sleep_nosync()`) with one of our initialised
/// schedulers and a live unit of it, holding the unit's runqueue lock with
/// IRQs off.
#[no_mangle]
#[optimize(speed)]
pub unsafe extern "C" fn null_rs_unit_sleep(ops: *const scheduler, unit_ptr: *mut sched_unit) {
    sched_hook!(locked_unit(ops, unit_ptr) => sleep)
}

/// `pick_resource`.
///
/// # Safety
/// Called by Xen with one of our initialised schedulers and a live unit
/// of it, holding the unit's runqueue lock with IRQs off.
#[no_mangle]
#[optimize(speed)]
pub unsafe extern "C" fn null_rs_res_pick(
    ops: *const scheduler,
    unit_ptr: *const sched_unit,
) -> *mut sched_resource {
    sched_hook!(pick_resource(ops, unit_ptr) => pick_resource)
}

/// `migrate`.
///
/// # Safety
/// Called by Xen with one of our initialised schedulers and a live unit
/// of it, holding the runqueue locks of the unit's pCPU and of `new_cpu`,
/// IRQs off.
#[no_mangle]
pub unsafe extern "C" fn null_rs_unit_migrate(
    ops: *const scheduler,
    unit_ptr: *mut sched_unit,
    new_cpu: c_uint,
) {
    sched_hook!(migrate(ops, unit_ptr, new_cpu) => migrate)
}

/// `adjust_affinity`.
///
/// # Safety
/// Called by Xen with one of our initialised schedulers, a live unit of
/// one of its domains and masks that are valid or NULL. Either Xen holds
/// the unit's runqueue lock with IRQs off (`vcpu_set_affinity()`,
/// `vcpu_temporary_affinity()`, `cpu_disable_scheduler()`,
/// `sched_move_domain()`), or the unit is being created and not inserted
/// yet (`sched_init_vcpu()`, no lock).
#[no_mangle]
pub unsafe extern "C" fn null_rs_adjust_affinity(
    ops: *const scheduler,
    unit_ptr: *mut sched_unit,
    hard: *const cpumask_t,
    soft: *const cpumask_t,
) {
    sched_hook!(adjust_affinity(ops, unit_ptr, hard, soft) => adjust_affinity)
}

/// `do_schedule`.
///
/// # Safety
/// Called by Xen's `schedule()` with one of our initialised schedulers,
/// holding the resource's runqueue lock with IRQs off, `prev` the unit
/// running so far.
#[no_mangle]
#[optimize(speed)]
pub unsafe extern "C" fn null_rs_schedule(
    ops: *const scheduler,
    prev: *mut sched_unit,
    _now: s_time_t,
    tasklet_work_scheduled: bool,
) {
    sched_hook!(do_schedule(ops, prev, tasklet_work_scheduled) => schedule)
}
