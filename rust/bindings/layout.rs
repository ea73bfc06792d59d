//! bindgen's structs must be laid out exactly as GCC lays out Xen's: checked
//! here, at compile time, against the values Xen's compiler produced for the
//! same configured tree (`rust/bindings/layout.c`). A mismatch (another
//! NR_CPUS, lock debugging, a struct changed by a Xen update) stops the
//! build. bindgen's own layout tests check libclang against itself; these
//! check it against GCC.

use core::mem::{align_of, offset_of, size_of};

use static_assertions::const_assert_eq;

use super::gcc;
use super::*;

/// `same!(type, field => GCC_CONST, ...)`: bindgen's offset equals GCC's.
macro_rules! same {
    ($t:ident, $($f:ident => $c:ident),+ $(,)?) => {
        $( const_assert_eq!(offset_of!($t, $f) as i128, gcc::$c); )+
    };
}

const_assert_eq!(size_of::<scheduler>() as i128, gcc::SIZEOF_scheduler);
const_assert_eq!(align_of::<scheduler>() as i128, gcc::ALIGNOF_scheduler);
const_assert_eq!(size_of::<sched_unit>() as i128, gcc::SIZEOF_sched_unit);
const_assert_eq!(
    size_of::<sched_resource>() as i128,
    gcc::SIZEOF_sched_resource
);
const_assert_eq!(size_of::<spinlock_t>() as i128, gcc::SIZEOF_spinlock_t);
const_assert_eq!(align_of::<spinlock_t>() as i128, gcc::ALIGNOF_spinlock_t);
const_assert_eq!(size_of::<cpumask_t>() as i128, gcc::SIZEOF_cpumask_t);
const_assert_eq!(
    size_of::<cpumask_t>() as i128 * 8,
    (gcc::NR_CPUS + 63) / 64 * 64
);
const_assert_eq!(
    size_of::<cpumask_var_t>() as i128,
    gcc::SIZEOF_cpumask_var_t
);

same!(
    scheduler,
    name => OFFSET_scheduler__name,
    opt_name => OFFSET_scheduler__opt_name,
    sched_id => OFFSET_scheduler__sched_id,
    sched_data => OFFSET_scheduler__sched_data,
    init => OFFSET_scheduler__init,
    deinit => OFFSET_scheduler__deinit,
    free_udata => OFFSET_scheduler__free_udata,
    alloc_udata => OFFSET_scheduler__alloc_udata,
    free_pdata => OFFSET_scheduler__free_pdata,
    alloc_pdata => OFFSET_scheduler__alloc_pdata,
    deinit_pdata => OFFSET_scheduler__deinit_pdata,
    alloc_domdata => OFFSET_scheduler__alloc_domdata,
    free_domdata => OFFSET_scheduler__free_domdata,
    switch_sched => OFFSET_scheduler__switch_sched,
    insert_unit => OFFSET_scheduler__insert_unit,
    remove_unit => OFFSET_scheduler__remove_unit,
    sleep => OFFSET_scheduler__sleep,
    wake => OFFSET_scheduler__wake,
    do_schedule => OFFSET_scheduler__do_schedule,
    pick_resource => OFFSET_scheduler__pick_resource,
    migrate => OFFSET_scheduler__migrate,
    dump_settings => OFFSET_scheduler__dump_settings,
    dump_cpu_state => OFFSET_scheduler__dump_cpu_state,
);

same!(
    sched_unit,
    domain => OFFSET_sched_unit__domain,
    priv_ => OFFSET_sched_unit__priv,
    res => OFFSET_sched_unit__res,
    unit_id => OFFSET_sched_unit__unit_id,
    soft_aff_effective => OFFSET_sched_unit__soft_aff_effective,
    migrated => OFFSET_sched_unit__migrated,
    cpu_hard_affinity => OFFSET_sched_unit__cpu_hard_affinity,
    cpu_soft_affinity => OFFSET_sched_unit__cpu_soft_affinity,
    next_task => OFFSET_sched_unit__next_task,
    next_time => OFFSET_sched_unit__next_time,
    next_in_list => OFFSET_sched_unit__next_in_list,
);

same!(
    sched_resource,
    schedule_lock => OFFSET_sched_resource__schedule_lock,
    _lock => OFFSET_sched_resource___lock,
    curr => OFFSET_sched_resource__curr,
    sched_unit_idle => OFFSET_sched_resource__sched_unit_idle,
    sched_priv => OFFSET_sched_resource__sched_priv,
    master_cpu => OFFSET_sched_resource__master_cpu,
);

same!(domain, domain_id => OFFSET_domain__domain_id, sched_priv => OFFSET_domain__sched_priv);
same!(domain, cpupool => OFFSET_domain__cpupool, sched_unit_list => OFFSET_domain__sched_unit_list);
same!(cpupool, res_valid => OFFSET_cpupool__res_valid);
same!(vcpu, sched_unit => OFFSET_vcpu__sched_unit);
same!(
    vcpu,
    vcpu_id => OFFSET_vcpu__vcpu_id,
    domain => OFFSET_vcpu__domain,
    next_in_list => OFFSET_vcpu__next_in_list,
    new_state => OFFSET_vcpu__new_state,
    pause_flags => OFFSET_vcpu__pause_flags,
    pause_count => OFFSET_vcpu__pause_count,
);
same!(domain, pause_count => OFFSET_domain__pause_count);
same!(sched_unit, vcpu_list => OFFSET_sched_unit__vcpu_list);
