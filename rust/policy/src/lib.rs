//! The policy of Xen's `null` scheduler, as pure safe Rust.
//!
//! Every decision `xen/common/sched/null.c` makes lives here: which pCPU a
//! unit is placed on ([`pick`]), which waiting unit a freed pCPU is handed to
//! ([`handoff`], over the two-list waitqueue of [`waitq`]), and the
//! sequencing of each scheduler hook ([`hooks`]), and whether a full
//! scheduler takes one more unit ([`admission`]).
//! The crate knows nothing of Xen's memory: it works through the [`Env`]
//! trait, which the hypervisor layer implements over Xen's structures (with
//! the right locks held) and the host model (`null-model`, a dev-dependency)
//! implements over plain data for the tests.
//!
//! [`Env`]: env::Env

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod admission;
pub mod affinity;
pub mod check;
pub mod env;
pub mod handoff;
pub mod hooks;
pub mod mask;
pub mod pick;
pub mod waitq;
