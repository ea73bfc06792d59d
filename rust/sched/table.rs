//! The `struct scheduler` of the null scheduler, registered like any other
//! (`REGISTER_SCHEDULER`: a pointer in section `.data.schedulers`).

use core::ptr;

use crate::sched::dump::{null_rs_dump, null_rs_dump_pcpu};
use crate::sched::hooks::*;
use crate::xen::ffi::{scheduler, XEN_SCHEDULER_NULL};

/// A hook table Xen reads (and copies, in `scheduler_alloc()`).
#[repr(transparent)]
pub struct SchedulerDef(scheduler);

// SAFETY: the table is immutable; its pointers are to immutable strings and
// to functions.
unsafe impl Sync for SchedulerDef {}

/// The null scheduler. Named as in null.c.
#[no_mangle]
pub static sched_null_def: SchedulerDef = SchedulerDef(scheduler {
    name: c"null Scheduler".as_ptr(),
    opt_name: c"null".as_ptr(),
    sched_id: XEN_SCHEDULER_NULL,
    sched_data: ptr::null_mut(),
    cpupool: ptr::null_mut(),

    global_init: None,

    init: Some(null_rs_init),
    deinit: Some(null_rs_deinit),
    alloc_pdata: Some(null_rs_alloc_pdata),
    free_pdata: Some(null_rs_free_pdata),
    switch_sched: Some(null_rs_switch_sched),
    deinit_pdata: Some(null_rs_deinit_pdata),

    alloc_udata: Some(null_rs_alloc_udata),
    free_udata: Some(null_rs_free_udata),
    alloc_domdata: Some(null_rs_alloc_domdata),
    free_domdata: Some(null_rs_free_domdata),

    insert_unit: Some(null_rs_unit_insert),
    remove_unit: Some(null_rs_unit_remove),

    wake: Some(null_rs_unit_wake),
    sleep: Some(null_rs_unit_sleep),
    yield_: None,
    context_saved: None,
    pick_resource: Some(null_rs_res_pick),
    migrate: Some(null_rs_unit_migrate),
    do_schedule: Some(null_rs_schedule),
    adjust: None,
    adjust_affinity: Some(null_rs_adjust_affinity),
    adjust_global: None,

    dump_cpu_state: Some(null_rs_dump_pcpu),
    dump_settings: Some(null_rs_dump),
    move_timers: None,
});

/// `REGISTER_SCHEDULER(sched_null_def)`.
#[used]
#[link_section = ".data.schedulers"]
static SCHED_NULL_DEF_ENTRY: &SchedulerDef = &sched_null_def;
