//! Safe wrappers over Xen: the only place that touches
//! [`crate::bindings`] (the hook trampolines' conversions included:
//! [`hook`]).

pub mod alloc;
pub mod cpumask;
pub mod ffi;
pub mod hook;
pub mod irq;
pub mod panic;
pub mod percpu;
pub mod perfc;
pub mod printk;
pub mod runq;
pub mod sched_if;
pub mod sched_inline;
pub mod smp;
pub mod softirq;
pub mod spinlock;
pub mod time;
pub mod trace;
