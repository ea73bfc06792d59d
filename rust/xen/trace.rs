//! xentrace records.

use core::ffi::c_void;

use crate::bindings;

/// Whether tracing is on (`tb_init_done`), checked before building a record.
#[inline]
pub fn enabled() -> bool {
    // SAFETY: a plain int Xen sets once trace buffers exist; a racy read is
    // what C's `unlikely(tb_init_done)` does too.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(bindings::tb_init_done)) != 0 }
}

/// `__trace_var(event, 1, sizeof(*data), data)`. `T` must be a `repr(C)`
/// record matching null.c's payload.
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
