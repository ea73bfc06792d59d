//! Host benchmark of the policy core at scale: 4096 pCPUs (masks of 64
//! words), all busy, with 10 to 10,000 waiting units of three affinity
//! mixes. Measures `pick_res()` and the hand-off of a freed pCPU
//! (`unit_deassign()`: free it, scan the waitqueue, assign the winner) for
//! the two-list waitqueue and for null.c's linear scan of one FIFO, kept
//! here as the reference. Both run in lockstep on identical states and must
//! hand every pCPU to the same unit. After each hand-off the freed unit is
//! re-inserted with the winner's affinities, so the queue length and its
//! mix stay constant. Prints a markdown table; nothing asserts on time.
//!
//! `cargo bench -p null-policy --bench handoff`

use std::hint::black_box;
use std::time::{Duration, Instant};

use null_model::Model;
use null_policy::affinity::BalanceStep;
use null_policy::hooks::{self, Env, Waitq};
use null_policy::waitq::Fifo;

const NR: u32 = 4096;
const W: usize = 64;
type M = Model<W>;
type Mask = [u64; W];

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy)]
enum Mix {
    Unrestricted,
    TenPercent,
    Restricted,
}

impl Mix {
    fn name(self) -> &'static str {
        match self {
            Mix::Unrestricted => "all unrestricted",
            Mix::TenPercent => "10% restricted",
            Mix::Restricted => "all restricted",
        }
    }
    fn restricted(self, rng: &mut Rng) -> bool {
        match self {
            Mix::Unrestricted => false,
            Mix::TenPercent => rng.below(10) == 0,
            Mix::Restricted => true,
        }
    }
}

/// (hard, soft): full/full, or a random hard affinity (each pCPU with
/// probability 1/2) with soft affinity one random 512-pCPU block.
fn profile(rng: &mut Rng, restricted: bool) -> (Mask, Mask) {
    if !restricted {
        return ([!0; W], [!0; W]);
    }
    let mut hard = [0; W];
    for w in &mut hard {
        *w = rng.next();
    }
    hard[0] |= 1;
    let mut soft = [0; W];
    let block = rng.below((W / 8) as u64) as usize * 8;
    soft[block..block + 8].fill(!0);
    (hard, soft)
}

/// `insert_unit`, as Xen calls it.
fn insert(m: &M, u: usize) {
    m.insert_unit(u, u32::MAX);
}

/// A machine with every pCPU busy and `n` waiting units; `single_list`:
/// one FIFO, as null.c (the reference).
fn setup(mix: Mix, n: usize, single_list: bool) -> M {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
    let mut m = M::with_words(NR);
    m.waitq.get_mut().single_list = single_list;
    for _ in 0..NR {
        let u = m.add_unit([!0; W], [!0; W], 0);
        insert(&m, u);
    }
    for _ in 0..n {
        let r = mix.restricted(&mut rng);
        let (hard, soft) = profile(&mut rng, r);
        let u = m.add_unit(hard, soft, 0);
        insert(&m, u);
    }
    assert_eq!(m.waiting().len(), n, "setup: every extra unit waits");
    quiesce(&m);
    m
}

fn quiesce(m: &M) {
    m.events.borrow_mut().clear();
    m.stats.borrow_mut().clear();
    m.tickled.borrow_mut().clear();
}

/// null.c's `unit_deassign()` with its scan: soft step then hard step, each
/// a linear walk of the one FIFO.
fn linear_deassign(m: &M, a: usize) {
    let cpu = m.master(a);
    m.set_slot(cpu, None);
    m.mark_free(cpu, true);
    m.with_waitq(|wq| {
        for step in [BalanceStep::Soft, BalanceStep::Hard] {
            let found = Fifo::new(&*wq).map(|(w, _)| w).find(|&w| {
                let aff = m.affinity(w);
                (step == BalanceStep::Hard || aff.has_soft_affinity()) && aff.allows(cpu, step)
            });
            if let Some(w) = found {
                wq.remove(w);
                hooks::unit_assign(m, w, cpu);
                m.raise_softirq(cpu);
                return;
            }
        }
    });
}

/// Hand the winner's affinities to the freed unit `a` and queue it again.
fn recycle(m: &mut M, a: usize, winner: Option<usize>) {
    if let Some(w) = winner {
        let (hard, soft) = (m.units[w].hard, m.units[w].soft);
        m.set_affinity(a, Some(hard), Some(soft));
    }
    insert(m, a);
    quiesce(m);
}

/// Cost of one `Instant::now()` pair, subtracted from each sample.
fn timer_overhead() -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..10_000 {
        let t = Instant::now();
        best = best.min(t.elapsed());
    }
    best
}

fn ns(total: Duration, overhead: Duration, count: u32) -> f64 {
    (total.as_nanos() as f64 / count as f64 - overhead.as_nanos() as f64).max(0.0)
}

fn main() {
    let overhead = timer_overhead();
    let iters: u32 = std::env::var("NULL_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    println!(
        "{NR} pCPUs, all busy; {iters} hand-offs per row; ns per operation (timer overhead {} ns subtracted)\n",
        overhead.as_nanos()
    );
    println!("| mix | waiting | pick_res | hand-off, null.c linear scan | hand-off, two lists | speed-up |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for mix in [Mix::Unrestricted, Mix::TenPercent, Mix::Restricted] {
        for n in [10usize, 100, 1000, 10_000] {
            let mut ours = setup(mix, n, false);
            let mut linear = setup(mix, n, true);
            let mut rng = Rng(42);
            let (mut t_ours, mut t_lin, mut t_pick) =
                (Duration::ZERO, Duration::ZERO, Duration::ZERO);
            let mut picks = 0;
            let warmup = iters / 10;
            for i in 0..warmup + iters {
                let cpu = rng.below(NR as u64) as u32;
                let a = ours.slot(cpu).expect("every pCPU is busy");
                assert_eq!(linear.slot(cpu), Some(a));

                let t = Instant::now();
                hooks::remove(&ours, a);
                let d_ours = t.elapsed();
                let t = Instant::now();
                linear_deassign(&linear, a);
                let d_lin = t.elapsed();

                let winner = ours.slot(cpu);
                assert_eq!(
                    winner,
                    linear.slot(cpu),
                    "both hand cpu {cpu} to the same unit"
                );
                recycle(&mut ours, a, winner);
                recycle(&mut linear, a, winner);

                // pick_res of a random waiting unit.
                let w = ours.waiting()[rng.below(n as u64) as usize];
                let t = Instant::now();
                black_box(hooks::pick_res(&ours, black_box(w)));
                let d_pick = t.elapsed();
                ours.events.borrow_mut().clear();

                if i >= warmup {
                    t_ours += d_ours;
                    t_lin += d_lin;
                    t_pick += d_pick;
                    picks += 1;
                }
            }
            assert_eq!(ours.waiting(), linear.waiting(), "same FIFO in the end");
            let (o, l) = (ns(t_ours, overhead, iters), ns(t_lin, overhead, iters));
            println!(
                "| {} | {n} | {:.0} | {:.0} | {:.0} | {:.1}x |",
                mix.name(),
                ns(t_pick, overhead, picks),
                l,
                o,
                l / o.max(1.0)
            );
        }
    }
}
