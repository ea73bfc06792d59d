//! The C types and constants of Xen's scheduler interface that the
//! `extern "C"` hook signatures and their return conventions name: the
//! hook table's vocabulary, re-exported so that [`crate::sched`] reaches
//! Xen only through this layer.

pub use crate::bindings::{
    cpumask_t, domain, s_time_t, sched_resource, sched_unit, scheduler, spinlock_t,
};

/// Xen's error numbers the hooks return (`-ENOMEM`, `-EINVAL`).
pub mod errno {
    use core::ffi::c_int;

    use crate::bindings::gcc;

    /// `ENOMEM`.
    pub const ENOMEM: c_int = gcc::ENOMEM as c_int;
    /// `EINVAL`.
    pub const EINVAL: c_int = gcc::EINVAL as c_int;
}

/// Log levels, as `printk` prefixes (`"<2>"`, `"<G><2>"`, ...).
pub mod loglevel {
    pub use crate::bindings::gcc::{XENLOG_ERR, XENLOG_G_WARNING, XENLOG_WARNING};
}

/// null.c's xentrace event numbers.
pub mod trc {
    pub use crate::bindings::gcc::{
        TRC_SNULL_MIGRATE, TRC_SNULL_PICKED_CPU, TRC_SNULL_SCHEDULE, TRC_SNULL_TASKLET,
        TRC_SNULL_UNIT_ASSIGN, TRC_SNULL_UNIT_DEASSIGN,
    };
}

/// `XEN_SCHEDULER_NULL`, the `sched_id` of the hook table.
pub const XEN_SCHEDULER_NULL: u32 = crate::bindings::gcc::XEN_SCHEDULER_NULL as u32;
