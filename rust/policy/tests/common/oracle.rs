//! An independent, deliberately plain restatement of null.c's rules: plain
//! vectors of bools, no word masks, no shared code with the core. After
//! every operation its assignments and waitqueue must equal the core's.

use std::collections::VecDeque;

use super::Op;

#[derive(Clone, Copy, PartialEq)]
enum Step {
    Soft,
    Hard,
}

/// Xen's `soft_aff_effective`: soft affinity leaves out part of the hard
/// affinity but meets it.
fn soft_effective(hard: &[bool], soft: &[bool]) -> bool {
    let covers = hard.iter().zip(soft).all(|(&h, &s)| !h || s);
    let meets = hard.iter().zip(soft).any(|(&h, &s)| h && s);
    !covers && meets
}

/// The oracle's whole state.
#[derive(Clone)]
pub struct Oracle {
    nr: usize,
    pool: Vec<bool>,
    hard: Vec<Vec<bool>>,
    soft: Vec<Vec<bool>>,
    soft_effective: Vec<bool>,
    online: Vec<bool>,
    known: Vec<bool>,
    /// Which pCPU each unit points at.
    pub master: Vec<usize>,
    /// Which unit each pCPU runs.
    pub slot: Vec<Option<usize>>,
    /// Waiting units, oldest first.
    pub waitq: VecDeque<usize>,
    tickled: Vec<usize>,
}

impl Oracle {
    /// `units`: (hard, soft, initial master) as CPU lists.
    pub fn new(nr: usize, units: &[(Vec<u32>, Vec<u32>, u32)]) -> Self {
        let set = |l: &Vec<u32>| (0..nr).map(|c| l.contains(&(c as u32))).collect::<Vec<_>>();
        Oracle {
            nr,
            pool: vec![true; nr],
            hard: units.iter().map(|u| set(&u.0)).collect(),
            soft: units.iter().map(|u| set(&u.1)).collect(),
            soft_effective: units
                .iter()
                .map(|u| soft_effective(&set(&u.0), &set(&u.1)))
                .collect(),
            online: vec![true; units.len()],
            known: vec![false; units.len()],
            master: units.iter().map(|u| u.2 as usize).collect(),
            slot: vec![None; nr],
            waitq: VecDeque::new(),
            tickled: Vec::new(),
        }
    }

    fn has_soft(&self, u: usize) -> bool {
        // Soft affinity matters unless it covers the whole pool.
        self.soft_effective[u] && (0..self.nr).any(|c| self.pool[c] && !self.soft[u][c])
    }

    fn may_run(&self, u: usize, c: usize, step: Step) -> bool {
        if !(self.pool[c] && self.hard[u][c]) {
            return false;
        }
        if step == Step::Hard {
            return true;
        }
        // Soft step: soft ∩ hard, or all of hard if that is empty.
        let overlap = (0..self.nr).any(|x| self.soft[u][x] && self.hard[u][x]);
        !overlap || self.soft[u][c]
    }

    fn steps(&self, u: usize) -> Vec<Step> {
        if self.has_soft(u) {
            vec![Step::Soft, Step::Hard]
        } else {
            vec![Step::Hard]
        }
    }

    fn pick(&self, u: usize) -> usize {
        let cur = self.master[u];
        for step in self.steps(u) {
            if (self.slot[cur].is_none() || self.slot[cur] == Some(u)) && self.may_run(u, cur, step)
            {
                return cur;
            }
            if let Some(c) =
                (0..self.nr).find(|&c| self.slot[c].is_none() && self.may_run(u, c, step))
            {
                return c;
            }
        }
        // Any allowed pCPU; the model's random numbers are all 0: the first.
        (0..self.nr)
            .find(|&c| self.may_run(u, c, Step::Hard))
            .unwrap()
    }

    fn assign(&mut self, u: usize, c: usize) {
        self.slot[c] = Some(u);
        self.master[u] = c;
    }

    /// Give free pCPU `c` to the first suitable waiter, soft step first.
    fn hand_off(&mut self, c: usize) -> Option<usize> {
        for step in [Step::Soft, Step::Hard] {
            let found =
                self.waitq.iter().copied().find(|&w| {
                    (step == Step::Hard || self.has_soft(w)) && self.may_run(w, c, step)
                });
            if let Some(w) = found {
                self.waitq.retain(|&x| x != w);
                self.assign(w, c);
                return Some(w);
            }
        }
        None
    }

    fn deassign(&mut self, u: usize) {
        let c = self.master[u];
        self.slot[c] = None;
        if self.hand_off(c).is_some() {
            self.tickled.push(c);
        }
    }

    fn queued(&self, u: usize) -> bool {
        self.waitq.contains(&u)
    }

    fn wake(&mut self, u: usize) {
        let c = self.master[u];
        if self.queued(u) {
            return;
        }
        if self.slot[c] == Some(u) {
            self.tickled.push(c);
            return;
        }
        let soft_ok = !self.has_soft(u) || self.may_run(u, c, Step::Soft);
        if self.slot[c].is_none() && self.may_run(u, c, Step::Hard) && soft_ok {
            self.assign(u, c);
            self.tickled.push(c);
            return;
        }
        self.waitq.push_back(u);
        for x in 0..self.nr {
            if self.slot[x].is_none() && self.may_run(u, x, Step::Hard) {
                self.tickled.push(x);
            }
        }
    }

    /// Move `u` to where `pick` says: off its pCPU (handing that over),
    /// onto the new one if free and allowed, else into the waitqueue;
    /// an offline unit goes nowhere.
    fn migrate(&mut self, u: usize) {
        let to = self.pick(u);
        let from = self.master[u];
        if to == from {
            // A waiting unit whose own pCPU is free and now allowed takes it.
            if self.queued(u) && self.slot[to].is_none() && self.may_run(u, to, Step::Hard) {
                self.waitq.retain(|&x| x != u);
                self.assign(u, to);
            }
            return;
        }
        if self.slot[from] == Some(u) {
            self.deassign(u);
        }
        if !self.online[u] {
            self.waitq.retain(|&x| x != u);
        } else if self.slot[to].is_none() && self.may_run(u, to, Step::Hard) {
            self.waitq.retain(|&x| x != u);
            self.assign(u, to);
        } else if !self.queued(u) {
            self.waitq.push_back(u);
        }
        self.master[u] = to;
    }

    fn schedule(&mut self, c: usize) {
        if self.slot[c].is_none() {
            self.hand_off(c);
        }
    }

    /// `vcpu_set_affinity()` with the new masks in place: an inserted unit
    /// is moved to where `pick` says, then woken.
    fn affinity_changed(&mut self, u: usize) {
        self.soft_effective[u] = soft_effective(&self.hard[u], &self.soft[u]);
        if self.known[u] {
            self.migrate(u);
            if self.online[u] {
                self.wake(u);
            }
        }
    }

    fn serve(&mut self) {
        while let Some(c) = self.tickled.pop() {
            self.schedule(c);
        }
    }

    /// Apply `op` (enabled, as decided by the driver) and serve softirqs
    /// newest first, as the driver does.
    pub fn apply(&mut self, op: Op) {
        match op {
            Op::Insert(u) => {
                if self.online[u] {
                    loop {
                        let c = self.pick(u);
                        self.master[u] = c;
                        if self.slot[c].is_none() {
                            self.assign(u, c);
                            break;
                        }
                        if !(0..self.nr)
                            .any(|x| self.slot[x].is_none() && self.may_run(u, x, Step::Hard))
                        {
                            self.waitq.push_back(u);
                            break;
                        }
                    }
                }
                self.known[u] = true;
                if self.online[u] {
                    self.wake(u);
                }
            }
            Op::Remove(u) => {
                if self.online[u] {
                    if self.queued(u) {
                        self.waitq.retain(|&x| x != u);
                    } else if self.slot[self.master[u]] == Some(u) {
                        self.deassign(u);
                    }
                }
                self.known[u] = false;
            }
            Op::Offline(u) => {
                self.online[u] = false;
                if self.known[u] {
                    if self.queued(u) {
                        self.waitq.retain(|&x| x != u);
                    } else if self.slot[self.master[u]] == Some(u) {
                        self.deassign(u);
                    }
                }
            }
            Op::Online(u) => {
                self.online[u] = true;
                if self.known[u] {
                    self.wake(u);
                }
            }
            Op::OnlineNoWake(u) => self.online[u] = true,
            Op::Wake(u) => self.wake(u),
            Op::Migrate(u) => self.migrate(u),
            Op::SetAffinity(u, a, b) => {
                let (a, b) = (a as usize % self.nr, b as usize % self.nr);
                self.hard[u] = (0..self.nr).map(|c| c == a || c == b).collect();
                self.affinity_changed(u);
                self.serve();
                self.soft[u] = (0..self.nr).map(|c| c == a).collect();
                self.affinity_changed(u);
            }
            Op::Unpin(u) => {
                self.hard[u] = vec![true; self.nr];
                self.affinity_changed(u);
                self.serve();
                self.soft[u] = vec![true; self.nr];
                self.affinity_changed(u);
            }
            Op::SetSoft(u, a) => {
                let a = a as usize % self.nr;
                self.soft[u] = (0..self.nr).map(|c| c == a).collect();
                self.affinity_changed(u);
            }
            Op::RemoveCpu(c) => {
                let c = c as usize;
                self.pool[c] = false;
                for u in 0..self.known.len() {
                    if self.known[u] && self.master[u] == c {
                        self.migrate(u);
                    }
                }
                // The other pCPUs schedule and units wake meanwhile.
                self.serve();
                for x in 0..self.nr {
                    if self.pool[x] {
                        self.schedule(x);
                    }
                }
                for u in 0..self.known.len() {
                    if self.known[u] && self.online[u] {
                        self.wake(u);
                    }
                }
                self.serve();
                self.slot[c] = None;
            }
            Op::AddCpu(c) => {
                self.pool[c as usize] = true;
                self.slot[c as usize] = None;
                self.tickled.push(c as usize);
            }
            Op::Schedule(c) => self.schedule(c as usize),
        }
        self.serve();
    }
}
