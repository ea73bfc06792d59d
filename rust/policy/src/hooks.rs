//! The scheduler hooks of null.c, as policy over an abstract [`Env`].
//!
//! Each function here is the body of one null.c hook (or of one of its
//! helpers), in the same order of operations, so the trace records, the
//! statistics and the log lines come out in the same sequence. Locking is
//! the caller's: every function documents which runqueue lock it expects
//! to be held; the waitqueue lock is taken through [`Env::with_waitq`],
//! always inside a runqueue lock, as null.c's lock order requires.

use crate::affinity::BalanceStep;
pub use crate::env::{Env, Event, Stat};
use crate::handoff::{self, Handoff};
use crate::mask::{self, AtomicMask, Bits};
use crate::pick::{self, Slot};
pub use crate::waitq::{Class, Waitq};

fn slot_of<E: Env>(env: &E, unit: E::Unit, cpu: u32) -> Slot {
    match env.slot(cpu) {
        None => Slot::Free,
        Some(u) if u == unit => Slot::Mine,
        Some(_) => Slot::Taken,
    }
}

/// `pick_res()`: the pCPU for `unit`. Caller holds the runqueue lock of the
/// unit's current master pCPU.
///
/// Out of line: one copy serves `pick_resource` and [`insert`] (built for
/// speed it was 92 bytes larger and one instruction per pick faster).
///
/// # Panics
/// If the unit's hard affinity and its pool have no pCPU in common, which
/// Xen never lets happen (null.c would index past `nr_cpu_ids`).
#[inline(never)]
pub fn pick_res<E: Env>(env: &E, unit: E::Unit) -> u32 {
    let cpu = env.master(unit);
    let picked = pick::pick_cpu(
        &env.affinity(unit),
        cpu,
        slot_of(env, unit, cpu),
        env.free(),
        || env.random(),
    );
    let Some(new_cpu) = picked else {
        panic!("null: unit has no pCPU in its hard affinity and pool");
    };
    env.event(Event::PickedCpu { unit, cpu: new_cpu });
    new_cpu
}

/// `unit_assign()`: give `cpu` to `unit`. Caller holds `cpu`'s runqueue lock.
pub fn unit_assign<E: Env>(env: &E, unit: E::Unit, cpu: u32) {
    debug_assert!(env.is_online(unit), "is_unit_online(unit)");
    // INVARIANT: the slot, the unit's resource and the free mask change
    // together under `cpu`'s runqueue lock.
    env.set_slot(cpu, Some(unit));
    env.set_res(unit, cpu);
    env.mark_free(cpu, false);
    env.event(Event::Assign { unit, cpu });
}

/// `unit_deassign()`: take `unit` off its pCPU and hand the pCPU to the
/// first suitable waiting unit. Caller holds the runqueue locks of the
/// pCPUs in `held`, the unit's master pCPU among them (`migrate` holds its
/// target's too). Returns whether a pCPU was tickled.
///
/// Unlike null.c, the waiter's own runqueue lock is trylocked before the
/// waiter is pointed at the pCPU, as `null_schedule()` does: a wake, sleep
/// or affinity change of the waiter may be running on another pCPU under
/// that lock, and Xen's `unit_schedule_lock()` only stays valid if a unit's
/// resource changes with its lock held. If the trylock fails, the pCPU
/// stays free and is tickled: its `null_schedule()` retries the hand-off,
/// and no younger waiter takes the pCPU meanwhile.
pub fn unit_deassign<E: Env>(env: &E, unit: E::Unit, held: &[u32]) -> bool {
    let cpu = env.master(unit);
    debug_assert!(held.contains(&cpu), "unit_deassign without the unit's lock");
    debug_assert!(
        !env.is_queued(unit),
        "list_empty(&null_unit(unit)->waitq_elem)"
    );
    debug_assert!(env.slot(cpu) == Some(unit), "npc->unit == unit");
    debug_assert!(
        !env.free().test(cpu),
        "!cpumask_test_cpu(cpu, &prv->cpus_free)"
    );

    // INVARIANT: slot and free mask change together.
    env.set_slot(cpu, None);
    env.mark_free(cpu, true);
    env.event(Event::Deassign { unit, cpu });

    env.with_waitq(|wq| {
        let (outcome, guard) = offer_trylocked(env, wq, cpu, held);
        match outcome {
            Handoff::Taken(w) => {
                wq.remove(w);
                unit_assign(env, w, cpu);
                drop(guard);
                env.raise_softirq(cpu);
                true
            }
            Handoff::Contended => {
                // The free pCPU's null_schedule() retries the hand-off.
                env.raise_softirq(cpu);
                true
            }
            Handoff::NoneSuitable => false,
        }
    })
}

/// [`handoff::offer`] of `cpu`, taking each candidate's runqueue lock with
/// [`Env::trylock_master`] (the caller holds those of `held`): the outcome
/// and, if a unit was taken, the guard to drop once it points at `cpu`.
#[inline(always)]
fn offer_trylocked<E: Env>(
    env: &E,
    wq: &E::Waitq,
    cpu: u32,
    held: &[u32],
) -> (Handoff<E::Unit>, Option<E::RunqGuard>) {
    let mut guard = None;
    let outcome = handoff::offer(
        wq,
        |w| env.affinity(w),
        cpu,
        |w| {
            guard = env.trylock_master(w, held);
            guard.is_some()
        },
    );
    (outcome, guard)
}

/// null.c's `init_pdata()` (inline in `switch_sched`): `cpu` joins the
/// scheduler (`ours`), free, with no unit in `set_slot`'s slot (the `pdata`
/// Xen passes, which it hooks into the pCPU only after `switch_sched`
/// returns, so [`Env::set_slot`] cannot reach it). Xen holds the pCPU's
/// runqueue lock.
pub fn init_pdata<const W: usize, U>(
    ours: &AtomicMask<W>,
    free: &AtomicMask<W>,
    cpu: u32,
    set_slot: impl FnOnce(Option<U>),
) {
    free.set(cpu);
    ours.set(cpu);
    set_slot(None);
}

/// `deinit_pdata`: `cpu` leaves the scheduler (`ours`); not free, and its
/// slot (the `pdata` Xen passes, already unhooked from the pCPU) empty.
/// Every unit left it before (`cpu_disable_scheduler()`).
pub fn deinit_pdata<const W: usize, U>(
    ours: &AtomicMask<W>,
    free: &AtomicMask<W>,
    cpu: u32,
    set_slot: impl FnOnce(Option<U>),
) {
    free.clear(cpu);
    ours.clear(cpu);
    set_slot(None);
}

/// Where `insert_unit` got after placing the unit and relocking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// The unit got its pCPU.
    Assigned,
    /// No allowed pCPU is free: the unit waits.
    Queued,
    /// The unit's vCPU is offline: nothing to place ([`insert`] only).
    Offline,
}

/// `null_unit_insert()`. The caller holds the unit's runqueue lock, taken
/// IRQs off; `relock` releases it and takes the unit's lock again (IRQs
/// staying off), which after `sched_set_res()` is the new master pCPU's.
/// Returns how the unit was placed; the caller's lock is then the unit's.
pub fn insert<E: Env>(env: &E, unit: E::Unit, mut relock: impl FnMut()) -> Insert {
    if !env.is_online(unit) {
        return Insert::Offline;
    }
    loop {
        env.set_res(unit, pick_res(env, unit));
        // The unit's master pCPU, hence its lock, may have changed.
        relock();
        if let Some(placed) = insert_place(env, unit) {
            return placed;
        }
    }
}

/// The second half of `null_unit_insert()`, after `sched_set_res(unit,
/// pick_res())` and relocking: the caller holds the runqueue lock of the
/// unit's (new) master pCPU. `None`: the picked pCPU was taken meanwhile
/// but others are free, so [`insert`] picks again.
fn insert_place<E: Env>(env: &E, unit: E::Unit) -> Option<Insert> {
    let cpu = env.master(unit);
    if env.slot(cpu).is_none() {
        // Insert is followed by a wake, which tickles the pCPU.
        unit_assign(env, unit, cpu);
        Some(Insert::Assigned)
    } else if env.affinity(unit).intersects_free(env.free()) {
        None
    } else {
        let class = Class::of(&env.affinity(unit));
        env.with_waitq(|wq| {
            wq.push_back(unit, class);
            env.event(Event::NotAssigned { unit });
        });
        Some(Insert::Queued)
    }
}

/// `null_unit_remove()`; caller holds the unit's runqueue lock.
pub fn remove<E: Env>(env: &E, unit: E::Unit) {
    if !env.is_online(unit) {
        // An offline unit is neither assigned nor waiting.
        debug_assert!(
            env.slot(env.master(unit)) != Some(unit),
            "npc->unit != unit"
        );
        debug_assert!(!env.is_queued(unit), "list_empty(&nvc->waitq_elem)");
    } else if env.is_queued(unit) {
        env.with_waitq(|wq| wq.remove(unit));
    } else if env.slot(env.master(unit)) == Some(unit) {
        // Only if the pCPU is this unit's (upstream 54fe207f29): a unit
        // that came online without a wake (setvcpucontext of a paused
        // domain, whose creation then failed) is neither queued nor
        // assigned, and its pCPU may hold another domain's unit.
        let cpu = env.master(unit);
        unit_deassign(env, unit, &[cpu]);
    }
    env.stat(|| Stat::UnitRemove);
}

/// `null_unit_wake()`; caller holds the unit's runqueue lock, IRQs off.
pub fn wake<E: Env>(env: &E, unit: E::Unit) {
    let cpu = env.master(unit);

    if env.curr_on_cpu(cpu) == Some(unit) {
        env.stat(|| Stat::UnitWakeRunning);
        return;
    }
    if env.is_queued(unit) {
        // Not exactly "on runq", but close enough for reusing the counter.
        env.stat(|| Stat::UnitWakeOnrunq);
        return;
    }
    env.stat(|| {
        if env.is_runnable(unit) {
            Stat::UnitWakeRunnable
        } else {
            Stat::UnitWakeNotRunnable
        }
    });

    let slot = env.slot(cpu);
    if slot == Some(unit) {
        env.raise_softirq(cpu);
        return;
    }

    // Neither on a pCPU nor waiting: the unit was offline and comes back.
    // If its old pCPU is free and allowed, take it; we hold its lock.
    let aff = env.affinity(unit);
    if slot.is_none()
        && aff.allows(cpu, BalanceStep::Hard)
        && (!aff.has_soft_affinity() || aff.allows(cpu, BalanceStep::Soft))
    {
        unit_assign(env, unit, cpu);
        env.raise_softirq(cpu);
        return;
    }

    // We may not change the unit's pCPU here: queue it and tickle every
    // free pCPU it may run on; the first to schedule picks it up.
    let class = Class::of(&aff);
    env.with_waitq(|wq| wq.push_back(unit, class));

    let free = env.free();
    let word = |i| aff.free_word(free, i);
    if mask::is_empty(aff.span, word) {
        env.event(Event::NotAssignedOnWake { unit });
    } else {
        env.raise_softirq_mask(cpu, aff.span.words(), word);
    }
}

/// `null_unit_sleep()`; caller holds the unit's runqueue lock, IRQs off.
///
/// A unit being offlined leaves its pCPU or the waitqueue. That is rare,
/// so those two paths are out of line: the usual path (a unit paused, or
/// going offline after it left) makes no call but the softirq's, and
/// needs no stack frame.
pub fn sleep<E: Env>(env: &E, unit: E::Unit) {
    let cpu = env.master(unit);
    if !env.is_online(unit) {
        if env.is_queued(unit) {
            return sleep_dequeue(env, unit, cpu);
        }
        if env.slot(cpu) == Some(unit) {
            return sleep_deassign(env, unit, cpu);
        }
    }
    sleep_tickle(env, unit, cpu);
}

/// [`sleep`]'s end: the pCPU reschedules if the unit runs there.
#[inline(always)]
fn sleep_tickle<E: Env>(env: &E, unit: E::Unit, cpu: u32) {
    if env.curr_on_cpu(cpu) == Some(unit) {
        env.raise_softirq(cpu);
    }
    env.stat(|| Stat::UnitSleep);
}

/// [`sleep`] of a waiting unit going offline (`cpu` its pCPU).
#[cold]
#[inline(never)]
fn sleep_dequeue<E: Env>(env: &E, unit: E::Unit, cpu: u32) {
    env.with_waitq(|wq| wq.remove(unit));
    sleep_tickle(env, unit, cpu);
}

/// [`sleep`] of an assigned unit going offline: it leaves `cpu`, which
/// takes a waiting unit or is tickled by `unit_deassign`.
#[cold]
#[inline(never)]
fn sleep_deassign<E: Env>(env: &E, unit: E::Unit, cpu: u32) {
    if unit_deassign(env, unit, &[cpu]) {
        env.stat(|| Stat::UnitSleep);
    } else {
        sleep_tickle(env, unit, cpu);
    }
}

/// `null_unit_migrate()`; caller holds the runqueue locks of the unit's
/// master pCPU and of `new_cpu`.
pub fn migrate<E: Env>(env: &E, unit: E::Unit, new_cpu: u32) {
    let from = env.master(unit);
    if from == new_cpu {
        // Xen migrates after every affinity change (`vcpu_set_affinity()`),
        // and `pick_res()` returns a waiting unit's own pCPU when that is
        // free and now allowed: null.c returns here and leaves the unit
        // waiting beside its free pCPU. Take it.
        if env.is_queued(unit)
            && env.slot(new_cpu).is_none()
            && env.affinity(unit).allows(new_cpu, BalanceStep::Hard)
        {
            env.with_waitq(|wq| wq.remove(unit));
            unit_assign(env, unit, new_cpu);
        }
        return;
    }
    env.event(Event::Migrate {
        unit,
        from,
        to: new_cpu,
    });

    // Leaving an assigned pCPU frees it for a waiting unit.
    if env.slot(from) == Some(unit) {
        unit_deassign(env, unit, &[from, new_cpu]);
        env.stat(|| Stat::MigrateRunning);
    } else if env.is_queued(unit) {
        env.stat(|| Stat::MigrateOnRunq);
    }
    env.stat(|| Stat::Migrated);

    if !env.is_online(unit) {
        // An offline unit is neither assigned nor waiting.
        env.with_waitq(|wq| wq.remove(unit));
    } else if env.slot(new_cpu).is_none() && env.affinity(unit).allows(new_cpu, BalanceStep::Hard) {
        env.with_waitq(|wq| wq.remove(unit));
        unit_assign(env, unit, new_cpu);
    } else {
        let class = Class::of(&env.affinity(unit));
        env.with_waitq(|wq| {
            if !wq.contains(unit) {
                wq.push_back(unit, class);
                env.event(Event::NotAssigned { unit });
            }
        });
    }

    // Always point the unit at new_cpu: cpu_disable_scheduler() relies on
    // it, and suspend/resume fixes up any temporary inconsistency.
    env.set_res(unit, new_cpu);
}

/// `adjust_affinity()`, which null.c does not have: Xen's
/// `sched_set_affinity()` is about to install `hard` and/or `soft` as the
/// unit's affinity (`None`: that one stays). Caller holds the unit's
/// runqueue lock, or the unit is not inserted yet.
///
/// Nothing is placed or moved: a waiting unit only changes list, keeping
/// its FIFO position, so that the hand-off scans ([`handoff::offer`]) keep
/// asking exactly the units null.c's would, in the same order.
///
/// Out of line: the hook's common path (the unit is not queued) then needs
/// no registers for the re-filing.
#[inline(never)]
pub fn adjust_affinity<E: Env>(
    env: &E,
    unit: E::Unit,
    hard: Option<&E::Mask>,
    soft: Option<&E::Mask>,
) {
    // Only holders of the unit's runqueue lock queue it; a hand-off may
    // dequeue it meanwhile, which reclassify() tolerates.
    if !env.is_queued(unit) {
        return;
    }
    let now = env.affinity(unit);
    let class = Class::after_set(hard.unwrap_or(now.hard), soft.unwrap_or(now.soft), now.nr);
    env.with_waitq(|wq| wq.reclassify(unit, class));
}

/// What a pCPU runs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next<U> {
    /// The idle unit of the resource.
    Idle,
    /// This unit.
    Unit(U),
}

/// `null_schedule()` on pCPU `cur_cpu`; caller holds the runqueue lock of
/// the resource `cur_cpu` belongs to, IRQs off.
pub fn schedule<E: Env>(env: &E, cur_cpu: u32, tasklet_work: bool) -> Next<E::Unit> {
    let sched_cpu = env.resource_master(cur_cpu);
    env.stat(|| Stat::Schedule);

    let assigned = env.slot(sched_cpu);
    // The usual schedule: the pCPU has its unit, no tasklet work, nothing
    // to trace. Only whether the unit may run is left to find out; the
    // rest stays out of line, with the registers it needs.
    if let (Some(unit), false, false) = (assigned, tasklet_work, env.tracing()) {
        return if env.runnable_state(unit) {
            Next::Unit(unit)
        } else {
            Next::Idle
        };
    }
    schedule_slow(env, cur_cpu, sched_cpu, tasklet_work, assigned)
}

/// The rest of `null_schedule()`: tracing, tasklet work, or no unit.
#[inline(never)]
fn schedule_slow<E: Env>(
    env: &E,
    cur_cpu: u32,
    sched_cpu: u32,
    tasklet_work: bool,
    assigned: Option<E::Unit>,
) -> Next<E::Unit> {
    env.event(Event::Schedule {
        cpu: cur_cpu,
        tasklet: tasklet_work,
        assigned,
    });

    let mut next = if tasklet_work {
        env.event(Event::Tasklet);
        Some(Next::Idle)
    } else {
        assigned.map(Next::Unit)
    };

    // A pCPU new in the pool, or back online, may find a waiting unit.
    if next.is_none() {
        next = take_waiting(env, cur_cpu, sched_cpu).map(Next::Unit);
    }

    match next {
        Some(Next::Unit(u)) if env.runnable_state(u) => Next::Unit(u),
        _ => Next::Idle,
    }
}

/// The part of `null_schedule()` for a pCPU with nothing assigned: hand it
/// to a waiting unit, or mark it free.
fn take_waiting<E: Env>(env: &E, cur_cpu: u32, sched_cpu: u32) -> Option<E::Unit> {
    let taken = env.with_waitq(|wq| {
        if wq.is_empty() {
            return None;
        }
        // The waiting unit may be racing with vcpu_wake() on its own
        // runqueue lock: only trylock it, keeping it across the change.
        let (outcome, held) = offer_trylocked(env, wq, sched_cpu, &[sched_cpu]);
        match outcome {
            Handoff::Taken(w) => {
                unit_assign(env, w, sched_cpu);
                wq.remove(w);
                drop(held);
                Some(w)
            }
            Handoff::Contended => {
                // Do not leave a unit waiting while we are free: retry
                // (null.c's `if ( unit_found )`).
                env.raise_softirq(cur_cpu);
                None
            }
            Handoff::NoneSuitable => None,
        }
    });
    if taken.is_none() && !env.free().test(sched_cpu) {
        env.mark_free(sched_cpu, true);
    }
    taken
}
