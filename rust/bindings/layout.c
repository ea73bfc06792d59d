/*
 * Layout probe, compiled by build.rs to assembly with Xen's own compiler and
 * flags (never linked). Each DEFINE leaves `.ascii "->NAME VALUE"` in the
 * output; build.rs turns those into rust constants that static assertions
 * compare with bindgen's view of the same structs. This is how the Rust side
 * learns what GCC, not libclang, decided.
 */
#include <xen/perfc.h>
#include <xen/sched.h>
#include <xen/softirq.h>
#include <xen/trace.h>

#include "private.h"

#define DEFINE(sym, val) \
    asm volatile ( ".ascii \"->" #sym " %0\"" :: "i" ((long)(val)) )
#define DEFINE_STR(sym, str) \
    asm volatile ( ".ascii \"->" #sym " =" str "\"" )
#define SIZE(t)          DEFINE(SIZEOF_ ## t, sizeof(struct t))
#define ALIGN(t)         DEFINE(ALIGNOF_ ## t, __alignof__(struct t))
#define OFFSET(t, m)     DEFINE(OFFSET_ ## t ## __ ## m, offsetof(struct t, m))

void probe(void);
void probe(void)
{
    SIZE(scheduler);
    ALIGN(scheduler);
    OFFSET(scheduler, name);
    OFFSET(scheduler, opt_name);
    OFFSET(scheduler, sched_id);
    OFFSET(scheduler, sched_data);
    OFFSET(scheduler, init);
    OFFSET(scheduler, deinit);
    OFFSET(scheduler, free_udata);
    OFFSET(scheduler, alloc_udata);
    OFFSET(scheduler, free_pdata);
    OFFSET(scheduler, alloc_pdata);
    OFFSET(scheduler, deinit_pdata);
    OFFSET(scheduler, alloc_domdata);
    OFFSET(scheduler, free_domdata);
    OFFSET(scheduler, switch_sched);
    OFFSET(scheduler, insert_unit);
    OFFSET(scheduler, remove_unit);
    OFFSET(scheduler, sleep);
    OFFSET(scheduler, wake);
    OFFSET(scheduler, do_schedule);
    OFFSET(scheduler, pick_resource);
    OFFSET(scheduler, migrate);
    OFFSET(scheduler, dump_settings);
    OFFSET(scheduler, dump_cpu_state);

    SIZE(sched_unit);
    OFFSET(sched_unit, domain);
    OFFSET(sched_unit, priv);
    OFFSET(sched_unit, res);
    OFFSET(sched_unit, unit_id);
    OFFSET(sched_unit, soft_aff_effective);
    OFFSET(sched_unit, migrated);
    OFFSET(sched_unit, cpu_hard_affinity);
    OFFSET(sched_unit, cpu_soft_affinity);
    OFFSET(sched_unit, next_task);
    OFFSET(sched_unit, next_time);
    OFFSET(sched_unit, next_in_list);

    SIZE(sched_resource);
    OFFSET(sched_resource, schedule_lock);
    OFFSET(sched_resource, _lock);
    OFFSET(sched_resource, curr);
    OFFSET(sched_resource, sched_unit_idle);
    OFFSET(sched_resource, sched_priv);
    OFFSET(sched_resource, master_cpu);

    OFFSET(domain, domain_id);
    OFFSET(domain, sched_priv);
    OFFSET(domain, cpupool);
    OFFSET(domain, sched_unit_list);
    OFFSET(cpupool, res_valid);
    OFFSET(vcpu, sched_unit);
    OFFSET(vcpu, vcpu_id);
    OFFSET(vcpu, domain);
    OFFSET(vcpu, next_in_list);
    OFFSET(vcpu, new_state);
    OFFSET(vcpu, pause_flags);
    OFFSET(vcpu, pause_count);
    OFFSET(domain, pause_count);
    OFFSET(sched_unit, vcpu_list);

    DEFINE(SIZEOF_spinlock_t, sizeof(spinlock_t));
    DEFINE(ALIGNOF_spinlock_t, __alignof__(spinlock_t));
    DEFINE(SIZEOF_cpumask_t, sizeof(cpumask_t));
    DEFINE(NR_CPUS, NR_CPUS);
    DEFINE(SIZEOF_cpumask_var_t, sizeof(cpumask_var_t));

    /* Values of macros bindgen cannot evaluate. */
    DEFINE(XEN_SCHEDULER_NULL, XEN_SCHEDULER_NULL);
    DEFINE(SCHEDULE_SOFTIRQ, SCHEDULE_SOFTIRQ);
    DEFINE(DOMID_IDLE, DOMID_IDLE);
    DEFINE(VPF_blocked, VPF_blocked);
    DEFINE(VPF_down, VPF_down);
    DEFINE(RUNSTATE_running, RUNSTATE_running);
    DEFINE(RUNSTATE_blocked, RUNSTATE_blocked);
    DEFINE(RUNSTATE_offline, RUNSTATE_offline);
    DEFINE(ENOMEM, ENOMEM);
    DEFINE(EINVAL, EINVAL);
    DEFINE(TRC_SNULL_PICKED_CPU, TRC_SCHED_CLASS_EVT(SNULL, 1));
    DEFINE(TRC_SNULL_UNIT_ASSIGN, TRC_SCHED_CLASS_EVT(SNULL, 2));
    DEFINE(TRC_SNULL_UNIT_DEASSIGN, TRC_SCHED_CLASS_EVT(SNULL, 3));
    DEFINE(TRC_SNULL_MIGRATE, TRC_SCHED_CLASS_EVT(SNULL, 4));
    DEFINE(TRC_SNULL_SCHEDULE, TRC_SCHED_CLASS_EVT(SNULL, 5));
    DEFINE(TRC_SNULL_TASKLET, TRC_SCHED_CLASS_EVT(SNULL, 6));
    DEFINE_STR(XENLOG_G_INFO, XENLOG_G_INFO);
    DEFINE_STR(XENLOG_G_WARNING, XENLOG_G_WARNING);
    DEFINE_STR(XENLOG_WARNING, XENLOG_WARNING);
    DEFINE_STR(XENLOG_ERR, XENLOG_ERR);

#ifdef CONFIG_X86
    /* smp_processor_id() (rust/xen/arch/x86.rs). */
    DEFINE(STACK_SIZE, STACK_SIZE);
    DEFINE(SIZEOF_cpu_info, sizeof(struct cpu_info));
    DEFINE(OFFSET_cpu_info__processor_id, offsetof(struct cpu_info, processor_id));
#endif
#ifdef CONFIG_ARM_64
    /* smp_processor_id() is this_cpu(cpu_id) (rust/xen/arch/arm64.rs). */
    DEFINE(SIZEOF_this_cpu_cpu_id, sizeof(smp_processor_id()));
#endif

#ifdef CONFIG_PERF_COUNTERS
    DEFINE(PERFC_unit_alloc, PERFC_unit_alloc);
    DEFINE(PERFC_unit_insert, PERFC_unit_insert);
    DEFINE(PERFC_unit_remove, PERFC_unit_remove);
    DEFINE(PERFC_unit_sleep, PERFC_unit_sleep);
    DEFINE(PERFC_unit_wake_running, PERFC_unit_wake_running);
    DEFINE(PERFC_unit_wake_onrunq, PERFC_unit_wake_onrunq);
    DEFINE(PERFC_unit_wake_runnable, PERFC_unit_wake_runnable);
    DEFINE(PERFC_unit_wake_not_runnable, PERFC_unit_wake_not_runnable);
    DEFINE(PERFC_migrate_running, PERFC_migrate_running);
    DEFINE(PERFC_migrate_on_runq, PERFC_migrate_on_runq);
    DEFINE(PERFC_migrated, PERFC_migrated);
    DEFINE(PERFC_schedule, PERFC_schedule);
    DEFINE(PERFC_unit_check, PERFC_unit_check);
#endif
}
