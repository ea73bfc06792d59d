//! Safe wrappers over Xen: the only place (with [`crate::sched`]'s
//! trampolines) that touches [`crate::bindings`].

pub mod alloc;
pub mod cpumask;
pub mod ffi;
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
