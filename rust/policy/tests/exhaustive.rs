//! Exhaustive explicit-state search for small systems: every state
//! reachable by any interleaving of the hooks, for 3 pCPUs and up to 4
//! units, over every multiset of unit affinities drawn from a set of
//! shapes (full, pinned, partial hard affinity; soft affinity equal to,
//! overlapping or disjoint from the hard one). Every transition is checked
//! against the invariants and the oracle.
//!
//! Covers: insert, remove, offline (sleep), online (wake), online without
//! a wake (a paused domain's `setvcpucontext`) and a later wake, migrate
//! and schedule in any order, with softirqs served after each, each hook
//! under the runqueue locks Xen holds (the model panics on a change made
//! without the lock that protects it). Not covered:
//! trylock contention and concurrent hooks (one hook at a time), random
//! numbers other than 0 in `cpumask_any`.

mod common;

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::oracle::Oracle;
use common::{apply, check, enabled, Known, Op};
use null_model::{mask_of, Model};

const NR: u32 = 3;

/// (hard, soft) shapes a unit may have.
fn shapes() -> Vec<(Vec<u32>, Vec<u32>)> {
    let hards: [&[u32]; 4] = [&[0, 1, 2], &[0], &[1, 2], &[0, 1]];
    let mut v = Vec::new();
    for h in hards {
        for s in [h, &[2][..], &[0][..]] {
            v.push((h.to_vec(), s.to_vec()));
        }
    }
    v
}

/// Multisets of `k` shape indices (units are interchangeable).
fn multisets(n: usize, k: usize) -> Vec<Vec<usize>> {
    fn go(start: usize, n: usize, k: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if cur.len() == k {
            out.push(cur.clone());
            return;
        }
        for i in start..n {
            cur.push(i);
            go(i, n, k, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    go(0, n, k, &mut Vec::new(), &mut out);
    out
}

/// A state's identity, packed: per pCPU its unit (3 bits, 7 = none), the
/// waitqueue in order (3 bits each after a 3-bit length), per unit its
/// master pCPU (2 bits) and online/parked flags, and the known units as a
/// set (they are one: the driver only asks `contains`).
type Key = u64;

fn key(m: &Model, known: &Known) -> Key {
    let mut k: u64 = 0;
    let mut put = |v: u64, bits: u32| {
        debug_assert!(v < 1 << bits, "{v} does not fit in {bits} bits");
        k = (k << bits) | v;
    };
    for c in &m.slots {
        put(c.get().map_or(7, |u| u as u64), 3);
    }
    let waiting = m.waiting();
    put(waiting.len() as u64, 3);
    for u in waiting {
        put(u as u64, 3);
    }
    for u in &m.units {
        put(u64::from(u.master.get()), 2);
        put(u64::from(u.online) << 1 | u64::from(u.parked), 2);
    }
    let set = known.0.iter().fold(0, |s, &u| s | 1 << u);
    put(set, 4);
    k
}

/// FxHash's multiply: the keys are already dense bit patterns.
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys are hashed");
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ v >> 29).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type Seen = HashSet<Key, std::hash::BuildHasherDefault<KeyHasher>>;

/// One configuration: each unit's (hard, soft, initial master pCPU).
type Spec = Vec<(Vec<u32>, Vec<u32>, u32)>;

/// Explore one configuration; returns (states, transitions).
fn explore(spec: &Spec) -> (usize, usize) {
    let mut m = Model::new(NR);
    // xentrace off: do_schedule's usual path, as in Xen (the property
    // tests take both).
    m.tracing = false;
    for (h, s, master) in spec {
        m.add_unit(
            mask_of(h.iter().copied()),
            mask_of(s.iter().copied()),
            *master,
        );
    }
    let oracle = Oracle::new(NR as usize, spec);
    let n = spec.len();
    let ops: Vec<Op> = (0..n)
        .flat_map(|u| {
            [
                Op::Insert(u),
                Op::Remove(u),
                Op::Offline(u),
                Op::Online(u),
                Op::OnlineNoWake(u),
                Op::Wake(u),
                Op::Migrate(u),
            ]
        })
        .chain((0..NR).map(Op::Schedule))
        .collect();

    assert!(n <= 4 && NR <= 3, "the state key packs 4 units and 3 pCPUs");
    let known = Known::default();
    let mut seen = Seen::default();
    seen.insert(key(&m, &known));
    // How each state was reached: (parent, op) per state, the root first;
    // a failure prints the path back to the root.
    let mut trail: Vec<(usize, Op)> = vec![(usize::MAX, Op::Schedule(0))];
    let path_to = |trail: &[(usize, Op)], mut at: usize| {
        let mut path = Vec::new();
        while at != 0 {
            path.push(trail[at].1);
            at = trail[at].0;
        }
        path.reverse();
        path
    };
    let mut queue = VecDeque::from([(m, known, oracle, 0)]);
    let mut transitions = 0;
    while let Some((m, known, oracle, at)) = queue.pop_front() {
        for &op in &ops {
            if !enabled(&m, &known, op) {
                continue;
            }
            let (mut m2, mut k2, mut o2) = (m.clone(), known.clone(), oracle.clone());
            apply(&mut m2, &mut k2, op);
            o2.apply(op);
            transitions += 1;
            let fail = |what: String| -> ! {
                let path = path_to(&trail, at);
                panic!("{what}\n  units {spec:?}\n  path {path:?} then {op:?}");
            };
            if let Err(e) = check(&m2, &k2) {
                fail(e);
            }
            let slots: Vec<Option<usize>> = m2.slots.iter().map(|c| c.get()).collect();
            if slots != o2.slot || m2.waiting() != o2.waitq.iter().copied().collect::<Vec<_>>() {
                fail(format!(
                    "core {slots:?} / {:?} vs oracle {:?} / {:?}",
                    m2.waiting(),
                    o2.slot,
                    o2.waitq
                ));
            }
            if seen.insert(key(&m2, &k2)) {
                trail.push((at, op));
                // Events and softirq lists would only grow: drop them.
                m2.events.borrow_mut().clear();
                m2.stats.borrow_mut().clear();
                queue.push_back((m2, k2, o2, trail.len() - 1));
            }
        }
    }
    (seen.len(), transitions)
}

#[test]
fn every_reachable_state_of_small_systems_is_sound() {
    let max_units: usize = std::env::var("NULL_EXHAUSTIVE_UNITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let shapes = shapes();
    let specs: Vec<Spec> = (1..=max_units)
        .flat_map(|k| multisets(shapes.len(), k))
        .map(|ms| {
            ms.iter()
                .map(|&i| (shapes[i].0.clone(), shapes[i].1.clone(), shapes[i].0[0]))
                .collect()
        })
        .collect();
    // The configurations are independent: one worker per core takes the
    // next one until none is left (a failing one panics its worker, and
    // the scope re-raises the panic here).
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (states, transitions) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    // A failure ends the search: a panicking worker takes
                    // the rest of the configurations off the list.
                    struct StopOnPanic<'a>(&'a AtomicUsize);
                    impl Drop for StopOnPanic<'_> {
                        fn drop(&mut self) {
                            if std::thread::panicking() {
                                self.0.store(usize::MAX / 2, Ordering::Relaxed);
                            }
                        }
                    }
                    let _stop = StopOnPanic(&next);
                    let (mut states, mut transitions) = (0, 0);
                    while let Some(spec) = specs.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let (s, t) = explore(spec);
                        states += s;
                        transitions += t;
                    }
                    (states, transitions)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .fold((0, 0), |(s, t), (s2, t2)| (s + s2, t + t2))
    });
    let configs = specs.len();
    println!("exhaustive: {NR} pCPUs, 1..={max_units} units: {configs} configurations ({workers} workers), {states} states, {transitions} transitions checked");
    assert!(states > configs, "the search explored nothing");
}
