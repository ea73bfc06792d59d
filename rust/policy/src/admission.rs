//! Admission control: whether a null scheduler takes one more unit
//! (Xen's `sched_null_admission=wait|strict`).
//!
//! null.c takes every unit and parks the ones that find no free pCPU in the
//! waitqueue ([`Mode::Wait`], the default). With [`Mode::Strict`] a null
//! scheduler (one cpupool) never holds more units than it has pCPUs: the
//! unit that would exceed them is refused when Xen allocates its scheduler
//! data (`alloc_udata`), the one place where Xen lets a scheduler say no,
//! so `xl create` of a domain that does not fit and `xl cpupool-migrate` of
//! a domain into a pool without room fail.
//!
//! A unit counts from its `alloc_udata` to its `free_udata`, inserted or
//! not, online or not (an offline vCPU can come online whenever its guest
//! asks): so two creations racing for the last pCPU cannot both win, and a
//! domain moving between pools counts in both until the move completes.
//! Idle units never count. The capacity is the number of the scheduler's
//! pCPUs (scheduling resources) at the time of the request.
//!
//! A dying domain is always taken: `domain_kill()` moves it into Pool-0 to
//! finish dying (`cpupool_move_domain()`), and returns `-ERESTART` for the
//! toolstack to retry for as long as that fails, so refusing it would make
//! `xl destroy` of a guest in another pool spin forever while Pool-0 is
//! full (seen on Xen, `test_xl.StrictAdmission.test_2`). It never runs
//! again, so it takes nobody's pCPU.

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// What a full null scheduler does with one more unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Take it; it waits for a pCPU (null.c's behaviour).
    Wait,
    /// Refuse it.
    Strict,
}

impl Mode {
    /// The mode a `sched_null_admission=` value names, if any.
    pub fn parse(value: &[u8]) -> Option<Mode> {
        match value {
            b"wait" => Some(Mode::Wait),
            b"strict" => Some(Mode::Strict),
            _ => None,
        }
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Wait => "wait",
            Mode::Strict => "strict",
        }
    }
}

/// A refused unit: the scheduler was full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Units the scheduler held.
    pub units: u32,
    /// Its pCPUs.
    pub capacity: u32,
}

impl Refused {
    /// Free places (none, unless the scheduler lost pCPUs to below its
    /// units, which Xen does not let it refuse).
    pub fn free(&self) -> u32 {
        self.capacity.saturating_sub(self.units)
    }
}

/// The units one null scheduler holds (allocated, not yet freed).
#[derive(Debug, Default)]
pub struct Admitted(AtomicU32);

impl Admitted {
    /// None yet.
    pub const fn new() -> Self {
        Self(AtomicU32::new(0))
    }

    /// Count one more unit, unless `mode` is strict, the unit's domain is
    /// not `dying`, and the scheduler already holds `capacity` units or
    /// more. Concurrent callers never both take the last place.
    pub fn admit(&self, mode: Mode, capacity: u32, dying: bool) -> Result<(), Refused> {
        match mode {
            _ if dying => {
                self.0.fetch_add(1, Relaxed);
                Ok(())
            }
            Mode::Wait => {
                self.0.fetch_add(1, Relaxed);
                Ok(())
            }
            Mode::Strict => self
                .0
                .fetch_update(Relaxed, Relaxed, |units| {
                    (units < capacity).then_some(units + 1)
                })
                .map(|_| ())
                .map_err(|units| Refused { units, capacity }),
        }
    }

    /// A unit counted by [`Admitted::admit`] leaves.
    pub fn release(&self) {
        let before = self.0.fetch_sub(1, Relaxed);
        debug_assert!(before > 0, "null: more units released than admitted");
    }

    /// Units held now.
    pub fn units(&self) -> u32 {
        self.0.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_round_trip_and_reject_the_rest() {
        for m in [Mode::Wait, Mode::Strict] {
            assert_eq!(Mode::parse(m.name().as_bytes()), Some(m));
        }
        for bad in [&b""[..], b"Strict", b"strict ", b"no", b"1"] {
            assert_eq!(Mode::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn strict_stops_at_capacity_and_reopens_on_release() {
        let a = Admitted::new();
        assert_eq!(a.admit(Mode::Strict, 2, false), Ok(()));
        assert_eq!(a.admit(Mode::Strict, 2, false), Ok(()));
        let r = a.admit(Mode::Strict, 2, false).unwrap_err();
        let full = Refused {
            units: 2,
            capacity: 2,
        };
        assert_eq!((r, r.free()), (full, 0));
        assert_eq!(a.units(), 2);
        a.release();
        assert_eq!(a.admit(Mode::Strict, 2, false), Ok(()));
        // A pool that lost a pCPU holds more than it has: still refused.
        let r = a.admit(Mode::Strict, 1, false).unwrap_err();
        assert_eq!((r.units, r.free()), (2, 0));
    }

    #[test]
    fn a_dying_domain_is_always_taken() {
        let a = Admitted::new();
        assert_eq!(a.admit(Mode::Strict, 1, false), Ok(()));
        assert!(a.admit(Mode::Strict, 1, false).is_err());
        assert_eq!(a.admit(Mode::Strict, 1, true), Ok(()));
        assert_eq!(a.units(), 2);
    }

    #[test]
    fn wait_never_refuses_but_counts() {
        let a = Admitted::new();
        for _ in 0..5 {
            assert_eq!(a.admit(Mode::Wait, 2, false), Ok(()));
        }
        assert_eq!(a.units(), 5);
        assert!(a.admit(Mode::Strict, 5, false).is_err());
    }

    #[test]
    fn racing_admissions_never_exceed_capacity() {
        use std::sync::{Arc, Barrier};
        use std::vec::Vec;

        const THREADS: usize = 8;
        const CAPACITY: u32 = 3;
        for _ in 0..200 {
            let a = Arc::new(Admitted::new());
            let start = Arc::new(Barrier::new(THREADS));
            let won: Vec<bool> = (0..THREADS)
                .map(|_| {
                    let (a, start) = (a.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        a.admit(Mode::Strict, CAPACITY, false).is_ok()
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect();
            assert_eq!(won.iter().filter(|&&w| w).count(), CAPACITY as usize);
            assert_eq!(a.units(), CAPACITY);
        }
    }
}
