//! `sched_null_admission=wait|strict`: the Xen side of
//! [`null_policy::admission`] (the option, the refusal, its messages).

use core::ffi::{c_char, c_int, c_uint};
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use null_policy::admission::{Mode, Refused};

use crate::sched::data::NullPrivate;
use crate::xen::ffi::errno::EINVAL;
use crate::xen::ffi::loglevel;
use crate::xen::hook::{sched_hook, Ops};
use crate::xen::printk::{printk, xen_panic};
use crate::xen::sched_if::Unit;
use crate::xen::smp;

/// The mode of every null scheduler: set while Xen parses its command
/// line, before any scheduler exists, and never changed after.
static STRICT: AtomicBool = AtomicBool::new(false);

/// The mode `sched_null_admission=` chose (default [`Mode::Wait`]).
pub fn mode() -> Mode {
    if STRICT.load(Relaxed) {
        Mode::Strict
    } else {
        Mode::Wait
    }
}

/// The handler of Xen's `custom_param("sched_null_admission", ...)`
/// (rust/helpers/helpers.c), given the value (`None`: longer than any
/// mode's name): 0, or `-EINVAL` for a value that names no mode (Xen then
/// reports the parameter as invalid and keeps the default).
#[inline(always)]
fn parse(value: Option<&[u8]>) -> c_int {
    match value.and_then(Mode::parse) {
        Some(m) => {
            STRICT.store(m == Mode::Strict, Relaxed);
            0
        }
        None => -EINVAL,
    }
}

/// `parse` for Xen: reads at most 8 characters (longer names no mode).
///
/// # Safety
/// `s` is a NUL-terminated string (Xen's copy of the option's value).
#[no_mangle]
pub unsafe extern "C" fn null_rs_parse_admission(s: *const c_char) -> c_int {
    sched_hook!(param_str<8>(s) => parse)
}

/// `alloc_udata` refuses `unit` because its scheduler `ops` is full.
///
/// After boot the refusal is the toolstack's error (`-ENOMEM`, the only
/// one `alloc_udata` can give) and one log line, here. At boot nobody can
/// retry: a domain Xen builds itself (dom0, or a dom0less domain) that
/// does not fit stops the boot with what to change, instead of booting
/// with vCPUs Xen failed to create.
#[cold]
pub fn refused(ops: Ops<'_, NullPrivate>, unit: Unit, r: Refused) {
    let pool = ops.pool_id();
    let dom = unit.domain().as_ptr();
    if smp::booting() {
        printk!(
            "%snull: cpupool %d has %u pCPUs, too few for %pd's vCPUs (sched_null_admission=strict): give it at most %u (dom0: dom0_max_vcpus=%u), or boot with sched_null_admission=wait\n",
            loglevel::XENLOG_ERR.as_ptr(),
            pool,
            r.capacity as c_uint,
            dom,
            r.capacity as c_uint,
            r.capacity as c_uint
        );
        // panic() keeps 127 characters of its message: the advice is above.
        xen_panic!(
            "null: %pd does not fit in cpupool %d (sched_null_admission=strict)\n",
            dom,
            pool
        );
    }
    printk!(
        "%snull: %pd refused by cpupool %d: %u pCPUs, %u units, %u free (sched_null_admission=strict)\n",
        loglevel::XENLOG_WARNING.as_ptr(),
        dom,
        pool,
        r.capacity as c_uint,
        r.units as c_uint,
        r.free() as c_uint
    );
}
