//! Random sequences of the hooks Xen calls (including pCPUs leaving and
//! joining the pool, hard/soft affinity changes, each followed by the
//! migration Xen makes, also of waiting units, which move them between the
//! waitqueue's lists, and vCPUs coming up in a paused domain), each hook
//! under the runqueue locks Xen holds, on random topologies
//! (1 to 256 pCPUs, more units than pCPUs), with the scheduler's invariants checked
//! after every step and the independent oracle (`common/oracle.rs`)
//! predicting every assignment and the waitqueue's order.

mod common;

use common::oracle::Oracle;
use common::{apply, check, enabled, Known, Op};
use null_model::{mask_of, Model};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Setup {
    nr: u32,
    /// (hard, soft) per unit, as CPU lists within 0..nr.
    units: Vec<(Vec<u32>, Vec<u32>)>,
    ops: Vec<Op>,
    /// xentrace on: `do_schedule` takes its slow path with every pick.
    tracing: bool,
}

fn setup() -> impl Strategy<Value = Setup> {
    // Mostly small machines, where collisions happen; some up to NR_CPUS.
    let nr = prop_oneof![8 => 1u32..=8, 1 => 9u32..=256];
    nr.prop_flat_map(|nr| {
        let some = prop::collection::btree_set(0..nr, 1..=(nr as usize).min(6))
            .prop_map(|s| s.into_iter().collect::<Vec<_>>());
        // Every pCPU: with no effective soft affinity, the unit waits on the
        // waitqueue's unrestricted list.
        let cpu_set = prop_oneof![2 => some, 1 => Just((0..nr).collect::<Vec<_>>())];
        let units = prop::collection::vec((cpu_set.clone(), cpu_set), 1..=12);
        units.prop_flat_map(move |units| {
            let n = units.len();
            let op = prop_oneof![
                3 => (0..n).prop_map(Op::Insert),
                1 => (0..n).prop_map(Op::Remove),
                1 => (0..n).prop_map(Op::Offline),
                1 => (0..n).prop_map(Op::Online),
                1 => (0..n).prop_map(Op::OnlineNoWake),
                1 => (0..n).prop_map(Op::Wake),
                1 => (0..n).prop_map(Op::Migrate),
                1 => (0..nr).prop_map(Op::Schedule),
                1 => (0..n, 0..nr, 0..nr).prop_map(|(u, a, b)| Op::SetAffinity(u, a, b)),
                1 => (0..n).prop_map(Op::Unpin),
                1 => (0..n, 0..nr).prop_map(|(u, a)| Op::SetSoft(u, a)),
                1 => (0..nr).prop_map(Op::RemoveCpu),
                1 => (0..nr).prop_map(Op::AddCpu),
            ];
            (prop::collection::vec(op, 1..80), any::<bool>()).prop_map(move |(ops, tracing)| {
                Setup {
                    nr,
                    units: units.clone(),
                    ops,
                    tracing,
                }
            })
        })
    })
}

/// Cases per run, in CI too (an explicit count wins over `PROPTEST_CASES`).
const CASES: u32 = 3000;

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_oracle_agrees(s in setup()) {
        let mut m = Model::new(s.nr);
        m.tracing = s.tracing;
        let spec: Vec<_> = s.units.iter().map(|(h, so)| (h.clone(), so.clone(), h[0])).collect();
        for (h, so, master) in &spec {
            m.add_unit(mask_of(h.iter().copied()), mask_of(so.iter().copied()), *master);
        }
        let mut oracle = Oracle::new(s.nr as usize, &spec);
        let mut known = Known::default();
        for &op in &s.ops {
            if !enabled(&m, &known, op) {
                continue;
            }
            apply(&mut m, &mut known, op);
            oracle.apply(op);
            check(&m, &known).map_err(|e| TestCaseError::fail(format!("after {op:?}: {e}")))?;
            let slots: Vec<Option<usize>> = m.slots.iter().map(|c| c.get()).collect();
            prop_assert_eq!(&slots, &oracle.slot, "after {:?}: assignments differ from the oracle", op);
            prop_assert_eq!(m.waiting(), oracle.waitq.iter().copied().collect::<Vec<_>>(),
                "after {:?}: waitqueue differs from the oracle", op);
            let masters: Vec<usize> = m.units.iter().map(|u| u.master.get() as usize).collect();
            prop_assert_eq!(&masters, &oracle.master, "after {:?}: unit pCPUs differ", op);
        }
    }
}
