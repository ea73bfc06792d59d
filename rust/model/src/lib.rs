//! A host model of the Xen state the null scheduler works on, for tests
//! and benchmarks only (a dev-dependency of `null-policy`, never part of
//! the hypervisor object).
//!
//! Units, pCPUs and masks are plain data; [`Model`] implements [`Env`] so
//! the hook logic of [`null_policy::hooks`] runs on it unchanged, and
//! [`Model::check_invariants`] states what must hold between hooks.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use null_policy::affinity::{soft_aff_effective, Affinity, BalanceStep};
use null_policy::hooks::{self, Env, Event, Next, Stat};
use null_policy::mask::{AtomicMask, Bits, Span};
use null_policy::waitq::{Class, Fifo, Waitq};

/// Words in the model's masks: 256 pCPUs, Xen's default `NR_CPUS`.
pub const WORDS: usize = 4;
/// A CPU mask of the model.
pub type Mask = [u64; WORDS];

/// A mask with the given CPUs set.
pub fn mask_of(cpus: impl IntoIterator<Item = u32>) -> Mask {
    mask_of_n(cpus)
}

/// A mask of `W` words with the given CPUs set.
pub fn mask_of_n<const W: usize>(cpus: impl IntoIterator<Item = u32>) -> [u64; W] {
    let mut m = [0; W];
    for c in cpus {
        m[(c / 64) as usize] |= 1 << (c % 64);
    }
    m
}

/// One unit of the model.
#[derive(Clone, Debug)]
pub struct UnitState<const W: usize = WORDS> {
    /// Hard affinity.
    pub hard: [u64; W],
    /// Soft affinity.
    pub soft: [u64; W],
    /// `soft_aff_effective`.
    pub soft_effective: bool,
    /// `is_unit_online()`.
    pub online: bool,
    /// Online but not woken since: `setvcpucontext` brought the vCPU up
    /// while its domain is paused (e.g. one whose creation then failed).
    /// Such a unit may be on no pCPU and in no queue.
    pub parked: bool,
    /// `unit_runnable()`.
    pub runnable: bool,
    /// `sched_unit_master()`.
    pub master: Cell<u32>,
}

/// Links of one unit in the model's waitqueue.
#[derive(Clone, Copy, Debug, Default)]
struct Node {
    /// The list the unit is on, `None` when not queued.
    class: Option<Class>,
    seq: u64,
    next: Option<usize>,
    prev: Option<usize>,
}

/// The model's waitqueue: two index-linked FIFOs, like the hypervisor's
/// two intrusive lists (O(1) push, remove, step).
#[derive(Clone, Default)]
pub struct ModelWaitq {
    nodes: RefCell<Vec<Node>>,
    /// (head, tail) of the restricted and the unrestricted list.
    ends: Cell<[(Option<usize>, Option<usize>); 2]>,
    next_seq: Cell<u64>,
    /// Put every unit on the restricted list: one FIFO, as null.c has
    /// (for the linear reference of the benchmark).
    pub single_list: bool,
}

fn idx(class: Class) -> usize {
    match class {
        Class::Restricted => 0,
        Class::Unrestricted => 1,
    }
}

impl ModelWaitq {
    fn node(&self, u: usize) -> Node {
        self.nodes.borrow().get(u).copied().unwrap_or_default()
    }

    fn set(&self, u: usize, f: impl FnOnce(&mut Node)) {
        let mut nodes = self.nodes.borrow_mut();
        if nodes.len() <= u {
            nodes.resize(u + 1, Node::default());
        }
        f(&mut nodes[u]);
    }

    /// Whether `u` is queued.
    pub fn contains(&self, u: usize) -> bool {
        self.node(u).class.is_some()
    }

    /// Link `u` (not queued, `seq` set) into the list of `class` before
    /// `before` (on that list), or at its tail.
    fn link(&self, u: usize, class: Class, before: Option<usize>) {
        let mut ends = self.ends.get();
        let (head, tail) = &mut ends[idx(class)];
        let prev = match before {
            Some(b) => self.node(b).prev,
            None => *tail,
        };
        self.set(u, |n| {
            n.class = Some(class);
            n.prev = prev;
            n.next = before;
        });
        match prev {
            Some(p) => self.set(p, |n| n.next = Some(u)),
            None => *head = Some(u),
        }
        match before {
            Some(b) => self.set(b, |n| n.prev = Some(u)),
            None => *tail = Some(u),
        }
        self.ends.set(ends);
    }

    fn unlink(&self, u: usize) {
        let n = self.node(u);
        let Some(class) = n.class else { return };
        let mut ends = self.ends.get();
        let (head, tail) = &mut ends[idx(class)];
        match n.prev {
            Some(p) => self.set(p, |x| x.next = n.next),
            None => *head = n.next,
        }
        match n.next {
            Some(x) => self.set(x, |y| y.prev = n.prev),
            None => *tail = n.prev,
        }
        self.ends.set(ends);
        self.set(u, |x| *x = Node::default());
    }
}

impl Waitq for ModelWaitq {
    type Unit = usize;
    fn head(&self, class: Class) -> Option<usize> {
        self.ends.get()[idx(class)].0
    }
    fn next(&self, unit: usize) -> Option<usize> {
        let n = self.node(unit);
        assert!(n.class.is_some(), "next() of unit {unit}, not queued");
        n.next
    }
    fn class(&self, unit: usize) -> Class {
        self.node(unit).class.expect("class() of a unit not queued")
    }
    fn seq(&self, unit: usize) -> u64 {
        self.node(unit).seq
    }
    fn contains(&self, unit: usize) -> bool {
        ModelWaitq::contains(self, unit)
    }
    fn push_back(&mut self, unit: usize, class: Class) {
        assert!(!self.contains(unit), "unit {unit} queued twice");
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        self.set(unit, |n| n.seq = seq);
        let class = if self.single_list {
            Class::Restricted
        } else {
            class
        };
        self.link(unit, class, None);
    }
    fn remove(&mut self, unit: usize) {
        self.unlink(unit);
    }
    fn move_before(&mut self, unit: usize, class: Class, before: Option<usize>) {
        // One FIFO (the benchmark's reference): every unit stays on it.
        if self.single_list {
            return;
        }
        let seq = self.node(unit).seq;
        self.unlink(unit);
        self.set(unit, |x| x.seq = seq);
        self.link(unit, class, before);
    }
    fn is_empty(&self) -> bool {
        self.ends.get().iter().all(|e| e.0.is_none())
    }
}

/// The whole state: a single pool of `nr_cpus` pCPUs (the pool mask may be
/// a subset), the units, and what the scheduler did.
pub struct Model<const W: usize = WORDS> {
    /// `nr_cpu_ids`.
    pub nr_cpus: u32,
    /// The pool's pCPUs (`cpupool->res_valid`).
    pub pool: [u64; W],
    /// The units, by index.
    pub units: Vec<UnitState<W>>,
    /// `npc->unit` per pCPU.
    pub slots: Vec<Cell<Option<usize>>>,
    /// `prv->cpus_free`.
    pub free: AtomicMask<W>,
    /// `prv->cpus`: the scheduler's pCPUs (set by
    /// [`hooks::init_pdata`](null_policy::hooks::init_pdata), cleared by
    /// [`hooks::deinit_pdata`](null_policy::hooks::deinit_pdata)).
    pub cpus: AtomicMask<W>,
    /// `prv->waitq`: a `RefCell`, as Xen's is behind its lock, which
    /// grants `&mut` ([`Env::with_waitq`]).
    pub waitq: RefCell<ModelWaitq>,
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
    /// The pCPUs whose runqueue locks are held, when lock discipline is
    /// checked ([`Model::check_locks`]).
    pub held: Held,
    /// A pCPU in `schedule_cpu_rm()`'s window: its `sched_priv` is NULL,
    /// `deinit_pdata` has not run yet. Reading its slot is a NULL
    /// dereference in Xen, and a panic here.
    pub leaving: Cell<Option<u32>>,
    /// The unit whose vCPUs' next run states `unit_runnable_state()` last
    /// recorded ([`Model::do_schedule`] checks it).
    pub states_recorded: Cell<Option<usize>>,
    /// Whether xentrace is on ([`Env::tracing`]; default on, so that every
    /// event is reported). Off, `do_schedule` takes the path Xen takes
    /// almost always.
    pub tracing: bool,
}

/// The pCPUs whose runqueue locks are held (with repeats: Xen takes a
/// lock shared by two pCPUs once, the model counts it per pCPU); `None`
/// while lock discipline is not checked. Shared with the guards.
pub type Held = Rc<RefCell<Option<Vec<u32>>>>;

/// A runqueue lock [`Env::trylock_master`] took in the model; released on
/// drop.
pub struct ModelGuard(Option<(Held, u32)>);

impl Drop for ModelGuard {
    fn drop(&mut self) {
        if let Some((held, cpu)) = self.0.take() {
            release(&held, cpu);
        }
    }
}

fn release(held: &RefCell<Option<Vec<u32>>>, cpu: u32) {
    if let Some(h) = held.borrow_mut().as_mut() {
        let i = h
            .iter()
            .position(|&c| c == cpu)
            .expect("unlocking a lock not held");
        h.remove(i);
    }
}

impl Model {
    /// A model with `nr_cpus` pCPUs (at most 256), all in the pool and free
    /// (as after `switch_sched` on each), and no unit.
    pub fn new(nr_cpus: u32) -> Self {
        Model::with_words(nr_cpus)
    }
}

impl<const W: usize> Model<W> {
    /// [`Model::new`] with masks of `W` words (up to `64 * W` pCPUs).
    pub fn with_words(nr_cpus: u32) -> Self {
        assert!(nr_cpus as usize <= 64 * W, "too many pCPUs for the masks");
        let m = Model {
            nr_cpus,
            pool: mask_of_n(0..nr_cpus),
            units: Vec::new(),
            slots: (0..nr_cpus).map(|_| Cell::new(None)).collect(),
            free: AtomicMask::new(),
            cpus: AtomicMask::new(),
            waitq: RefCell::new(ModelWaitq::default()),
            curr: (0..nr_cpus).map(|_| Cell::new(None)).collect(),
            contended: RefCell::new(Vec::new()),
            tickled: RefCell::new(Vec::new()),
            events: RefCell::new(Vec::new()),
            stats: RefCell::new(Vec::new()),
            random: RefCell::new(VecDeque::new()),
            held: Rc::new(RefCell::new(None)),
            leaving: Cell::new(None),
            states_recorded: Cell::new(None),
            tracing: true,
        };
        for c in 0..nr_cpus {
            hooks::init_pdata(&m.cpus, &m.free, c, |u| m.slots[c as usize].set(u));
        }
        m
    }

    /// Add a unit (as `alloc_udata` does; not yet inserted), pointing at
    /// pCPU `master`.
    pub fn add_unit(&mut self, hard: [u64; W], soft: [u64; W], master: u32) -> usize {
        let soft_effective = soft_aff_effective(&hard, &soft, self.nr_cpus);
        self.units.push(UnitState {
            hard,
            soft,
            soft_effective,
            online: true,
            parked: false,
            runnable: true,
            master: Cell::new(master),
        });
        self.units.len() - 1
    }

    /// Check lock discipline from now on: which runqueue locks a hook
    /// holds is then declared with [`Model::locked`], and a hook that
    /// changes a pCPU's slot or free bit without that pCPU's lock, or a
    /// unit's pCPU without the lock of the unit's current pCPU, panics.
    pub fn check_locks(&self) {
        *self.held.borrow_mut() = Some(Vec::new());
    }

    /// `do_schedule` on `cpu`, checked as Xen's `schedule()` relies on it:
    /// a unit it picks has had its vCPUs' next run states recorded
    /// (`unit_runnable_state()`) in this very call. Xen's context switch
    /// runs only the vCPUs so marked (`sched_unit2vcpu_cpu()`); with
    /// `sched-gran=core` a stale mark leaves a runnable vCPU of the unit
    /// on idle, and nothing wakes it again.
    pub fn do_schedule(&self, cpu: u32, tasklet_work: bool) -> Next<usize> {
        self.states_recorded.set(None);
        let next = hooks::schedule(self, cpu, tasklet_work);
        if let Next::Unit(u) = next {
            assert_eq!(
                self.states_recorded.get(),
                Some(u),
                "do_schedule on cpu {cpu} picked unit {u} without \
                 unit_runnable_state() on it"
            );
        }
        next
    }

    /// Run `f` (a hook) holding the runqueue locks of `cpus`, as Xen would.
    pub fn locked<R>(&self, cpus: &[u32], f: impl FnOnce() -> R) -> R {
        if let Some(h) = self.held.borrow_mut().as_mut() {
            h.extend_from_slice(cpus);
        }
        let r = f();
        for &c in cpus {
            release(&self.held, c);
        }
        r
    }

    /// Take `cpu`'s runqueue lock (for lock tracking), as Xen's
    /// `*_schedule_lock*()`.
    pub fn lock(&self, cpu: u32) {
        if let Some(h) = self.held.borrow_mut().as_mut() {
            h.push(cpu);
        }
    }

    /// Release `cpu`'s runqueue lock (for lock tracking).
    pub fn unlock(&self, cpu: u32) {
        release(&self.held, cpu);
    }

    /// `insert_unit` as Xen calls it: [`hooks::insert`] under the unit's
    /// runqueue lock, which its relock moves to the unit's new pCPU (lock
    /// tracking follows). At most `max_picks` picks: without concurrency a
    /// retry finds a free pCPU at once, and the bound turns a livelock into
    /// a failure. Returns the outcome and the pCPU whose lock the hook
    /// ended with.
    pub fn insert_unit(&self, u: usize, max_picks: u32) -> (hooks::Insert, u32) {
        let cur = Cell::new(self.units[u].master.get());
        let mut picks = 1;
        self.lock(cur.get());
        let placed = hooks::insert(self, u, || {
            assert!(picks <= max_picks, "insert_unit of unit {u} keeps retrying");
            picks += 1;
            self.unlock(cur.get());
            cur.set(self.units[u].master.get());
            self.lock(cur.get());
        });
        self.unlock(cur.get());
        (placed, cur.get())
    }

    fn assert_held(&self, cpu: u32, what: &str) {
        if let Some(h) = self.held.borrow().as_ref() {
            assert!(h.contains(&cpu), "{what} without cpu {cpu}'s runqueue lock");
        }
    }

    /// The waiting units, oldest first.
    pub fn waiting(&self) -> Vec<usize> {
        Fifo::new(&*self.waitq.borrow()).map(|(u, _)| u).collect()
    }

    /// Xen's `sched_set_affinity()`: tell the scheduler
    /// (`adjust_affinity`), then install the masks (`None`: unchanged) and
    /// recompute `soft_aff_effective`, under the unit's runqueue lock.
    pub fn set_affinity(&mut self, u: usize, hard: Option<[u64; W]>, soft: Option<[u64; W]>) {
        let cpu = self.units[u].master.get();
        self.locked(&[cpu], || {
            hooks::adjust_affinity(&*self, u, hard.as_ref(), soft.as_ref())
        });
        let nr = self.nr_cpus;
        let st = &mut self.units[u];
        if let Some(h) = hard {
            st.hard = h;
        }
        if let Some(s) = soft {
            st.soft = s;
        }
        st.soft_effective = soft_aff_effective(&st.hard, &st.soft, nr);
    }

    /// Check that the waitqueue's lists are in enqueue order and that
    /// each unit is on the list of its current class.
    pub fn check_waitq(&self) -> Result<(), String> {
        let wq = self.waitq.borrow();
        for class in [Class::Restricted, Class::Unrestricted] {
            let mut cur = wq.head(class);
            let mut last = None;
            while let Some(u) = cur {
                let seq = wq.seq(u);
                if last.is_some_and(|l| l >= seq) {
                    return Err(format!("waitqueue list {class:?} out of order at {u}"));
                }
                last = Some(seq);
                let want = if wq.single_list {
                    Class::Restricted
                } else {
                    Class::of(&self.affinity(u))
                };
                if want != class {
                    return Err(format!("unit {u} on list {class:?}, is {want:?}"));
                }
                cur = wq.next(u);
            }
        }
        Ok(())
    }

    /// Check the scheduler's invariants between hooks; returns a
    /// description of the first violation.
    ///
    /// `inserted` lists the units the scheduler knows (inserted, not
    /// removed).
    pub fn check_invariants(&self, inserted: &[usize]) -> Result<(), String> {
        let waiting = self.waiting();
        for c in 0..self.nr_cpus {
            // Only the scheduler's pCPUs may be free (deinit_pdata clears
            // both bits).
            if self.free.test(c) && !self.cpus.test(c) {
                return Err(format!("cpu {c} is not the scheduler's but is marked free"));
            }
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
            if st.online && !st.parked && on + queued != 1 {
                return Err(format!(
                    "online unit {u}: on {on} pCPUs, queued {queued} times"
                ));
            }
            if st.parked && on + queued > 1 {
                return Err(format!(
                    "parked unit {u}: on {on} pCPUs, queued {queued} times"
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
    pub fn check_work_conserving(&self) -> Result<(), String> {
        self.check_work_conserving_except(&[])
    }

    /// [`Model::check_work_conserving`], not counting the units in `exempt`.
    pub fn check_work_conserving_except(&self, exempt: &[usize]) -> Result<(), String> {
        for w in self.waiting().into_iter().filter(|w| !exempt.contains(w)) {
            for c in 0..self.nr_cpus {
                if self.slots[c as usize].get().is_none()
                    && self.pool.test(c)
                    && self.affinity(w).allows(c, BalanceStep::Hard)
                {
                    return Err(format!("unit {w} waits while allowed cpu {c} is free"));
                }
            }
        }
        Ok(())
    }
}

impl<const W: usize> Clone for Model<W> {
    fn clone(&self) -> Self {
        let (free, cpus) = (AtomicMask::new(), AtomicMask::new());
        for c in 0..self.nr_cpus {
            if self.free.test(c) {
                free.set(c);
            }
            if self.cpus.test(c) {
                cpus.set(c);
            }
        }
        Model {
            nr_cpus: self.nr_cpus,
            pool: self.pool,
            units: self.units.clone(),
            slots: self.slots.clone(),
            free,
            cpus,
            waitq: RefCell::new(self.waitq.borrow().clone()),
            curr: self.curr.clone(),
            contended: self.contended.clone(),
            tickled: self.tickled.clone(),
            events: self.events.clone(),
            stats: self.stats.clone(),
            random: self.random.clone(),
            held: Rc::new(RefCell::new(self.held.borrow().clone())),
            leaving: self.leaving.clone(),
            states_recorded: self.states_recorded.clone(),
            tracing: self.tracing,
        }
    }
}

impl<const W: usize> Env for Model<W> {
    type Unit = usize;
    type Mask = [u64; W];
    type Free = AtomicMask<W>;
    type Waitq = ModelWaitq;
    type RunqGuard = ModelGuard;

    fn affinity(&self, unit: usize) -> Affinity<'_, [u64; W]> {
        let st = &self.units[unit];
        Affinity::new(
            &st.hard,
            &st.soft,
            st.soft_effective,
            &self.pool,
            self.nr_cpus,
            Span::new(self.nr_cpus, W),
        )
    }
    fn is_online(&self, unit: usize) -> bool {
        self.units[unit].online
    }
    fn is_runnable(&self, unit: usize) -> bool {
        self.units[unit].runnable
    }
    fn runnable_state(&self, unit: usize) -> bool {
        self.states_recorded.set(Some(unit));
        self.units[unit].runnable
    }
    fn master(&self, unit: usize) -> u32 {
        self.units[unit].master.get()
    }
    fn set_res(&self, unit: usize, cpu: u32) {
        self.assert_held(self.units[unit].master.get(), "sched_set_res()");
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
        assert!(
            self.leaving.get() != Some(cpu),
            "NULL NullPcpu: slot of cpu {cpu}, which is being removed"
        );
        self.slots[cpu as usize].get()
    }
    fn set_slot(&self, cpu: u32, unit: Option<usize>) {
        self.assert_held(cpu, "setting a pCPU's unit");
        self.slots[cpu as usize].set(unit);
    }
    fn owned_slot(&self, cpu: u32) -> Option<Option<usize>> {
        (self.pool.test(cpu) && self.leaving.get() != Some(cpu)).then(|| self.slot(cpu))
    }
    fn free(&self) -> &AtomicMask<W> {
        &self.free
    }
    fn mark_free(&self, cpu: u32, free: bool) {
        self.assert_held(cpu, "changing a pCPU's free bit");
        if free {
            self.free.set(cpu)
        } else {
            self.free.clear(cpu)
        }
    }
    fn is_queued(&self, unit: usize) -> bool {
        self.waitq.borrow().contains(unit)
    }
    fn with_waitq<R>(&self, f: impl FnOnce(&mut ModelWaitq) -> R) -> R {
        f(&mut self.waitq.borrow_mut())
    }
    fn trylock_master(&self, unit: usize, held: &[u32]) -> Option<ModelGuard> {
        let cpu = self.master(unit);
        if held.contains(&cpu) {
            return Some(ModelGuard(None)); // a lock the caller holds
        }
        if self.contended.borrow().contains(&cpu) {
            return None;
        }
        let mut h = self.held.borrow_mut();
        Some(ModelGuard(h.as_mut().map(|h| {
            h.push(cpu);
            (Rc::clone(&self.held), cpu)
        })))
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
    fn tracing(&self) -> bool {
        self.tracing
    }
    fn stat(&self, which: impl FnOnce() -> Stat) {
        self.stats.borrow_mut().push(which());
    }
}
