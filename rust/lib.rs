//! Xen's `null` scheduler in Rust, linked into the hypervisor.
//!
//! Layers, from the bottom:
//! - [`bindings`]: bindgen's view of the configured Xen tree, and the sizes,
//!   offsets and constants Xen's own compiler computed (build.rs);
//! - `rust/helpers/helpers.c`: one C wrapper per Xen inline function or
//!   macro;
//! - [`xen`]: safe wrappers over those (locks, allocation, printk, trace),
//!   and the hook trampolines' conversions from Xen's pointers to typed
//!   handles ([`xen::hook`]);
//! - [`list`]: the intrusive FIFO the waitqueue and domain list use;
//! - `null_policy`: the scheduling policy, pure safe Rust (`rust/policy`);
//! - [`sched`]: null.c's private data, the [`null_policy::hooks::Env`]
//!   implementation over Xen, the hooks (safe functions, each behind its
//!   exported `extern "C"` trampoline), the dumps and the
//!   `struct scheduler` table registered in `.data.schedulers`.
//!
//! Only [`list`] builds on the host (for its tests, under Miri too); the
//! rest needs a configured Xen tree (`cfg(xen)`, set by build.rs).

#![cfg_attr(xen, no_std)]
// The hot hooks are optimised for speed in an object built for size
// (kbuild/null-rust.mk): nightly, as the hypervisor build already is.
#![cfg_attr(xen, feature(optimize_attribute))]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(clippy::missing_safety_doc)]

#[cfg(all(xen, not(panic = "abort")))]
compile_error!("the hypervisor cannot unwind: build with panic = \"abort\"");

#[cfg(xen)]
pub mod bindings;
pub mod list;
#[cfg(xen)]
pub mod sched;
#[cfg(xen)]
pub mod xen;
