//! The null scheduler inside Xen: private data, the policy environment,
//! the exported hooks, the dumps and the registered hook table.

pub mod admission;
pub mod check;
pub mod data;
pub mod dump;
pub mod env;
pub mod hooks;
pub mod table;
