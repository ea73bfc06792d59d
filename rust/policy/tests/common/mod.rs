//! Shared by the random and the exhaustive tests: the hook driver (calls
//! hooks only as Xen would) and the oracle.

#![allow(dead_code)] // Each test binary uses part of it.

pub mod oracle;

use null_model::{mask_of, Mask, Model};
use null_policy::check;
use null_policy::hooks::{self, Insert};
use null_policy::mask::Bits;

/// One thing that can happen to the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `insert_unit` (then, if the unit is runnable, `wake`).
    Insert(usize),
    /// `remove_unit`.
    Remove(usize),
    /// The unit's vCPU goes down: `sleep`.
    Offline(usize),
    /// The unit's vCPU comes up: `wake`.
    Online(usize),
    /// The unit's vCPU comes up while its domain is paused, so nothing
    /// wakes it (`setvcpucontext` of a domain being built, `xl create -p`,
    /// or one whose creation fails before it is unpaused).
    OnlineNoWake(usize),
    /// The unit's domain is unpaused: `wake` (`vcpu_wake()` calls the hook
    /// for a runnable vCPU only, i.e. an online one).
    Wake(usize),
    /// `migrate` to where `pick_resource` says.
    Migrate(usize),
    /// `do_schedule` on a pCPU.
    Schedule(u32),
    /// `xl vcpu-pin`: new hard affinity {a, b}, then soft {a} (mod
    /// nr_cpus), each a `vcpu_set_affinity()`, which always migrates an
    /// inserted unit.
    SetAffinity(usize, u32, u32),
    /// `xl vcpu-pin d v all all`: hard affinity, then soft affinity, set
    /// to every pCPU (two `sched_set_affinity()` calls, as Xen makes).
    Unpin(usize),
    /// `xl vcpu-pin d v - a`: soft affinity {a} (mod nr_cpus), hard
    /// affinity unchanged (`sched_set_affinity(unit, NULL, soft)`).
    SetSoft(usize, u32),
    /// `xl cpupool-cpu-remove`: units on the pCPU are migrated away
    /// (`cpu_disable_scheduler`), then `deinit_pdata`.
    RemoveCpu(u32),
    /// `xl cpupool-cpu-add`: `switch_sched`, then the pCPU schedules.
    AddCpu(u32),
}

/// The units the scheduler currently knows.
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct Known(pub Vec<usize>);

/// Whether Xen could issue `op` now.
pub fn enabled(m: &Model, known: &Known, op: Op) -> bool {
    match op {
        // Xen never places a unit with no pCPU of its pool in its affinity.
        Op::Insert(u) => {
            !known.0.contains(&u)
                && (0..m.nr_cpus).any(|c| m.pool.test(c) && m.units[u].hard.test(c))
        }
        Op::Remove(u) => known.0.contains(&u),
        Op::Offline(u) => m.units[u].online,
        Op::Online(u) | Op::OnlineNoWake(u) => !m.units[u].online,
        Op::Wake(u) => known.0.contains(&u) && m.units[u].online,
        Op::Migrate(u) => known.0.contains(&u) && m.units[u].online,
        Op::Schedule(c) => m.pool.test(c),
        Op::SetAffinity(u, a, b) => {
            // The pool must keep a pCPU the unit may run on.
            let nr = m.nr_cpus;
            m.pool.test(a % nr) || m.pool.test(b % nr) || !known.0.contains(&u)
        }
        Op::Unpin(_) | Op::SetSoft(..) => true,
        Op::RemoveCpu(c) => {
            // Xen keeps a pool's last pCPU, and every known unit needs a
            // pCPU of its hard affinity in the pool.
            let left = |u: usize| {
                (0..m.nr_cpus).any(|x| x != c && m.pool.test(x) && m.units[u].hard.test(x))
            };
            m.pool.test(c)
                && (0..m.nr_cpus).any(|x| x != c && m.pool.test(x))
                && known.0.iter().all(|&u| left(u))
        }
        Op::AddCpu(c) => !m.pool.test(c),
    }
}

/// Call a hook holding the runqueue locks of `cpus`, as Xen does, then
/// check the invariants on what those locks protect, with the product's
/// own check (`null_policy::check`, which debug builds of Xen run too).
fn hook<R>(m: &Model, cpus: &[u32], f: impl FnOnce() -> R) -> R {
    m.locked(cpus, || {
        let r = f();
        if let Err(v) = check::after_hook(m, cpus) {
            panic!("check::after_hook: {v:?}");
        }
        r
    })
}

/// `wake`, as `vcpu_wake()` calls it: for an online unit, under its lock.
fn wake(m: &mut Model, u: usize) {
    if m.units[u].online {
        m.units[u].parked = false;
        let cpu = m.units[u].master.get();
        hook(m, &[cpu], || hooks::wake(m, u));
    }
}

/// `pick_resource` then `migrate`, as `sched_unit_migrate_finish()` does
/// them: the pick under the unit's lock, the move under both.
fn migrate(m: &Model, u: usize) {
    let from = m.units[u].master.get();
    let to = hook(m, &[from], || hooks::pick_res(m, u));
    hook(m, &[from, to], || hooks::migrate(m, u, to));
}

/// `vcpu_set_affinity()`: `sched_set_affinity()` (our `adjust_affinity`,
/// then the new masks) under the unit's lock; then, for an inserted unit,
/// `sched_unit_migrate_start()` (a `sleep`), the move, and a `wake`.
fn set_affinity(m: &mut Model, known: &Known, u: usize, hard: Option<Mask>, soft: Option<Mask>) {
    let cpu = m.units[u].master.get();
    m.set_affinity(u, hard, soft);
    if known.0.contains(&u) {
        hook(m, &[cpu], || hooks::sleep(m, u));
        migrate(m, u);
        wake(m, u);
    }
}

/// Apply an enabled `op` as Xen would, then serve raised softirqs.
pub fn apply(m: &mut Model, known: &mut Known, op: Op) {
    m.check_locks();
    match op {
        Op::Insert(u) => {
            // The product's insert_unit, retry loop included; without
            // concurrency a retry must find a free pCPU at once.
            let (placed, cpu) = m.insert_unit(u, 2);
            if placed != Insert::Offline {
                if let Err(v) = check::after_hook(m, &[cpu]) {
                    panic!("check::after_hook: {v:?}");
                }
            }
            known.0.push(u);
            // vcpu_wake() only calls the hook for a runnable vCPU, and an
            // offline one is not runnable (VPF_down).
            wake(m, u);
        }
        Op::Remove(u) => {
            let cpu = m.units[u].master.get();
            hook(m, &[cpu], || hooks::remove(m, u));
            known.0.retain(|&x| x != u);
        }
        Op::Offline(u) => {
            m.units[u].online = false;
            m.units[u].parked = false;
            if known.0.contains(&u) {
                let cpu = m.units[u].master.get();
                hook(m, &[cpu], || hooks::sleep(m, u));
            }
        }
        Op::Online(u) => {
            m.units[u].online = true;
            if known.0.contains(&u) {
                wake(m, u);
            }
        }
        Op::OnlineNoWake(u) => {
            m.units[u].online = true;
            m.units[u].parked = known.0.contains(&u);
        }
        Op::Wake(u) => wake(m, u),
        Op::Migrate(u) => migrate(m, u),
        Op::Schedule(cpu) => {
            hook(m, &[cpu], || m.do_schedule(cpu, false));
        }
        Op::SetAffinity(u, a, b) => {
            let nr = m.nr_cpus;
            // Two hypercall steps (hard, then soft): softirqs run between.
            set_affinity(m, known, u, Some(mask_of([a % nr, b % nr])), None);
            serve_softirqs(m);
            set_affinity(m, known, u, None, Some(mask_of([a % nr])));
        }
        Op::Unpin(u) => {
            let all = mask_of(0..m.nr_cpus);
            set_affinity(m, known, u, Some(all), None);
            serve_softirqs(m);
            set_affinity(m, known, u, None, Some(all));
        }
        Op::SetSoft(u, a) => {
            let soft = mask_of([a % m.nr_cpus]);
            set_affinity(m, known, u, None, Some(soft));
        }
        Op::RemoveCpu(c) => {
            bits_clear(&mut m.pool, c);
            // cpu_disable_scheduler(): Xen walks the pool's domains and
            // their units; here: by index.
            for u in (0..m.units.len()).filter(|u| known.0.contains(u)) {
                if m.units[u].master.get() == c {
                    migrate(m, u);
                }
            }
            // schedule_cpu_rm(): sched_priv = NULL under the pCPU's lock,
            // and only then deinit_pdata. In that window the other pCPUs
            // go on scheduling and waking units: nothing may touch c.
            m.leaving.set(Some(c));
            serve_softirqs(m);
            for x in (0..m.nr_cpus).filter(|&x| m.pool.test(x)) {
                hook(m, &[x], || m.do_schedule(x, false));
            }
            let mut units = known.0.clone();
            units.sort_unstable();
            for u in units {
                wake(m, u);
            }
            serve_softirqs(m);
            m.leaving.set(None);
            assert_eq!(
                m.slots[c as usize].get(),
                None,
                "a unit left on removed cpu {c}"
            );
            hooks::deinit_pdata(&m.cpus, &m.free, c, |u| m.slots[c as usize].set(u));
        }
        Op::AddCpu(c) => {
            bits_set(&mut m.pool, c);
            // switch_sched: free, with no unit; then it schedules.
            hooks::init_pdata(&m.cpus, &m.free, c, |u| m.slots[c as usize].set(u));
            m.tickled.borrow_mut().push(c);
        }
    }
    serve_softirqs(m);
}

fn bits_set(mask: &mut Mask, c: u32) {
    mask[(c / 64) as usize] |= 1 << (c % 64);
}

fn bits_clear(mask: &mut Mask, c: u32) {
    mask[(c / 64) as usize] &= !(1 << (c % 64));
}

/// Serve raised SCHEDULE softirqs, newest first: each runs `schedule` (on
/// a pCPU of the pool: one that left it runs another scheduler's).
pub fn serve_softirqs(m: &Model) {
    for _ in 0..1000 {
        let next = m.tickled.borrow_mut().pop();
        let Some(cpu) = next else { return };
        if !m.pool.test(cpu) {
            continue;
        }
        hook(m, &[cpu], || m.do_schedule(cpu, false));
    }
    panic!("softirqs keep being raised");
}

/// Every check that must hold between hooks.
pub fn check(m: &Model, known: &Known) -> Result<(), String> {
    m.check_invariants(&known.0)?;
    m.check_waitq()?;
    m.check_work_conserving()?;
    for c in (0..m.nr_cpus).filter(|&c| m.pool.test(c)) {
        if m.free.test(c) != m.slots[c as usize].get().is_none() {
            return Err(format!("cpu {c}: free bit disagrees with its slot"));
        }
    }
    Ok(())
}
