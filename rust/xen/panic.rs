//! Rust panics end in Xen's `panic()`, with the file and line. There is no
//! unwinding (panic = "abort", enforced in lib.rs).

use core::ffi::{c_int, c_uint};
use core::panic::PanicInfo;

use crate::bindings;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let (file, line) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
    // Only static messages: formatting would pull core::fmt into Xen.
    let msg = info.message().as_str().unwrap_or("(formatted message)");
    // SAFETY: the format consumes (int, char *) twice and an unsigned int,
    // exactly what is passed; `%.*s` bounds each string by its length, so
    // no NUL terminator is needed. panic() does not return.
    unsafe {
        bindings::panic(
            c"Rust null scheduler: '%.*s' at %.*s:%u\n".as_ptr(),
            msg.len() as c_int,
            msg.as_ptr(),
            file.len() as c_int,
            file.as_ptr(),
            line as c_uint,
        )
    }
}
