//! Shared by the random and the exhaustive tests: the hook driver (calls
//! hooks only as Xen would) and the oracle.

#![allow(dead_code)] // Each test binary uses part of it.

pub mod oracle;

use null_policy::hooks::{self, Insert};
use null_policy::model::Model;

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
    /// `migrate` to where `pick_resource` says.
    Migrate(usize),
    /// `do_schedule` on a pCPU.
    Schedule(u32),
}

/// The units the scheduler currently knows.
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct Known(pub Vec<usize>);

/// Whether Xen could issue `op` now.
pub fn enabled(m: &Model, known: &Known, op: Op) -> bool {
    match op {
        Op::Insert(u) => !known.0.contains(&u),
        Op::Remove(u) => known.0.contains(&u),
        Op::Offline(u) => m.units[u].online,
        Op::Online(u) => !m.units[u].online,
        Op::Migrate(u) => known.0.contains(&u) && m.units[u].online,
        Op::Schedule(_) => true,
    }
}

/// Apply an enabled `op` as Xen would, then serve raised softirqs.
pub fn apply(m: &mut Model, known: &mut Known, op: Op) {
    match op {
        Op::Insert(u) => {
            if m.units[u].online {
                // Without concurrency, a retry must find a free pCPU at
                // once; a bounded loop turns a livelock into a failure.
                let placed = (0..2).any(|_| {
                    let cpu = hooks::pick_res(m, u);
                    m.units[u].master.set(cpu);
                    hooks::insert_place(m, u) != Insert::Retry
                });
                assert!(placed, "insert_unit of unit {u} keeps retrying");
            }
            known.0.push(u);
            // vcpu_wake() only calls the hook for a runnable vCPU, and an
            // offline one is not runnable (VPF_down).
            if m.units[u].online {
                hooks::wake(m, u);
            }
        }
        Op::Remove(u) => {
            hooks::remove(m, u);
            known.0.retain(|&x| x != u);
        }
        Op::Offline(u) => {
            m.units[u].online = false;
            if known.0.contains(&u) {
                hooks::sleep(m, u);
            }
        }
        Op::Online(u) => {
            m.units[u].online = true;
            if known.0.contains(&u) {
                hooks::wake(m, u);
            }
        }
        Op::Migrate(u) => {
            let to = hooks::pick_res(m, u);
            hooks::migrate(m, u, to);
        }
        Op::Schedule(cpu) => {
            hooks::schedule(m, cpu, false);
        }
    }
    serve_softirqs(m);
}

/// Serve raised SCHEDULE softirqs, newest first: each runs `schedule`.
pub fn serve_softirqs(m: &Model) {
    for _ in 0..1000 {
        let next = m.tickled.borrow_mut().pop();
        let Some(cpu) = next else { return };
        hooks::schedule(m, cpu, false);
    }
    panic!("softirqs keep being raised");
}

/// Every check that must hold between hooks.
pub fn check(m: &Model, known: &Known) -> Result<(), String> {
    m.check_invariants(&known.0)?;
    m.check_work_conserving()?;
    for c in 0..m.nr_cpus {
        use null_policy::mask::Bits;
        if m.free.test(c) != m.slots[c as usize].get().is_none() {
            return Err(format!("cpu {c}: free bit disagrees with its slot"));
        }
    }
    Ok(())
}
