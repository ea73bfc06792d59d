//! `SCHED_STAT_CRANK`: Xen's perf counters, when configured.

use null_policy::hooks::Stat;

#[cfg(xen_perf_counters)]
use crate::bindings::gcc;

/// The counters of null.c that only the hypervisor layer cranks.
#[derive(Clone, Copy)]
pub enum XenStat {
    /// A policy counter.
    Policy(Stat),
    /// `unit_alloc`.
    UnitAlloc,
    /// `unit_check`.
    UnitCheck,
}

/// Increment a counter (`SCHED_STAT_CRANK`); nothing without
/// `CONFIG_PERF_COUNTERS`, as in C.
#[inline]
pub fn crank(stat: XenStat) {
    #[cfg(xen_perf_counters)]
    {
        let idx = match stat {
            XenStat::Policy(s) => match s {
                Stat::UnitInsert => gcc::PERFC_unit_insert,
                Stat::UnitRemove => gcc::PERFC_unit_remove,
                Stat::UnitWakeRunning => gcc::PERFC_unit_wake_running,
                Stat::UnitWakeOnrunq => gcc::PERFC_unit_wake_onrunq,
                Stat::UnitWakeRunnable => gcc::PERFC_unit_wake_runnable,
                Stat::UnitWakeNotRunnable => gcc::PERFC_unit_wake_not_runnable,
                Stat::UnitSleep => gcc::PERFC_unit_sleep,
                Stat::MigrateRunning => gcc::PERFC_migrate_running,
                Stat::MigrateOnRunq => gcc::PERFC_migrate_on_runq,
                Stat::Migrated => gcc::PERFC_migrated,
                Stat::Schedule => gcc::PERFC_schedule,
            },
            XenStat::UnitAlloc => gcc::PERFC_unit_alloc,
            XenStat::UnitCheck => gcc::PERFC_unit_check,
        };
        // SAFETY: idx is one of Xen's perf counter indices.
        unsafe { crate::bindings::rust_helper_sched_stat_crank(idx as u32) };
    }
    #[cfg(not(xen_perf_counters))]
    let _ = stat;
}
