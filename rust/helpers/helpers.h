/*
 * The C helpers: one wrapper per Xen static inline function or macro that
 * the Rust scheduler needs, compiled with the Xen tree's own CFLAGS. They
 * contain no scheduling logic. Sorted by name.
 *
 * Included by helpers.c (the definitions) and by rust/bindings/xen.h
 * (bindgen generates the Rust prototypes from here).
 */
#ifndef XEN_NULL_RS_HELPERS_H
#define XEN_NULL_RS_HELPERS_H

#include <xen/sched.h>
#include "private.h"

struct sched_resource *rust_helper_get_sched_res(unsigned int cpu);
struct vcpu *rust_helper_get_current(void);
const cpumask_t *rust_helper_cpu_core_mask(unsigned int cpu);
const cpumask_t *rust_helper_cpu_sibling_mask(unsigned int cpu);
cpumask_t *rust_helper_cpumask_scratch_cpu(unsigned int cpu);
bool rust_helper_is_idle_unit(const struct sched_unit *unit);
bool rust_helper_is_unit_online(const struct sched_unit *unit);
bool rust_helper_local_irq_is_enabled(void);
spinlock_t *rust_helper_pcpu_schedule_lock_irqsave(unsigned int cpu,
                                                   unsigned long *flags);
spinlock_t *rust_helper_pcpu_schedule_trylock(unsigned int cpu);
void rust_helper_pcpu_schedule_unlock_irqrestore(spinlock_t *lock,
                                                 unsigned long flags,
                                                 unsigned int cpu);
void rust_helper_sched_set_res(struct sched_unit *unit,
                               struct sched_resource *res);
void rust_helper_sched_stat_crank(unsigned int counter);
unsigned int rust_helper_smp_processor_id(void);
void rust_helper_spin_lock(spinlock_t *lock);
void rust_helper_spin_lock_init(spinlock_t *lock);
unsigned long rust_helper_spin_lock_irqsave(spinlock_t *lock);
void rust_helper_spin_unlock(spinlock_t *lock);
void rust_helper_spin_unlock_irq(spinlock_t *lock);
bool rust_helper_unit_runnable(const struct sched_unit *unit);
bool rust_helper_unit_runnable_state(const struct sched_unit *unit);
spinlock_t *rust_helper_unit_schedule_lock(const struct sched_unit *unit);
spinlock_t *rust_helper_unit_schedule_lock_irq(const struct sched_unit *unit);
void rust_helper_unit_schedule_unlock(spinlock_t *lock,
                                      const struct sched_unit *unit);
void rust_helper_unit_schedule_unlock_irq(spinlock_t *lock,
                                          const struct sched_unit *unit);

#ifdef CONFIG_DEBUG
/* Boot parameter "sched-null-fail-alloc" (helpers.c; debug builds only). */
extern unsigned int rust_null_fail_alloc;
#endif

#endif /* XEN_NULL_RS_HELPERS_H */
