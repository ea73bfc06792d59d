//! The two-list waitqueue against null.c's single FIFO: after random
//! enqueues, removals and affinity changes of waiting units (through the
//! `adjust_affinity` path), with random trylock contention, offering any
//! pCPU must ask the same unit a linear two-pass scan of one FIFO asks
//! first (and no other: a busy one is not passed over), and end the same
//! way.

use std::collections::VecDeque;

use null_model::{mask_of, Mask, Model};
use null_policy::affinity::BalanceStep;
use null_policy::handoff::{offer, Handoff};
use null_policy::hooks::{Class, Env, Waitq};
use proptest::prelude::*;

/// null.c's scan (with patch 0009): soft step then hard step, each over the
/// one FIFO; the first suitable unit is the only one asked.
fn linear_scan(
    m: &Model,
    fifo: &VecDeque<usize>,
    cpu: u32,
    mut try_take: impl FnMut(usize) -> bool,
) -> Handoff<usize> {
    for step in [BalanceStep::Soft, BalanceStep::Hard] {
        for &w in fifo {
            let aff = m.affinity(w);
            if step == BalanceStep::Soft && !aff.has_soft_affinity() {
                continue;
            }
            if !aff.allows(cpu, step) {
                continue;
            }
            return if try_take(w) {
                Handoff::Taken(w)
            } else {
                Handoff::Contended
            };
        }
    }
    Handoff::NoneSuitable
}

#[derive(Clone, Debug)]
enum QOp {
    Push(usize),
    Remove(usize),
    /// `sched_set_affinity(unit, hard, soft)`; `None`: unchanged.
    SetAffinity(usize, Option<Vec<u32>>, Option<Vec<u32>>),
}

#[derive(Clone, Debug)]
struct Case {
    nr: u32,
    pool: Vec<u32>,
    units: Vec<(Vec<u32>, Vec<u32>)>,
    ops: Vec<QOp>,
    /// Units whose runqueue lock a trylock fails on, per check.
    contended: Vec<Vec<usize>>,
}

fn case() -> impl Strategy<Value = Case> {
    // Up to 70 pCPUs: masks of two words, so "every pCPU" spans words.
    (1u32..=70).prop_flat_map(|nr| {
        let all = (0..nr).collect::<Vec<u32>>();
        let some = prop::collection::btree_set(0..nr, 1..=(nr as usize).min(5))
            .prop_map(|s| s.into_iter().collect::<Vec<_>>());
        let set = prop_oneof![2 => Just(all.clone()), 1 => some];
        let pool = prop::collection::btree_set(0..nr, 1..=nr as usize)
            .prop_map(|s| s.into_iter().collect::<Vec<_>>());
        let units = prop::collection::vec((set.clone(), set.clone()), 1..=10);
        (Just(nr), pool, units).prop_flat_map(move |(nr, pool, units)| {
            let n = units.len();
            let maybe = prop::option::weighted(0.6, set.clone());
            let op = prop_oneof![
                4 => (0..n).prop_map(QOp::Push),
                1 => (0..n).prop_map(QOp::Remove),
                2 => (0..n, maybe.clone(), maybe)
                    .prop_map(|(u, h, s)| QOp::SetAffinity(u, h, s)),
            ];
            let ops = prop::collection::vec(op, 1..40);
            let contended = prop::collection::vec(prop::collection::vec(0..n, 0..=n), 1..40);
            (ops, contended).prop_map(move |(ops, contended)| Case {
                nr,
                pool: pool.clone(),
                units: units.clone(),
                ops,
                contended,
            })
        })
    })
}

fn mask(cpus: &[u32]) -> Mask {
    mask_of(cpus.iter().copied())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn offer_asks_what_a_linear_fifo_scan_asks(c in case()) {
        let mut m = Model::new(c.nr);
        m.pool = mask(&c.pool);
        for (h, s) in &c.units {
            m.add_unit(mask(h), mask(s), h[0]);
        }
        let mut fifo: VecDeque<usize> = VecDeque::new();
        for (i, op) in c.ops.iter().enumerate() {
            match op {
                QOp::Push(u) => {
                    if !fifo.contains(u) {
                        m.waitq.borrow_mut().push_back(*u, Class::of(&m.affinity(*u)));
                        fifo.push_back(*u);
                    }
                }
                QOp::Remove(u) => {
                    m.waitq.borrow_mut().remove(*u);
                    fifo.retain(|w| w != u);
                }
                QOp::SetAffinity(u, h, s) => {
                    m.set_affinity(*u, h.as_deref().map(mask), s.as_deref().map(mask));
                }
            }
            prop_assert_eq!(m.waiting(), Vec::from(fifo.clone()), "after {:?}", op);
            m.check_waitq().map_err(TestCaseError::fail)?;
            let contended = &c.contended[i % c.contended.len()];
            for cpu in 0..c.nr {
                let (mut ours, mut theirs) = (Vec::new(), Vec::new());
                let got = offer(&*m.waitq.borrow(), |w| m.affinity(w), cpu, |w| {
                    ours.push(w);
                    !contended.contains(&w)
                });
                let want = linear_scan(&m, &fifo, cpu, |w| {
                    theirs.push(w);
                    !contended.contains(&w)
                });
                prop_assert_eq!(got, want, "cpu {} after {:?}", cpu, op);
                prop_assert_eq!(&ours, &theirs, "trylock order, cpu {} after {:?}", cpu, op);
            }
        }
    }
}
