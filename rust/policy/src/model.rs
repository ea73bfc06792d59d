//! A host model of the Xen state the null scheduler works on, for tests.
//!
//! Units, pCPUs and masks are plain data; [`Model`] implements [`Env`] so
//! the hook logic of [`crate::hooks`] runs on it unchanged, and
//! [`Model::check_invariants`] states what must hold between hooks.

use core::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::vec::Vec;

use crate::affinity::{Affinity, BalanceStep};
use crate::hooks::{Env, Event, Stat, Waitq};
use crate::mask::{AtomicMask, Bits};

/// Words in the model's masks: 256 pCPUs, Xen's default `NR_CPUS`.
pub const WORDS: usize = 4;
/// A CPU mask of the model.
pub type Mask = [u64; WORDS];

/// A mask with the given CPUs set.
pub fn mask_of(cpus: impl IntoIterator<Item = u32>) -> Mask {
    let mut m = [0; WORDS];
    for c in cpus {
        m[(c / 64) as usize] |= 1 << (c % 64);
    }
    m
}

/// One unit of the model.
#[derive(Clone, Debug)]
pub struct UnitState {
    /// Hard affinity.
    pub hard: Mask,
    /// Soft affinity.
    pub soft: Mask,
    /// `soft_aff_effective`.
    pub soft_effective: bool,
    /// `is_unit_online()`.
    pub online: bool,
    /// `unit_runnable()`.
    pub runnable: bool,
    /// `sched_unit_master()`.
    pub master: Cell<u32>,
}

/// The model's waitqueue.
#[derive(Default)]
pub struct ModelWaitq(RefCell<VecDeque<usize>>);

impl Waitq for ModelWaitq {
    type Unit = usize;
    fn find_first(&self, mut f: impl FnMut(usize) -> bool) -> Option<usize> {
        // Holding the borrow makes a waitqueue change from `f` panic.
        self.0.borrow().iter().copied().find(|&u| f(u))
    }
    fn push_back(&self, unit: usize) {
        assert!(!self.0.borrow().contains(&unit), "unit {unit} queued twice");
        self.0.borrow_mut().push_back(unit);
    }
    fn remove(&self, unit: usize) {
        self.0.borrow_mut().retain(|&u| u != unit);
    }
    fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }
}

/// The whole state: a single pool of `nr_cpus` pCPUs (the pool mask may be
/// a subset), the units, and what the scheduler did.
pub struct Model {
    /// `nr_cpu_ids`.
    pub nr_cpus: u32,
    /// The pool's pCPUs (`cpupool->res_valid`).
    pub pool: Mask,
    /// The units, by index.
    pub units: Vec<UnitState>,
    /// `npc->unit` per pCPU.
    pub slots: Vec<Cell<Option<usize>>>,
    /// `prv->cpus_free`.
    pub free: AtomicMask<WORDS>,
    /// `prv->waitq`.
    pub waitq: ModelWaitq,
    /// `curr_on_cpu()` per pCPU.
    pub curr: Vec<Cell<Option<usize>>>,
    /// pCPUs whose runqueue lock a trylock fails on (contention).
    pub contended: RefCell<Vec<u32>>,
    /// Softirqs raised, in order.
    pub tickled: RefCell<Vec<u32>>,
    /// Events reported, in order.
    pub events: RefCell<Vec<Event<usize>>>,
    /// Counters cranked, in order.
    pub stats: RefCell<Vec<Stat>>,
    /// The random numbers to hand out (then 0).
    pub random: RefCell<VecDeque<u32>>,
}

impl Model {
    /// A model with `nr_cpus` pCPUs, all in the pool and free (as after
    /// `switch_sched` on each), and no unit.
    pub fn new(nr_cpus: u32) -> Self {
        let m = Model {
            nr_cpus,
            pool: mask_of(0..nr_cpus),
            units: Vec::new(),
            slots: (0..nr_cpus).map(|_| Cell::new(None)).collect(),
            free: AtomicMask::new(),
            waitq: ModelWaitq::default(),
            curr: (0..nr_cpus).map(|_| Cell::new(None)).collect(),
            contended: RefCell::new(Vec::new()),
            tickled: RefCell::new(Vec::new()),
            events: RefCell::new(Vec::new()),
            stats: RefCell::new(Vec::new()),
            random: RefCell::new(VecDeque::new()),
        };
        for c in 0..nr_cpus {
            m.free.set(c);
        }
        m
    }

    /// Add a unit (as `alloc_udata` does; not yet inserted), pointing at
    /// pCPU `master`.
    pub fn add_unit(&mut self, hard: Mask, soft: Mask, master: u32) -> usize {
        self.units.push(UnitState {
            hard,
            soft,
            soft_effective: hard != soft,
            online: true,
            runnable: true,
            master: Cell::new(master),
        });
        self.units.len() - 1
    }

    /// The waiting units, oldest first.
    pub fn waiting(&self) -> Vec<usize> {
        self.waitq.0.borrow().iter().copied().collect()
    }

    /// Check the scheduler's invariants between hooks; returns a
    /// description of the first violation.
    ///
    /// `inserted` lists the units the scheduler knows (inserted, not
    /// removed).
    pub fn check_invariants(&self, inserted: &[usize]) -> Result<(), std::string::String> {
        use std::format;
        let waiting = self.waiting();
        for c in 0..self.nr_cpus {
            let slot = self.slots[c as usize].get();
            // A pCPU of the pool with a unit is never marked free.
            if slot.is_some() && self.free.test(c) && self.pool.test(c) {
                return Err(format!("cpu {c} has unit {slot:?} but is marked free"));
            }
            if let Some(u) = slot {
                let st = &self.units[u];
                if st.master.get() != c {
                    return Err(format!(
                        "unit {u} assigned to cpu {c} but points at {}",
                        st.master.get()
                    ));
                }
                if !(st.hard.test(c) && self.pool.test(c)) {
                    return Err(format!(
                        "unit {u} on cpu {c} outside its hard affinity or pool"
                    ));
                }
                if waiting.contains(&u) {
                    return Err(format!("unit {u} both on cpu {c} and waiting"));
                }
                if !inserted.contains(&u) {
                    return Err(format!("unit {u} on cpu {c} but not inserted"));
                }
            }
        }
        for &u in inserted {
            let st = &self.units[u];
            let on = self.slots.iter().filter(|s| s.get() == Some(u)).count();
            let queued = waiting.iter().filter(|&&w| w == u).count();
            if st.online && on + queued != 1 {
                return Err(format!(
                    "online unit {u}: on {on} pCPUs, queued {queued} times"
                ));
            }
            if !st.online && on + queued != 0 {
                return Err(format!(
                    "offline unit {u}: on {on} pCPUs, queued {queued} times"
                ));
            }
        }
        for &w in &waiting {
            if !inserted.contains(&w) {
                return Err(format!("unit {w} waiting but not inserted"));
            }
        }
        Ok(())
    }

    /// Work conservation: no waiting unit may run on a free pCPU of the
    /// pool (checked at points where no wake-up is pending).
    pub fn check_work_conserving(&self) -> Result<(), std::string::String> {
        self.check_work_conserving_except(&[])
    }

    /// [`Model::check_work_conserving`], not counting the units in `exempt`.
    pub fn check_work_conserving_except(
        &self,
        exempt: &[usize],
    ) -> Result<(), std::string::String> {
        for w in self.waiting().into_iter().filter(|w| !exempt.contains(w)) {
            for c in 0..self.nr_cpus {
                if self.slots[c as usize].get().is_none()
                    && self.pool.test(c)
                    && self.affinity(w).allows(c, BalanceStep::Hard)
                {
                    return Err(std::format!("unit {w} waits while allowed cpu {c} is free"));
                }
            }
        }
        Ok(())
    }
}

impl Clone for Model {
    fn clone(&self) -> Self {
        let free = AtomicMask::new();
        for c in 0..self.nr_cpus {
            if self.free.test(c) {
                free.set(c);
            }
        }
        Model {
            nr_cpus: self.nr_cpus,
            pool: self.pool,
            units: self.units.clone(),
            slots: self.slots.clone(),
            free,
            waitq: ModelWaitq(RefCell::new(self.waitq.0.borrow().clone())),
            curr: self.curr.clone(),
            contended: self.contended.clone(),
            tickled: self.tickled.clone(),
            events: self.events.clone(),
            stats: self.stats.clone(),
            random: self.random.clone(),
        }
    }
}

impl Env for Model {
    type Unit = usize;
    type Mask = Mask;
    type Free = AtomicMask<WORDS>;
    type Waitq = ModelWaitq;
    type RunqGuard = ();

    fn nr_cpu_ids(&self) -> u32 {
        self.nr_cpus
    }
    fn affinity(&self, unit: usize) -> Affinity<'_, Mask> {
        let st = &self.units[unit];
        Affinity {
            hard: &st.hard,
            soft: &st.soft,
            soft_effective: st.soft_effective,
            pool: &self.pool,
            nr: self.nr_cpus,
        }
    }
    fn is_online(&self, unit: usize) -> bool {
        self.units[unit].online
    }
    fn is_runnable(&self, unit: usize) -> bool {
        self.units[unit].runnable
    }
    fn runnable_state(&self, unit: usize) -> bool {
        self.units[unit].runnable
    }
    fn master(&self, unit: usize) -> u32 {
        self.units[unit].master.get()
    }
    fn set_res(&self, unit: usize, cpu: u32) {
        self.units[unit].master.set(cpu);
    }
    fn curr_on_cpu(&self, cpu: u32) -> Option<usize> {
        self.curr[cpu as usize].get()
    }
    fn resource_master(&self, cpu: u32) -> u32 {
        cpu
    }
    fn random(&self) -> u32 {
        self.random.borrow_mut().pop_front().unwrap_or(0)
    }
    fn slot(&self, cpu: u32) -> Option<usize> {
        self.slots[cpu as usize].get()
    }
    fn set_slot(&self, cpu: u32, unit: Option<usize>) {
        self.slots[cpu as usize].set(unit);
    }
    fn free(&self) -> &AtomicMask<WORDS> {
        &self.free
    }
    fn mark_free(&self, cpu: u32, free: bool) {
        if free {
            self.free.set(cpu)
        } else {
            self.free.clear(cpu)
        }
    }
    fn is_queued(&self, unit: usize) -> bool {
        self.waitq.0.borrow().contains(&unit)
    }
    fn with_waitq<R>(&self, f: impl FnOnce(&ModelWaitq) -> R) -> R {
        f(&self.waitq)
    }
    fn trylock_master(&self, unit: usize, sched_cpu: u32) -> Option<()> {
        let cpu = self.master(unit);
        if cpu == sched_cpu {
            return Some(()); // our own lock, already held
        }
        (!self.contended.borrow().contains(&cpu)).then_some(())
    }
    fn raise_softirq(&self, cpu: u32) {
        self.tickled.borrow_mut().push(cpu);
    }
    fn raise_softirq_mask(&self, _scratch_cpu: u32, nwords: usize, word: impl Fn(usize) -> u64) {
        for i in 0..nwords {
            let mut w = word(i);
            while w != 0 {
                self.tickled
                    .borrow_mut()
                    .push(i as u32 * 64 + w.trailing_zeros());
                w &= w - 1;
            }
        }
    }
    fn event(&self, event: Event<usize>) {
        self.events.borrow_mut().push(event);
    }
    fn stat(&self, stat: Stat) {
        self.stats.borrow_mut().push(stat);
    }
}
