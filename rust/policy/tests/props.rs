//! Random sequences of the hooks Xen calls, on random topologies, with the
//! scheduler's invariants checked after every step (proptest).
//!
//! The driver calls hooks only as Xen would: insert then wake; offline is
//! "mark down, then sleep", online is "mark up, then wake"; a migration goes
//! where `pick_resource` says; raised SCHEDULE softirqs are served by
//! running `schedule` on the tickled pCPU.

use null_policy::hooks::{self, Insert, Next};
use null_policy::mask::Bits;
use null_policy::model::{mask_of, Mask, Model};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Insert(usize),
    Remove(usize),
    Offline(usize),
    Online(usize),
    Migrate(usize),
    Schedule(u32),
}

#[derive(Clone, Debug)]
struct Setup {
    nr: u32,
    /// (hard, soft) per unit, as CPU lists within 0..nr.
    units: Vec<(Vec<u32>, Vec<u32>)>,
    ops: Vec<Op>,
}

fn setup() -> impl Strategy<Value = Setup> {
    (1u32..=8).prop_flat_map(|nr| {
        let cpu_set = prop::collection::btree_set(0..nr, 1..=nr as usize)
            .prop_map(|s| s.into_iter().collect::<Vec<_>>());
        let units = prop::collection::vec((cpu_set.clone(), cpu_set), 1..=10);
        units.prop_flat_map(move |units| {
            let n = units.len();
            let op = prop_oneof![
                3 => (0..n).prop_map(Op::Insert),
                1 => (0..n).prop_map(Op::Remove),
                1 => (0..n).prop_map(Op::Offline),
                1 => (0..n).prop_map(Op::Online),
                1 => (0..n).prop_map(Op::Migrate),
                1 => (0..nr).prop_map(Op::Schedule),
            ];
            prop::collection::vec(op, 1..60).prop_map(move |ops| Setup {
                nr,
                units: units.clone(),
                ops,
            })
        })
    })
}

/// Serve raised softirqs: each tickled pCPU runs `schedule`.
fn serve_softirqs(m: &Model) {
    for _ in 0..1000 {
        let next = m.tickled.borrow_mut().pop();
        let Some(cpu) = next else { return };
        hooks::schedule(m, cpu, false);
    }
    panic!("softirqs keep being raised");
}

fn run(s: &Setup) -> Result<(), TestCaseError> {
    let mut m = Model::new(s.nr);
    for (hard, soft) in &s.units {
        let (h, so): (Mask, Mask) = (mask_of(hard.iter().copied()), mask_of(soft.iter().copied()));
        m.add_unit(h, so, hard[0]);
    }
    let mut inserted: Vec<usize> = Vec::new();
    for op in &s.ops {
        match *op {
            Op::Insert(u) if !inserted.contains(&u) => {
                if m.units[u].online {
                    loop {
                        let cpu = hooks::pick_res(&m, u);
                        prop_assert!(
                            m.units[u].hard.test(cpu),
                            "picked {cpu} outside hard affinity"
                        );
                        m.units[u].master.set(cpu);
                        if hooks::insert_place(&m, u) != Insert::Retry {
                            break;
                        }
                    }
                }
                inserted.push(u);
                // vcpu_wake() only calls the hook for a runnable vCPU, and
                // an offline one is not runnable (VPF_down).
                if m.units[u].online {
                    hooks::wake(&m, u);
                }
            }
            Op::Remove(u) if inserted.contains(&u) => {
                hooks::remove(&m, u);
                inserted.retain(|&x| x != u);
            }
            Op::Offline(u) if m.units[u].online => {
                m.units[u].online = false;
                if inserted.contains(&u) {
                    hooks::sleep(&m, u);
                }
            }
            Op::Online(u) if !m.units[u].online => {
                m.units[u].online = true;
                if inserted.contains(&u) {
                    hooks::wake(&m, u);
                }
            }
            Op::Migrate(u) if inserted.contains(&u) && m.units[u].online => {
                let to = hooks::pick_res(&m, u);
                hooks::migrate(&m, u, to);
            }
            Op::Schedule(cpu) => {
                if let Next::Unit(u) = hooks::schedule(&m, cpu, false) {
                    prop_assert_eq!(m.slots[cpu as usize].get(), Some(u));
                }
            }
            _ => continue,
        }
        serve_softirqs(&m);
        m.check_invariants(&inserted).map_err(TestCaseError::fail)?;
        m.check_work_conserving().map_err(TestCaseError::fail)?;
        // The free mask is exactly the pCPUs without a unit.
        for c in 0..s.nr {
            prop_assert_eq!(
                m.free.test(c),
                m.slots[c as usize].get().is_none(),
                "cpu {}",
                c
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_hook_sequences(s in setup()) {
        run(&s)?;
    }
}
