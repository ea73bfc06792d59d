//! The `extern "C"` hooks of the null scheduler's `struct scheduler`.
//!
//! Each hook turns Xen's pointers into handles, takes the locks null.c
//! takes, and calls the policy (`null_policy::hooks`); allocation hooks turn
//! `Result`s into Xen's conventions. Decisions live in the policy crate.

use core::ffi::{c_int, c_uint, c_void};
use core::ptr::{self, NonNull};

use null_policy::hooks::{self as policy, Insert, Next, Stat};

use crate::sched::admission;
use crate::sched::check;
use crate::sched::data::{NullDom, NullPcpu, NullPrivate, NullUnit};
use crate::sched::env::XenEnv;
use crate::xen::alloc::XBox;
use crate::xen::cpumask::CpuMask;
use crate::xen::ffi::errno::ENOMEM;
use crate::xen::ffi::{
    cpumask_t, domain, s_time_t, sched_resource, sched_unit, scheduler, spinlock_t,
};
use crate::xen::perfc::{self, XenStat};
use crate::xen::printk::printk;
use crate::xen::runq::{RunqHeld, UnitLockIrq};
use crate::xen::sched_if::{Domain, Resource, Unit};
use crate::xen::smp;

/// `ERR_PTR(-ENOMEM)`.
fn err_nomem() -> *mut c_void {
    (-(ENOMEM as isize)) as *mut c_void
}

/// A unit pointer from Xen, which is never null in the hooks that take one.
///
/// # Safety
/// `p` is a live unit for the duration of the hook.
unsafe fn unit(p: *const sched_unit) -> Unit {
    // SAFETY: per the contract.
    match unsafe { Unit::from_raw(p) } {
        Some(u) => u,
        // A literal message, not `expect`: see rust/xen/panic.rs.
        None => panic!("Xen passed a NULL unit"),
    }
}

/// The preamble of the hooks Xen calls with the unit's runqueue lock held
/// and interrupts off (wake, sleep, pick_resource, migrate): a live,
/// non-idle unit and the environment for the policy.
///
/// # Safety
/// `ops` is one of our initialised schedulers; `p` a live unit of it whose
/// runqueue lock the caller holds with interrupts off.
unsafe fn locked_unit<'a>(ops: *const scheduler, p: *const sched_unit) -> (XenEnv<'a>, Unit) {
    // SAFETY: live unit (contract).
    let u = unsafe { unit(p) };
    debug_assert!(!u.is_idle(), "!is_idle_unit(unit)");
    // SAFETY: ours, and Xen holds the unit's runqueue lock with interrupts
    // off for the hook (contract).
    (unsafe { XenEnv::new(ops, RunqHeld::assume()) }, u)
}

/// `init`: allocate the private data.
///
/// # Safety
/// Called by Xen with a `struct scheduler` copy of ours.
#[no_mangle]
pub unsafe extern "C" fn null_rs_init(ops: *mut scheduler) -> c_int {
    printk!("Initializing null scheduler\nWARNING: This is experimental software in development.\nUse at your own risk.\n");
    printk!("null: Rust implementation\n");
    let Ok(prv) = XBox::try_new(NullPrivate::new(smp::nr_cpu_ids())) else {
        return -ENOMEM;
    };
    prv.init();
    // SAFETY: `ops` is Xen's scheduler being initialised; nothing else
    // uses it yet.
    unsafe { (*ops).sched_data = XBox::into_raw(prv).as_ptr().cast() };
    0
}

/// `deinit`: free the private data.
///
/// # Safety
/// Called by Xen once all pCPUs and domains have left the scheduler.
#[no_mangle]
pub unsafe extern "C" fn null_rs_deinit(ops: *mut scheduler) {
    // SAFETY: `ops` is ours; Xen calls deinit once, after init.
    let data = unsafe { ptr::replace(&raw mut (*ops).sched_data, ptr::null_mut()) };
    if let Some(p) = NonNull::new(data.cast::<NullPrivate>()) {
        // SAFETY: the pointer init stored; nobody uses it any more.
        drop(unsafe { XBox::from_raw(p) });
    }
}

/// `alloc_pdata`: `ERR_PTR(-ENOMEM)` on failure.
///
/// # Safety
/// Called by Xen.
#[no_mangle]
pub unsafe extern "C" fn null_rs_alloc_pdata(_ops: *const scheduler, _cpu: c_int) -> *mut c_void {
    match XBox::try_new(NullPcpu::new()) {
        Ok(b) => XBox::into_raw(b).as_ptr().cast(),
        Err(_) => err_nomem(),
    }
}

/// `free_pdata`.
///
/// # Safety
/// `pcpu` is null or from our `alloc_pdata`, no longer in use.
#[no_mangle]
pub unsafe extern "C" fn null_rs_free_pdata(
    _ops: *const scheduler,
    pcpu: *mut c_void,
    _cpu: c_int,
) {
    if let Some(p) = NonNull::new(pcpu.cast::<NullPcpu>()) {
        // SAFETY: per the contract.
        drop(unsafe { XBox::from_raw(p) });
    }
}

/// `deinit_pdata`: the pCPU leaves the scheduler.
///
/// # Safety
/// Called by Xen with our private data and the pCPU's `alloc_pdata` data.
#[no_mangle]
pub unsafe extern "C" fn null_rs_deinit_pdata(
    ops: *const scheduler,
    pcpu: *mut c_void,
    cpu: c_int,
) {
    // SAFETY: `ops` is ours and initialised.
    let prv = unsafe { NullPrivate::of(ops) };
    // SAFETY: `pcpu` is our NullPcpu for `cpu` (contract).
    let npc = unsafe { NullPcpu::from_pdata(pcpu) };
    prv.cpus_free.clear(cpu as u32);
    prv.cpus.clear(cpu as u32);
    npc.set(None);
}

/// `switch_sched`: `cpu` joins this scheduler; returns its runqueue lock.
///
/// # Safety
/// Called by Xen from `schedule_cpu_add()`, IRQs off, with our `alloc_pdata`
/// and (idle unit's) `alloc_udata` data.
#[no_mangle]
pub unsafe extern "C" fn null_rs_switch_sched(
    new_ops: *mut scheduler,
    cpu: c_uint,
    pdata: *mut c_void,
    vdata: *mut c_void,
) -> *mut spinlock_t {
    let sr = Resource::of(cpu);
    // SAFETY: `new_ops` is ours and initialised.
    let prv = unsafe { NullPrivate::of(new_ops) };
    // SAFETY: `vdata` is our NullUnit for the idle unit, `pdata` our
    // NullPcpu for `cpu` (contract).
    let (nvc, npc) = unsafe { (NullUnit::from_vdata(vdata), NullPcpu::from_pdata(pdata)) };
    debug_assert!(nvc.unit.is_idle(), "is_idle_unit(nvc->unit)");

    // SAFETY: Xen holds the pCPU's runqueue lock around switch_sched.
    unsafe { sr.idle_unit().set_priv(vdata) };

    // Xen holds the (maybe not yet right) runqueue lock, IRQs off.
    debug_assert!(
        !crate::xen::irq::local_irq_is_enabled(),
        "!local_irq_is_enabled()"
    );

    // init_pdata(): the pCPU is free, with no unit.
    prv.cpus_free.set(cpu);
    prv.cpus.set(cpu);
    npc.set(None);

    sr.own_lock()
}

/// `alloc_udata`: `NULL` on failure, or when admission control refuses
/// the unit (`sched_null_admission=strict` and the pool is full).
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
    // SAFETY: live unit (contract).
    let unit = unsafe { unit(unit_ptr) };
    // Idle units are never counted; nor is the private data looked at for
    // them (the boot scheduler allocates pCPU 0's before Pool-0 exists).
    let admitted = !unit.is_idle();
    let prv = if admitted {
        // SAFETY: `ops` is ours and initialised (contract).
        let prv = unsafe { NullPrivate::of(ops) };
        let dying = unit.domain().is_dying();
        if let Err(r) = prv.admitted.admit(admission::mode(), prv.capacity(), dying) {
            // SAFETY: ours, and a live unit.
            unsafe { admission::refused(ops, unit, r) };
            return ptr::null_mut();
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
            XBox::into_raw(b).as_ptr().cast()
        }
        Err(_) => {
            if let Some(prv) = prv {
                prv.admitted.release();
            }
            ptr::null_mut()
        }
    }
}

/// `free_udata`.
///
/// # Safety
/// `priv_` is null or from the `alloc_udata` of scheduler `ops`, its unit
/// removed.
#[no_mangle]
pub unsafe extern "C" fn null_rs_free_udata(ops: *const scheduler, priv_: *mut c_void) {
    if let Some(p) = NonNull::new(priv_.cast::<NullUnit>()) {
        // SAFETY: per the contract: ours, and no longer referenced.
        let nvc = unsafe { XBox::from_raw(p) };
        debug_assert!(!nvc.waitq_elem.is_linked(), "freeing a queued unit");
        if nvc.admitted {
            // SAFETY: the scheduler that allocated it, still initialised
            // (Xen frees a pool's units before the pool).
            unsafe { NullPrivate::of(ops) }.admitted.release();
        }
        drop(nvc);
    }
}

/// `alloc_domdata`: `ERR_PTR(-ENOMEM)` on failure.
///
/// # Safety
/// Called by Xen with a live domain.
#[no_mangle]
pub unsafe extern "C" fn null_rs_alloc_domdata(
    ops: *const scheduler,
    d: *mut domain,
) -> *mut c_void {
    // SAFETY: live domain (contract).
    let Some(dom) = (unsafe { Domain::from_raw(d) }) else {
        return err_nomem();
    };
    let Ok(ndom) = XBox::try_new(NullDom {
        ndom_elem: Default::default(),
        dom,
    }) else {
        return err_nomem();
    };
    let ndom = XBox::into_raw(ndom);
    // SAFETY: `ops` is ours and initialised.
    let prv = unsafe { NullPrivate::of(ops) };
    let mut domains = prv.domains.lock_irqsave();
    // SAFETY: fresh node; stays alive until free_domdata removes it.
    unsafe { domains.push_back(ndom) };
    ndom.as_ptr().cast()
}

/// `free_domdata` (idempotent for NULL).
///
/// # Safety
/// `data` is null or from our `alloc_domdata`.
#[no_mangle]
pub unsafe extern "C" fn null_rs_free_domdata(ops: *const scheduler, data: *mut c_void) {
    let Some(ndom) = NonNull::new(data.cast::<NullDom>()) else {
        return;
    };
    // SAFETY: `ops` is ours and initialised.
    let prv = unsafe { NullPrivate::of(ops) };
    {
        let mut domains = prv.domains.lock_irqsave();
        // SAFETY: our node, on this list.
        unsafe { domains.remove(ndom) };
    }
    // SAFETY: ours, and off the list.
    drop(unsafe { XBox::from_raw(ndom) });
}

/// `insert_unit`.
///
/// # Safety
/// Called by Xen with a live, non-idle unit of a domain of ours.
#[no_mangle]
pub unsafe extern "C" fn null_rs_unit_insert(ops: *const scheduler, unit_ptr: *mut sched_unit) {
    // SAFETY: live unit (contract).
    let u = unsafe { unit(unit_ptr) };
    debug_assert!(!u.is_idle(), "!is_idle_unit(unit)");

    let lock = UnitLockIrq::new(u);
    {
        // SAFETY: ours; the unit's runqueue lock is held (relocked by the
        // policy, through the guard, whenever the unit moves).
        let env = unsafe { XenEnv::new(ops, lock.held()) };
        if policy::insert(&env, u, || lock.relock()) == Insert::Offline {
            return;
        }
        check::after_hook(&env, &[u.master()]);
    }
    drop(lock);
    perfc::crank(XenStat::Policy(Stat::UnitInsert));
}

/// `remove_unit`.
///
/// # Safety
/// Called by Xen with a live, non-idle unit of ours.
#[no_mangle]
pub unsafe extern "C" fn null_rs_unit_remove(ops: *const scheduler, unit_ptr: *mut sched_unit) {
    // SAFETY: live unit (contract).
    let u = unsafe { unit(unit_ptr) };
    debug_assert!(!u.is_idle(), "!is_idle_unit(unit)");
    let lock = UnitLockIrq::new(u);
    // SAFETY: ours; the unit's runqueue lock is held.
    let env = unsafe { XenEnv::new(ops, lock.held()) };
    policy::remove(&env, u);
    check::after_hook(&env, &[u.master()]);
}

/// `wake`.
///
/// # Safety
/// Called by Xen (`vcpu_wake()`) with the unit's runqueue lock held, IRQs off.
#[no_mangle]
#[optimize(speed)]
pub unsafe extern "C" fn null_rs_unit_wake(ops: *const scheduler, unit_ptr: *mut sched_unit) {
    // SAFETY: Xen calls wake with the unit's runqueue lock taken irqsave.
    let (env, u) = unsafe { locked_unit(ops, unit_ptr) };
    policy::wake(&env, u);
    check::after_hook(&env, &[u.master()]);
}

/// `sleep`.
///
/// # Safety
/// Called by Xen (`vcpu_sleep_nosync()`) with the unit's runqueue lock
/// held, IRQs off.
#[no_mangle]
#[optimize(speed)]
pub unsafe extern "C" fn null_rs_unit_sleep(ops: *const scheduler, unit_ptr: *mut sched_unit) {
    // SAFETY: Xen calls sleep with the unit's runqueue lock taken irqsave.
    let (env, u) = unsafe { locked_unit(ops, unit_ptr) };
    policy::sleep(&env, u);
    check::after_hook(&env, &[u.master()]);
}

/// `pick_resource`.
///
/// # Safety
/// Called by Xen with the unit's runqueue lock held, IRQs off.
#[no_mangle]
#[optimize(speed)]
pub unsafe extern "C" fn null_rs_res_pick(
    ops: *const scheduler,
    unit_ptr: *const sched_unit,
) -> *mut sched_resource {
    // SAFETY: Xen picks with the unit's runqueue lock held, IRQs off.
    let (env, u) = unsafe { locked_unit(ops, unit_ptr) };
    debug_assert!(
        u.res().schedule_lock_is_locked(),
        "spin_is_locked(get_sched_res(cpu)->schedule_lock)"
    );
    Resource::of(policy::pick_res(&env, u)).as_ptr()
}

/// `migrate`.
///
/// # Safety
/// Called by Xen with the runqueue locks of the unit's pCPU and of
/// `new_cpu` held, IRQs off.
#[no_mangle]
pub unsafe extern "C" fn null_rs_unit_migrate(
    ops: *const scheduler,
    unit_ptr: *mut sched_unit,
    new_cpu: c_uint,
) {
    // SAFETY: Xen migrates with the runqueue locks of the unit's pCPU and
    // of new_cpu held, IRQs off.
    let (env, u) = unsafe { locked_unit(ops, unit_ptr) };
    let from = u.master();
    policy::migrate(&env, u, new_cpu);
    check::after_hook(&env, &[from, new_cpu]);
}

/// `adjust_affinity`: Xen's `sched_set_affinity()` is about to install
/// `hard` and/or `soft` (`NULL`: that one stays) as the unit's affinity.
/// null.c has no such hook; ours only moves a waiting unit between the
/// waitqueue's two lists, keeping its FIFO position: nothing is placed.
///
/// # Safety
/// Called by Xen with a live unit of a domain of ours and masks that are
/// valid or NULL. Either Xen holds the unit's runqueue lock with IRQs off
/// (`vcpu_set_affinity()`, `vcpu_temporary_affinity()`,
/// `cpu_disable_scheduler()`, `sched_move_domain()`), or the unit is being
/// created and not inserted yet (`sched_init_vcpu()`, no lock).
#[no_mangle]
pub unsafe extern "C" fn null_rs_adjust_affinity(
    ops: *const scheduler,
    unit_ptr: *mut sched_unit,
    hard: *const cpumask_t,
    soft: *const cpumask_t,
) {
    // SAFETY: live unit (contract).
    let u = unsafe { unit(unit_ptr) };
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
    // SAFETY: ours; a queued unit is inserted, so Xen holds its runqueue
    // lock, taken _irq/_irqsave (contract).
    let env = unsafe { XenEnv::new(ops, RunqHeld::assume()) };
    // SAFETY: Xen's masks are valid for the call, or NULL (contract).
    let (hard, soft) = unsafe { (mask_arg(hard), mask_arg(soft)) };
    policy::adjust_affinity(&env, u, hard, soft);
}

/// A mask argument that may be NULL.
///
/// # Safety
/// `p` is NULL or a valid `cpumask_t` for `'a`.
unsafe fn mask_arg<'a>(p: *const cpumask_t) -> Option<&'a CpuMask> {
    // SAFETY: per the contract.
    (!p.is_null()).then(|| unsafe { CpuMask::from_raw(p) })
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

/// `do_schedule`: pick what runs next on this pCPU's resource.
///
/// # Safety
/// Called by Xen's `schedule()` with the resource's runqueue lock held,
/// IRQs off, `prev` the unit running so far.
#[no_mangle]
#[optimize(speed)]
pub unsafe extern "C" fn null_rs_schedule(
    ops: *const scheduler,
    prev: *mut sched_unit,
    _now: s_time_t,
    tasklet_work_scheduled: bool,
) {
    let cur_cpu = crate::xen::smp::processor_id();
    // Read once, before the policy's stores (which the compiler cannot
    // tell apart from per-CPU data), for the idle unit at the end.
    let cur_res = Resource::of(cur_cpu);
    #[cfg(xen_debug)]
    unit_check(Unit::current());
    // SAFETY: ours; Xen schedules with this resource's runqueue lock held,
    // IRQs off.
    let next = policy::schedule(
        &unsafe { XenEnv::new(ops, RunqHeld::assume()) },
        cur_cpu,
        tasklet_work_scheduled,
    );
    // SAFETY: `prev` is live for the duration of do_schedule (contract),
    // so not NULL (Xen's schedule() has just dereferenced it).
    let prev = unsafe { Unit::from_raw(prev).unwrap_unchecked() };
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
