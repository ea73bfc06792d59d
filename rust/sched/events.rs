//! What a policy [`Event`] becomes in Xen: null.c's xentrace records (their
//! payload layouts), its debug log lines, and the "not assigned" warning.

use null_policy::admission::Mode;
use null_policy::hooks::Event;

use crate::sched::admission;
use crate::sched::env::XenEnv;
use crate::xen::cpumask::MaskBuf;
use crate::xen::ffi::{loglevel, trc};
use crate::xen::printk::{dprintk, printk};
use crate::xen::sched_if::Unit;
use crate::xen::trace;

/// `{ uint16_t unit, dom; uint32_t cpu; }`: PICKED_CPU, (DE)ASSIGN.
#[repr(C)]
struct TrcUnitCpu {
    unit: u16,
    dom: u16,
    cpu: u32,
}

/// `{ uint16_t unit, dom; uint16_t cpu, new_cpu; }`: MIGRATE.
#[repr(C)]
struct TrcMigrate {
    unit: u16,
    dom: u16,
    cpu: u16,
    new_cpu: u16,
}

/// `{ uint16_t tasklet, cpu; int16_t unit, dom; }`: SCHEDULE.
#[repr(C)]
struct TrcSchedule {
    tasklet: u16,
    cpu: u16,
    unit: i16,
    dom: i16,
}

fn trc_unit_cpu(unit: Unit, cpu: u32) -> TrcUnitCpu {
    TrcUnitCpu {
        unit: unit.id() as u16,
        dom: unit.domain().id(),
        cpu,
    }
}

/// Report `event`. The common case costs what C's `if (
/// unlikely(tb_init_done) )` does: one load and branch. Debug builds also
/// print the (de)assignments, as null.c's dprintk()s do; every build warns
/// of a unit that has to wait (null.c: debug builds only).
#[inline(always)]
pub fn report(env: &XenEnv<'_>, event: Event<Unit>) {
    let printed = matches!(event, Event::Assign { .. } | Event::Deassign { .. });
    let waits = matches!(
        event,
        Event::NotAssigned { .. } | Event::NotAssignedOnWake { .. }
    );
    if trace::enabled() || (cfg!(xen_debug) && printed) || waits {
        report_slow(env, event);
    }
}

/// Trace records and debug messages of an [`Event`]: out of line, off the
/// hot paths.
#[cold]
#[inline(never)]
fn report_slow(env: &XenEnv<'_>, event: Event<Unit>) {
    match event {
        Event::PickedCpu { unit, cpu } => {
            if trace::enabled() {
                trace::record(trc::TRC_SNULL_PICKED_CPU, &trc_unit_cpu(unit, cpu));
            }
        }
        Event::Assign { unit, cpu } => {
            dprintk!(
                XENLOG_G_INFO,
                "%d <-- %pdv%d\n",
                cpu,
                unit.domain().as_ptr(),
                unit.id()
            );
            if trace::enabled() {
                trace::record(trc::TRC_SNULL_UNIT_ASSIGN, &trc_unit_cpu(unit, cpu));
            }
        }
        Event::Deassign { unit, cpu } => {
            dprintk!(
                XENLOG_G_INFO,
                "%d <-- NULL (%pdv%d)\n",
                cpu,
                unit.domain().as_ptr(),
                unit.id()
            );
            if trace::enabled() {
                trace::record(trc::TRC_SNULL_UNIT_DEASSIGN, &trc_unit_cpu(unit, cpu));
            }
        }
        Event::Migrate { unit, from, to } => {
            if trace::enabled() {
                let d = TrcMigrate {
                    unit: unit.id() as u16,
                    dom: unit.domain().id(),
                    cpu: from as u16,
                    new_cpu: to as u16,
                };
                trace::record(trc::TRC_SNULL_MIGRATE, &d);
            }
        }
        Event::Schedule {
            cpu,
            tasklet,
            assigned,
        } => {
            if trace::enabled() {
                let (unit, dom) = match assigned {
                    None => (-1, -1),
                    Some(u) => (u.id() as i16, u.domain().id() as i16),
                };
                let d = TrcSchedule {
                    tasklet: tasklet as u16,
                    cpu: cpu as u16,
                    unit,
                    dom,
                };
                trace::record(trc::TRC_SNULL_SCHEDULE, &d);
            }
        }
        Event::Tasklet => {
            if trace::enabled() {
                // trace_var(TRC_SNULL_TASKLET, 1, 0, NULL)
                trace::record(trc::TRC_SNULL_TASKLET, &());
            }
        }
        Event::NotAssigned { unit } | Event::NotAssignedOnWake { unit } => {
            warn_waiting(env, unit);
        }
    }
}

/// null.c's "WARNING: dXvY not assigned to any CPU!", in every build,
/// naming the pool and why: no free pCPU where the unit may run (its hard
/// affinity within its pool). Rate-limited as a guest-caused message
/// (`XENLOG_G_WARNING`), except under `sched_null_admission=strict`, where
/// a waiting unit means Xen gave the scheduler no way to refuse it (a pCPU
/// left a full pool, or hard affinities share a pCPU): then it is always
/// logged.
fn warn_waiting(env: &XenEnv<'_>, unit: Unit) {
    let may = MaskBuf::and(unit.hard_affinity(), unit.domain().pool_mask());
    let strict = admission::mode() == Mode::Strict;
    let level = if strict {
        loglevel::XENLOG_WARNING
    } else {
        loglevel::XENLOG_G_WARNING
    };
    let why = if strict {
        c" (sched_null_admission=strict could not refuse it)"
    } else {
        c""
    };
    let pool = env.ops().pool_id();
    printk!(
        "%sWARNING: %pdv%d not assigned to any CPU! cpupool %d has no free pCPU in {%*pbl} (its hard affinity & pool)%s\n",
        level.as_ptr(),
        unit.domain().as_ptr(),
        unit.id(),
        pool,
        env.prv().nr as core::ffi::c_int,
        may.as_ptr(),
        why.as_ptr()
    );
}
