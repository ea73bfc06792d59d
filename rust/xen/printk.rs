//! `printk` with a C format string.

/// `printk!("fmt", args...)`: Xen's printk. The format is a C format string
/// (Xen's `vsnprintf`, including `%pd` and `%*pbl`); arguments must be C
/// types that match it. The NUL terminator is added here.
macro_rules! printk {
    ($fmt:expr $(, $arg:expr)* $(,)?) => {
        // SAFETY: the format is NUL-terminated; the caller's arguments match
        // its conversions (checked by review at each call site).
        unsafe { $crate::bindings::printk(concat!($fmt, "\0").as_ptr().cast() $(, $arg)*) }
    };
}
pub(crate) use printk;

/// `dprintk(lvl, fmt, ...)`: debug builds only, prefixed with the Rust
/// source location as C's is with `__FILE__:__LINE__`.
macro_rules! dprintk {
    ($lvl:ident, $fmt:expr $(, $arg:expr)* $(,)?) => {
        #[cfg(xen_debug)]
        {
            let file = file!();
            // Xen reads the "<G><2>" level prefix from the formatted text,
            // so it may come in through %s.
            $crate::xen::printk::printk!(
                concat!("%s%.*s:%u: ", $fmt),
                $crate::bindings::gcc::$lvl.as_ptr(),
                file.len() as core::ffi::c_int,
                file.as_ptr(),
                line!() as core::ffi::c_uint
                $(, $arg)*
            );
        }
        // Non-debug builds print nothing, as C's dprintk; still evaluate
        // nothing, but keep the arguments "used".
        #[cfg(not(xen_debug))]
        {
            $(let _ = || $arg;)*
        }
    };
}
pub(crate) use dprintk;

/// `panic("fmt", args...)`: Xen's panic with a C format string, as
/// [`printk!`]; does not return.
macro_rules! xen_panic {
    ($fmt:expr $(, $arg:expr)* $(,)?) => {
        // SAFETY: the format is NUL-terminated; the caller's arguments match
        // its conversions (checked by review at each call site).
        unsafe { $crate::bindings::panic(concat!($fmt, "\0").as_ptr().cast() $(, $arg)*) }
    };
}
pub(crate) use xen_panic;
