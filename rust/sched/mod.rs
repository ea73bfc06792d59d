//! The null scheduler inside Xen: private data, the policy environment,
//! the waitqueue's lists, the events' records and log lines, the exported
//! hooks, the dumps and the registered hook table.

pub mod admission;
pub mod check;
pub mod data;
pub mod dump;
pub mod env;
pub mod events;
pub mod hooks;
pub mod table;
pub mod waitq;
