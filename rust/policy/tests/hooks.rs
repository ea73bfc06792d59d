//! null.c's behaviour, hook by hook, on the host model.

use null_model::{mask_of, Model};
use null_policy::hooks::{self, Class, Env, Event, Insert, Next, Waitq};
use null_policy::mask::Bits;

/// Insert as Xen does: pick, point the unit there, then place it.
fn insert(m: &Model, u: usize) -> Insert {
    m.insert_unit(u, u32::MAX).0
}

fn all(n: u32) -> [u64; 4] {
    mask_of(0..n)
}

#[test]
fn units_get_distinct_free_pcpus_then_wait_in_fifo_order() {
    let mut m = Model::new(2);
    let us: Vec<usize> = (0..4).map(|_| m.add_unit(all(2), all(2), 0)).collect();
    let outcomes: Vec<Insert> = us.iter().map(|&u| insert(&m, u)).collect();
    assert_eq!(
        outcomes,
        [
            Insert::Assigned,
            Insert::Assigned,
            Insert::Queued,
            Insert::Queued
        ]
    );
    assert_eq!((m.slots[0].get(), m.slots[1].get()), (Some(0), Some(1)));
    assert_eq!(m.waiting(), [2, 3]);
    m.check_invariants(&us).unwrap();

    // Removing unit 1 hands cpu 1 to the oldest waiter, unit 2.
    hooks::remove(&m, 1);
    assert_eq!(m.slots[1].get(), Some(2));
    assert_eq!(m.waiting(), [3]);
    assert_eq!(m.tickled.borrow().last(), Some(&1));
    m.check_invariants(&[0, 2, 3]).unwrap();
    m.check_work_conserving().unwrap();
}

#[test]
fn handoff_prefers_soft_affinity_over_fifo_order() {
    let mut m = Model::new(2);
    let a = m.add_unit(all(2), all(2), 0);
    let b = m.add_unit(all(2), all(2), 0);
    let old = m.add_unit(all(2), all(2), 0);
    let soft = m.add_unit(all(2), mask_of([1]), 0);
    for u in [a, b, old, soft] {
        insert(&m, u);
    }
    assert_eq!(m.waiting(), [old, soft]);
    hooks::remove(&m, b); // frees cpu 1, in `soft`'s soft affinity
    assert_eq!(m.slots[1].get(), Some(soft));
    assert_eq!(m.waiting(), [old]);
}

#[test]
fn hard_affinity_is_never_violated() {
    let mut m = Model::new(4);
    let pinned = m.add_unit(mask_of([3]), mask_of([3]), 0);
    let a = m.add_unit(all(4), all(4), 0);
    insert(&m, a);
    assert_eq!(m.slots[0].get(), Some(a));
    insert(&m, pinned);
    assert_eq!(m.units[pinned].master.get(), 3);
    // A second unit pinned to 3 must wait, although cpus 1 and 2 are free.
    let pinned2 = m.add_unit(mask_of([3]), mask_of([3]), 0);
    assert_eq!(insert(&m, pinned2), Insert::Queued);
    hooks::remove(&m, a); // cpu 0 freed: pinned2 may not take it
    assert_eq!(m.waiting(), [pinned2]);
    hooks::remove(&m, pinned);
    assert_eq!(m.slots[3].get(), Some(pinned2));
}

#[test]
fn wake_of_returning_unit_takes_its_free_pcpu_or_waits_and_tickles() {
    let mut m = Model::new(3);
    let u = m.add_unit(all(3), all(3), 1);
    // Inserted while offline: null_unit_insert() returns before placing it,
    // so it points at cpu 1 but holds no pCPU. Now it comes online.
    hooks::wake(&m, u);
    assert_eq!(m.slots[1].get(), Some(u));
    assert_eq!(*m.tickled.borrow(), [1]);

    // Now it sleeps offline: the pCPU is freed.
    m.units[u].online = false;
    hooks::sleep(&m, u);
    assert_eq!(m.slots[1].get(), None);
    assert!(m.free.test(1));

    // Its pCPU taken by another unit meanwhile: on wake it waits and every
    // free allowed pCPU is tickled.
    let v = m.add_unit(mask_of([1]), mask_of([1]), 1);
    insert(&m, v);
    m.units[u].online = true;
    m.tickled.borrow_mut().clear();
    hooks::wake(&m, u);
    assert_eq!(m.waiting(), [u]);
    assert_eq!(*m.tickled.borrow(), [0, 2]);
    // The first pCPU to schedule picks it up.
    assert_eq!(m.do_schedule(2, false), Next::Unit(u));
    assert_eq!(m.slots[2].get(), Some(u));
    m.check_invariants(&[u, v]).unwrap();
}

#[test]
fn schedule_leaves_a_contended_waiter_waiting_and_retries() {
    let mut m = Model::new(2);
    let a = m.add_unit(all(2), all(2), 0);
    let w = m.add_unit(all(2), all(2), 0);
    insert(&m, a);
    m.slots[1].set(Some(99)); // cpu 1 busy with a unit of another pool
    m.free.clear(1);
    assert_eq!(insert(&m, w), Insert::Queued);
    m.slots[1].set(None);
    m.contended.borrow_mut().push(m.units[w].master.get());
    m.units[w].master.set(0);
    assert_eq!(m.do_schedule(1, false), Next::Idle);
    assert_eq!(m.tickled.borrow().last(), Some(&1), "a retry is planned");
    assert!(m.free.test(1));
    m.contended.borrow_mut().clear();
    assert_eq!(m.do_schedule(1, false), Next::Unit(w));
}

#[test]
fn tasklet_work_runs_idle_and_traces() {
    let mut m = Model::new(1);
    let a = m.add_unit(all(1), all(1), 0);
    insert(&m, a);
    m.events.borrow_mut().clear();
    assert_eq!(m.do_schedule(0, true), Next::Idle);
    assert_eq!(
        *m.events.borrow(),
        [
            Event::Schedule {
                cpu: 0,
                tasklet: true,
                assigned: Some(a)
            },
            Event::Tasklet
        ]
    );
    assert_eq!(m.do_schedule(0, false), Next::Unit(a));
}

#[test]
fn migrate_to_free_pcpu_hands_old_one_over() {
    let mut m = Model::new(2);
    let a = m.add_unit(all(2), all(2), 0);
    let b = m.add_unit(all(2), all(2), 0);
    let w = m.add_unit(all(2), all(2), 0);
    for u in [a, b, w] {
        insert(&m, u);
    }
    hooks::remove(&m, b);
    assert_eq!(m.slots[1].get(), Some(w));
    // Move a from 0 to 1 (taken by w): a waits, cpu 0 is free.
    hooks::migrate(&m, a, 1);
    assert_eq!(m.waiting(), [a]);
    assert_eq!(m.units[a].master.get(), 1);
    assert!(m.free.test(0));
    m.check_invariants(&[a, w]).unwrap();
}

/// Found by tests/props.rs. A unit wakes on its free old pCPU, which is in
/// its hard but not its soft affinity, with no soft-affine pCPU free: wake
/// queues it and tickles only that pCPU. null.c's null_schedule() there then
/// trylocks the unit's runqueue lock, which it already holds: an ASSERT in
/// debug builds, an endless self-tickle otherwise. Ours takes the unit.
#[test]
fn waiter_whose_lock_is_ours_is_taken_not_trylocked() {
    let mut m = Model::new(4);
    let other = m.add_unit(mask_of([2]), mask_of([2]), 2);
    insert(&m, other);
    let u = m.add_unit(mask_of([1, 2]), mask_of([2, 3]), 1);
    // Inserted while offline, it points at cpu 1 and holds nothing; now up.
    hooks::wake(&m, u);
    assert_eq!(m.waiting(), [u]);
    assert_eq!(*m.tickled.borrow(), [1], "only cpu 1 is free and allowed");
    assert_eq!(m.do_schedule(1, false), Next::Unit(u));
    assert_eq!(m.slots[1].get(), Some(u));
    assert!(m.waiting().is_empty());
}

/// A model with `n` pCPUs each running a unit of full affinity; returns
/// the model and those units (unit i on cpu i).
fn full_machine(n: u32) -> (Model, Vec<usize>) {
    let mut m = Model::new(n);
    let running: Vec<usize> = (0..n).map(|_| m.add_unit(all(n), all(n), 0)).collect();
    for &u in &running {
        assert_eq!(insert(&m, u), Insert::Assigned);
    }
    (m, running)
}

#[test]
fn mixed_queue_hands_off_in_fifo_order_across_lists() {
    let (mut m, running) = full_machine(4);
    let pinned = m.add_unit(mask_of([1, 2, 3]), mask_of([1, 2, 3]), 0);
    let free_roamer = m.add_unit(all(4), all(4), 0);
    let soft2 = m.add_unit(all(4), mask_of([2]), 0);
    let older_pinned = m.add_unit(mask_of([0, 3]), mask_of([0, 3]), 0);
    let young_roamer = m.add_unit(all(4), all(4), 0);
    for u in [pinned, free_roamer, soft2, older_pinned, young_roamer] {
        assert_eq!(insert(&m, u), Insert::Queued);
    }
    assert_eq!(
        m.waiting(),
        [pinned, free_roamer, soft2, older_pinned, young_roamer]
    );
    // cpu 0: no soft match; `pinned` may not run there; the unrestricted
    // `free_roamer` is next in FIFO order.
    hooks::remove(&m, running[0]);
    assert_eq!(m.slots[0].get(), Some(free_roamer));
    // cpu 2: `soft2` wins the soft step over the older `pinned`.
    hooks::remove(&m, running[2]);
    assert_eq!(m.slots[2].get(), Some(soft2));
    // cpu 3: the restricted `pinned` and `older_pinned` are older than the
    // unrestricted `young_roamer`: the oldest allowed one wins.
    hooks::remove(&m, running[3]);
    assert_eq!(m.slots[3].get(), Some(pinned));
    hooks::remove(&m, free_roamer); // cpu 0 again
    assert_eq!(m.slots[0].get(), Some(older_pinned));
    assert_eq!(m.waiting(), [young_roamer]);
    m.check_waitq().unwrap();
}

/// null.c has no `adjust_affinity` hook and needs none: it rescans the
/// masks. Ours keeps the waitqueue's lists right through it.
#[test]
fn affinity_change_of_a_waiting_unit_moves_it_between_lists() {
    let (mut m, running) = full_machine(4);
    let older = m.add_unit(all(4), all(4), 0);
    let gains_soft = m.add_unit(all(4), all(4), 0);
    for u in [older, gains_soft] {
        insert(&m, u);
    }
    // Soft affinity {3} while waiting (xl vcpu-pin d v - 3): a freed cpu 3
    // goes to it in the soft step, ahead of `older`.
    m.set_affinity(gains_soft, None, Some(mask_of([3])));
    m.check_waitq().unwrap();
    hooks::remove(&m, running[3]);
    assert_eq!(m.slots[3].get(), Some(gains_soft));

    // A pinned unit, older than an unrestricted one, unpinned while waiting
    // keeps its place in the FIFO.
    let pinned = m.add_unit(mask_of([1]), mask_of([1]), 0);
    let young = m.add_unit(all(4), all(4), 0);
    for u in [pinned, young] {
        insert(&m, u);
    }
    assert_eq!(m.waiting(), [older, pinned, young]);
    m.set_affinity(pinned, Some(all(4)), Some(all(4)));
    m.check_waitq().unwrap();
    assert_eq!(m.waiting(), [older, pinned, young]);
    hooks::remove(&m, running[0]);
    hooks::remove(&m, running[2]);
    assert_eq!(
        (m.slots[0].get(), m.slots[2].get()),
        (Some(older), Some(pinned))
    );
    assert_eq!(m.waiting(), [young]);
}

/// The oldest suitable waiter keeps its turn while its runqueue lock is
/// busy: a younger one (here on the other list, with a free lock) does not
/// take the pCPU; the pCPU retries and the oldest gets it. (null.c passes
/// over a busy waiter; seen on real Xen as a guest's vCPU 1 taking the
/// pCPU freed while an older guest's vCPU 0 waited.)
#[test]
fn a_contended_waiter_keeps_its_turn_across_lists() {
    let mut m = Model::new(3);
    let a = m.add_unit(all(3), all(3), 0);
    insert(&m, a);
    for c in [1, 2] {
        m.slots[c].set(Some(99)); // busy with a unit of another pool
        m.free.clear(c as u32);
    }
    let u1 = m.add_unit(all(3), all(3), 0);
    let r2 = m.add_unit(mask_of([1, 2]), mask_of([1, 2]), 0);
    let u3 = m.add_unit(all(3), all(3), 0);
    for u in [u1, r2, u3] {
        assert_eq!(insert(&m, u), Insert::Queued);
    }
    m.slots[1].set(None);
    m.free.set(1);
    // u1's and u3's runqueue (cpu 0) is contended, r2's (cpu 2) is not.
    for (u, master) in [(u1, 0), (r2, 2), (u3, 0)] {
        m.units[u].master.set(master);
    }
    m.contended.borrow_mut().push(0);
    m.tickled.borrow_mut().clear();
    assert_eq!(m.do_schedule(1, false), Next::Idle);
    assert_eq!(*m.tickled.borrow(), [1], "the pCPU retries");
    assert_eq!(m.waiting(), [u1, r2, u3]);
    assert!(m.free.test(1));

    // The same from unit_deassign(): a's pCPU 0 frees while u1 is busy.
    m.units[u1].master.set(2);
    m.contended.borrow_mut().push(2);
    m.tickled.borrow_mut().clear();
    hooks::remove(&m, a);
    assert_eq!(m.slots[0].get(), None);
    assert_eq!(m.waiting(), [u1, r2, u3]);
    assert!(m.tickled.borrow().contains(&0), "pCPU 0 retries");

    // Lock free again: the oldest takes the retrying pCPU.
    m.contended.borrow_mut().clear();
    assert_eq!(m.do_schedule(1, false), Next::Unit(u1));
    assert_eq!(m.waiting(), [r2, u3]);
}

/// Upstream 54fe207f29 (issue 10, item 1). A unit inserted while offline
/// points at cpu 0 and holds nothing; `setvcpucontext` brings it up while
/// its domain stays paused, so nothing wakes it; another domain's unit
/// then takes cpu 0. Removing the first unit (the failed domain's
/// `complete_domain_destroy()`) must leave cpu 0 to the other one.
#[test]
fn removing_a_unit_never_woken_leaves_another_units_pcpu_alone() {
    let mut m = Model::new(2);
    let g = m.add_unit(all(2), all(2), 0);
    m.units[g].online = false;
    // insert_unit of an offline unit places nothing.
    m.units[g].online = true; // setvcpucontext; the domain stays paused
    let a = m.add_unit(mask_of([0]), mask_of([0]), 0);
    assert_eq!(insert(&m, a), Insert::Assigned);
    assert_eq!(m.slots[0].get(), Some(a));
    hooks::remove(&m, g);
    assert_eq!(
        m.slots[0].get(),
        Some(a),
        "another domain's unit deassigned"
    );
    assert!(!m.free.test(0));
    m.check_invariants(&[a]).unwrap();
}

/// Issue 10, item 7. `unit_deassign` hands the freed pCPU to a waiter whose
/// runqueue lock is busy (a wake, sleep or affinity change of that waiter
/// on another pCPU): it must not point the waiter at the pCPU without that
/// lock, but leave the pCPU free and tickle it, and the tickled pCPU's
/// schedule takes the waiter once the lock is free.
#[test]
fn deassign_trylocks_the_waiter_and_leaves_the_retry_to_schedule() {
    let mut m = Model::new(2);
    let a = m.add_unit(mask_of([0]), mask_of([0]), 0);
    let b = m.add_unit(mask_of([1]), mask_of([1]), 1);
    let w = m.add_unit(all(2), all(2), 1);
    for u in [a, b, w] {
        insert(&m, u);
    }
    assert_eq!(m.waiting(), [w]);
    let wcpu = m.units[w].master.get();
    assert_eq!(wcpu, 0, "picked at random (0) among its busy pCPUs");
    // Free cpu 1 while w's runqueue (cpu 0) is busy elsewhere.
    m.units[w].master.set(0);
    m.check_locks();
    m.contended.borrow_mut().push(0);
    m.tickled.borrow_mut().clear();
    m.locked(&[1], || hooks::remove(&m, b));
    assert_eq!(m.slots[1].get(), None, "taken without the waiter's lock");
    assert_eq!(m.waiting(), [w]);
    assert!(m.free.test(1));
    assert_eq!(*m.tickled.borrow(), [1], "the free pCPU retries");
    m.contended.borrow_mut().clear();
    assert_eq!(m.locked(&[1], || m.do_schedule(1, false)), Next::Unit(w));
    assert_eq!(m.slots[1].get(), Some(w));
    assert_eq!(m.units[w].master.get(), 1);
    m.check_invariants(&[a, w]).unwrap();
}

/// Issue 10, item 3. `adjust_affinity` moves a waiting unit to its new
/// class's list before Xen installs the new masks (under the unit's
/// runqueue lock); a hand-off on another pCPU meanwhile sees the unit on
/// the unrestricted list with its old, restricted masks. It decides on the
/// live masks (no debug assertion about the list may fire) and, the unit's
/// lock being busy, leaves the pCPU to retry.
#[test]
fn handoff_during_an_affinity_change_decides_on_the_live_masks() {
    let mut m = Model::new(3);
    let a = m.add_unit(mask_of([0]), mask_of([0]), 0);
    let b = m.add_unit(mask_of([1]), mask_of([1]), 1);
    let c = m.add_unit(mask_of([2]), mask_of([2]), 2);
    let w = m.add_unit(mask_of([0, 1]), mask_of([0, 1]), 0);
    for u in [a, b, c, w] {
        insert(&m, u);
    }
    assert_eq!(m.waiting(), [w]);
    assert_eq!(m.waitq.borrow().class(w), Class::Restricted);
    // vcpu_set_affinity(w, all): adjust_affinity under w's lock (cpu 0,
    // held by the caller: contended for everyone else), masks not yet in.
    m.contended.borrow_mut().push(m.units[w].master.get());
    hooks::adjust_affinity(&m, w, Some(&all(3)), Some(&all(3)));
    assert_eq!(m.waitq.borrow().class(w), Class::Unrestricted);
    // Meanwhile cpu 2 frees: w may not run there by its live masks.
    m.tickled.borrow_mut().clear();
    hooks::remove(&m, c);
    assert_eq!(m.slots[2].get(), None);
    assert!(
        m.tickled.borrow().is_empty(),
        "no waiter was allowed on cpu 2"
    );
    // And cpu 1 frees: w may run there, but its lock is busy.
    hooks::remove(&m, b);
    assert_eq!(m.slots[1].get(), None);
    assert_eq!(*m.tickled.borrow(), [1]);
    // Xen installs the masks and drops w's lock; cpu 1 retries.
    m.units[w].hard = all(3);
    m.units[w].soft = all(3);
    m.contended.borrow_mut().clear();
    m.check_waitq().unwrap();
    assert_eq!(m.do_schedule(1, false), Next::Unit(w));
}

/// Issue 10, item 2. In `schedule_cpu_rm()`'s window (the pCPU's
/// `sched_priv` NULL, `deinit_pdata` not yet run) the other pCPUs schedule
/// and wake units while units wait: neither the hooks nor the invariant
/// check may read the leaving pCPU (the model panics where Xen would
/// dereference NULL, as a check walking every pCPU of the pool did).
#[test]
fn the_removal_window_touches_nothing_of_the_leaving_pcpu() {
    let mut m = Model::new(3);
    let us: Vec<usize> = (0..5).map(|_| m.add_unit(all(3), all(3), 0)).collect();
    for &u in &us {
        insert(&m, u);
    }
    assert_eq!(m.waiting(), [us[3], us[4]]);
    // cpupool-cpu-remove 2: out of res_valid, its unit migrated away (it
    // waits: no pCPU is free), then sched_priv = NULL.
    m.pool[0] &= !(1 << 2);
    let to = hooks::pick_res(&m, us[2]);
    hooks::migrate(&m, us[2], to);
    m.leaving.set(Some(2));
    assert!(
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.slot(2))).is_err(),
        "the model catches a read of the leaving pCPU"
    );
    for x in [0, 1] {
        m.do_schedule(x, false);
        null_policy::check::after_hook(&m, &[x]).unwrap();
    }
    for &u in &us {
        hooks::wake(&m, u);
        null_policy::check::after_hook(&m, &[m.units[u].master.get()]).unwrap();
    }
    assert_eq!(
        null_policy::check::after_hook(&m, &[2]),
        Ok(()),
        "skipped: not ours"
    );
    m.leaving.set(None);
    m.free.clear(2); // deinit_pdata
    m.check_invariants(&us).unwrap();
}

/// Issue 10, item 6. `vcpu_set_affinity()` always migrates, and for a
/// waiting unit whose own pCPU is free and now allowed `pick_res()` returns
/// that pCPU: `migrate` to the same pCPU must assign it, not return early
/// as null.c does. (Unreachable with our hand-off, as far as the property
/// and exhaustive tests show; in null.c it follows its self-trylock
/// livelock. The state is set up by hand.)
#[test]
fn a_waiting_unit_pinned_onto_its_own_free_pcpu_takes_it() {
    let mut m = Model::new(2);
    let a = m.add_unit(mask_of([0]), mask_of([0]), 0);
    let b = m.add_unit(mask_of([1]), mask_of([1]), 1);
    let w = m.add_unit(mask_of([0]), mask_of([0]), 0);
    for u in [a, b, w] {
        insert(&m, u);
    }
    assert_eq!(m.waiting(), [w]);
    // w points at cpu 1, which is free, but its affinity is {0}.
    m.units[w].master.set(1);
    m.slots[1].set(None);
    m.free.set(1);
    m.set_affinity(w, Some(all(2)), None);
    let to = hooks::pick_res(&m, w);
    assert_eq!(to, 1);
    hooks::migrate(&m, w, to);
    assert_eq!(m.slots[1].get(), Some(w));
    assert!(m.waiting().is_empty());
    assert!(!m.free.test(1));
}
