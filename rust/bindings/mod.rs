//! Generated bindings to the configured Xen tree. Nothing outside
//! [`crate::xen`] and [`crate::sched`] uses them, and all lint exemptions for
//! generated code live here.

#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code
)]
#![allow(
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]
#![allow(unsafe_op_in_unsafe_fn, improper_ctypes)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// What Xen's compiler computed for the configured tree
/// (`rust/bindings/layout.c`): sizes, offsets and macro values.
pub mod gcc {
    include!(concat!(env!("OUT_DIR"), "/layout.rs"));
}

mod layout;
