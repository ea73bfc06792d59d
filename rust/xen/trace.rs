//! xentrace records.
//!
//! Without `CONFIG_TRACEBUFFER` (the PV shim's configuration, for one) Xen
//! has no trace buffers: `tb_init_done` is the macro `false` and
//! `__trace_var()` does not exist, so tracing is compiled out here too,
//! as C's `if ( unlikely(tb_init_done) )` is.

#[cfg(xen_tracebuffer)]
use core::ffi::c_void;

#[cfg(xen_tracebuffer)]
use crate::bindings;

/// Whether tracing is on (`tb_init_done`), checked before building a record.
#[cfg(xen_tracebuffer)]
#[inline]
pub fn enabled() -> bool {
    // SAFETY: a plain int Xen sets once trace buffers exist; a racy read is
    // what C's `unlikely(tb_init_done)` does too.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(bindings::tb_init_done)) != 0 }
}

/// Whether tracing is on: never, without trace buffers.
#[cfg(not(xen_tracebuffer))]
#[inline(always)]
pub fn enabled() -> bool {
    false
}

/// `__trace_var(event, 1, sizeof(*data), data)`. `T` must be a `repr(C)`
/// record matching null.c's payload.
#[cfg(xen_tracebuffer)]
#[inline]
pub fn record<T>(event: i128, data: &T) {
    // SAFETY: `data` is readable for size_of::<T>() bytes.
    unsafe {
        bindings::__trace_var(
            event as u32,
            true,
            core::mem::size_of::<T>() as u32,
            (data as *const T).cast::<c_void>(),
        )
    };
}

/// Without trace buffers there is nothing to record (and [`enabled`] is
/// false, so no caller builds a record).
#[cfg(not(xen_tracebuffer))]
#[inline(always)]
pub fn record<T>(_event: i128, _data: &T) {}
