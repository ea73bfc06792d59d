//! Xen's system time.

use crate::bindings::{self, s_time_t};

/// `NOW()`: nanoseconds since boot.
pub fn now() -> s_time_t {
    // SAFETY: get_s_time() reads this pCPU's time scale; callable from any
    // context, IRQs on or off.
    unsafe { bindings::get_s_time() }
}
