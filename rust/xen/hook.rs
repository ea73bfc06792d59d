//! The `extern "C"` side of `struct scheduler`: typed handles for what
//! Xen passes to the hooks, and the trampolines that make them.
//!
//! Each hook is a safe Rust function in [`crate::sched`]; the exported
//! symbol Xen's hook table points at is an `unsafe extern "C"` trampoline
//! whose body [`sched_hook!`] provides, one arm per kind of hook (as
//! Rust-for-Linux's vtable adapters do). A trampoline only turns Xen's
//! pointers into handles ([`Ops`], [`Unit`], [`Domain`], `&CpuMask`, the
//! scheduler's own `pdata`/`vdata` types, [`XBox`] for data handed back to
//! be freed), states the runqueue lock Xen holds around the hook as a
//! [`RunqHeld`] proof, and turns the function's `Result`/`Option` into the
//! hook's C convention (`-ENOMEM`, `ERR_PTR(-ENOMEM)`, `NULL`). Each
//! conversion's `// SAFETY:` names the part of the hook's C contract it
//! relies on; there is one conversion site per hook kind, here.
//!
//! The scheduler's data types are inferred from the hook functions'
//! signatures: `Ops<'_, P>` is a scheduler whose `init` returned an
//! `XBox<P>`.

use core::ffi::{c_char, c_int, c_void};
use core::marker::PhantomData;
use core::ptr::NonNull;

use crate::bindings;
use crate::xen::alloc::XBox;

// For the macro's users: the types its trampolines name.
#[doc(hidden)]
pub use crate::xen::alloc::AllocError;
#[doc(hidden)]
pub use crate::xen::cpumask::CpuMask;
#[doc(hidden)]
pub use crate::xen::runq::RunqHeld;
#[doc(hidden)]
pub use crate::xen::sched_if::{Domain, Resource, Unit};

/// `const struct scheduler *ops` of a scheduler whose `init` stored a `P`
/// in `sched_data` (through [`install`]), for the duration `'a` of a hook.
///
/// # Invariants
/// `raw` is a live `struct scheduler` whose `sched_data` is an initialised
/// `P` from [`XBox::into_raw`], and stays so for `'a`: `deinit` (which
/// takes it back) has not run and does not run meanwhile.
pub struct Ops<'a, P> {
    raw: NonNull<bindings::scheduler>,
    _data: PhantomData<&'a P>,
}

impl<P> Clone for Ops<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P> Copy for Ops<'_, P> {}

impl<'a, P> Ops<'a, P> {
    /// The handle for a hook's `ops`.
    ///
    /// # Safety
    /// `ops` is a scheduler whose `init` hook stored a `P` (see [`Ops`]'s
    /// invariants) and whose `deinit` does not run for `'a`.
    #[inline(always)]
    pub unsafe fn from_raw(ops: *const bindings::scheduler) -> Self {
        // INVARIANT: per the contract; Xen never passes NULL.
        Self {
            // SAFETY: non-NULL (contract).
            raw: unsafe { NonNull::new_unchecked(ops.cast_mut()) },
            _data: PhantomData,
        }
    }

    /// The private data (`ops->sched_data`).
    #[inline(always)]
    pub fn data(self) -> &'a P {
        // SAFETY: `sched_data` holds an initialised P for 'a (invariant);
        // `init`'s store happened before Xen used the scheduler.
        unsafe { &*(*self.raw.as_ptr()).sched_data.cast::<P>() }
    }

    /// Whether `cpu` belongs to this scheduler now (`sr->scheduler ==
    /// ops`): its `sched_priv` is then the `pdata` of our `alloc_pdata`,
    /// unhooked only under its runqueue lock.
    #[inline(always)]
    pub fn serves(self, cpu: u32) -> bool {
        Resource::of(cpu).scheduler() == self.raw.as_ptr().cast_const()
    }

    /// The id of the cpupool this scheduler serves, or -1 for the
    /// boot-time default scheduler (it serves idle units only).
    pub fn pool_id(self) -> c_int {
        // SAFETY: a live scheduler (invariant); `cpupool`, set by
        // cpupool_create() before any unit is allocated, lives as long.
        unsafe {
            let pool = (*self.raw.as_ptr()).cpupool;
            if pool.is_null() {
                -1
            } else {
                (*pool).cpupool_id as c_int
            }
        }
    }
}

impl<'a, P> Ops<'a, P> {
    /// The scheduler as a place: a reference that is this same pointer,
    /// for types that are `#[repr(transparent)]` over [`Scheduler`] (a
    /// reference to a stack copy of an `Ops` would be a stack slot and a
    /// store on every hook that passes its environment by reference).
    #[inline(always)]
    pub fn place(self) -> &'a Scheduler<P> {
        // SAFETY: a live `struct scheduler` for 'a (invariant), which
        // `Scheduler` wraps transparently; through an `UnsafeCell`, so
        // the reference claims no immutability of Xen's fields.
        unsafe { self.raw.cast::<Scheduler<P>>().as_ref() }
    }
}

/// The `struct scheduler` an [`Ops`] points at, as a place (see
/// [`Ops::place`]).
#[repr(transparent)]
pub struct Scheduler<P> {
    raw: core::cell::UnsafeCell<bindings::scheduler>,
    _data: PhantomData<P>,
}

impl<P> Scheduler<P> {
    /// The handle again.
    #[inline(always)]
    pub fn ops(&self) -> Ops<'_, P> {
        // INVARIANT: only `Ops::place` makes a reference to a Scheduler, of
        // a scheduler live (and with its P) for as long as the reference.
        Ops {
            // SAFETY: from a reference, so not NULL.
            raw: unsafe { NonNull::new_unchecked(self.raw.get()) },
            _data: PhantomData,
        }
    }
}

/// `init`'s result, stored for [`Ops::data`]: 0, or `-ENOMEM`.
///
/// # Safety
/// `ops` is the scheduler being initialised: nothing else uses it yet.
#[doc(hidden)]
#[inline(always)]
pub unsafe fn install<P>(ops: *mut bindings::scheduler, r: Result<XBox<P>, AllocError>) -> c_int {
    match r {
        Ok(p) => {
            // SAFETY: per the contract.
            unsafe { (*ops).sched_data = XBox::into_raw(p).as_ptr().cast() };
            0
        }
        Err(AllocError) => -(bindings::gcc::ENOMEM as c_int),
    }
}

/// `deinit`: take back what [`install`] stored (None if `init` failed).
///
/// # Safety
/// `ops` is one of our schedulers whose `init` stored a `P` or failed;
/// Xen calls `deinit` once, when nothing uses the data any more.
#[doc(hidden)]
#[inline(always)]
pub unsafe fn uninstall<P>(ops: *mut bindings::scheduler) -> Option<XBox<P>> {
    // SAFETY: `ops` is live (contract); we are its only user now.
    let data = unsafe { core::ptr::replace(&raw mut (*ops).sched_data, core::ptr::null_mut()) };
    // SAFETY: the pointer install() stored, now nobody else's (contract).
    NonNull::new(data.cast::<P>()).map(|p| unsafe { XBox::from_raw(p) })
}

/// A `void *` Xen hands back to be freed: ours again, or NULL.
///
/// # Safety
/// `p` is NULL or came from [`XBox::into_raw`] of a `T` by one of our
/// alloc hooks, and Xen no longer uses it.
#[doc(hidden)]
#[inline(always)]
pub unsafe fn owned<T>(p: *mut c_void) -> Option<XBox<T>> {
    // SAFETY: per the contract.
    NonNull::new(p.cast::<T>()).map(|p| unsafe { XBox::from_raw(p) })
}

/// A `void *` Xen passes back for use (`pdata`, `vdata`): ours, non-NULL.
///
/// # Safety
/// `p` came from [`XBox::into_raw`] of a `T` by one of our alloc hooks and
/// is not freed before `'a` ends.
#[doc(hidden)]
#[inline(always)]
pub unsafe fn borrowed<'a, T>(p: *mut c_void) -> &'a T {
    debug_assert!(!p.is_null(), "NULL scheduler data");
    // SAFETY: per the contract.
    unsafe { &*p.cast::<T>() }
}

/// A unit pointer from Xen, which is never NULL in the hooks that take one.
///
/// # Safety
/// `p` is a live unit for the duration of the hook.
#[doc(hidden)]
#[inline(always)]
pub unsafe fn unit(p: *const bindings::sched_unit) -> Unit {
    // SAFETY: per the contract.
    match unsafe { Unit::from_raw(p) } {
        Some(u) => u,
        // A literal message, not `expect`: see rust/xen/panic.rs.
        None => panic!("Xen passed a NULL unit"),
    }
}

/// A mask argument that may be NULL.
///
/// # Safety
/// `p` is NULL or a valid `cpumask_t` for `'a`.
#[doc(hidden)]
#[inline(always)]
pub unsafe fn mask<'a>(p: *const bindings::cpumask_t) -> Option<&'a CpuMask> {
    // SAFETY: per the contract.
    (!p.is_null()).then(|| unsafe { CpuMask::from_raw(p) })
}

/// `ERR_PTR(-ENOMEM)`.
#[doc(hidden)]
#[inline(always)]
pub fn err_nomem() -> *mut c_void {
    (-(bindings::gcc::ENOMEM as isize)) as *mut c_void
}

/// A string command-line value, read without the C library (core's `CStr`
/// would call `strlen()`), at most `N` bytes: `None` if longer.
///
/// # Safety
/// `s` is a NUL-terminated string.
#[doc(hidden)]
#[inline(always)]
pub unsafe fn param_str<const N: usize>(s: *const c_char, buf: &mut [u8; N]) -> Option<&[u8]> {
    let mut len = 0;
    loop {
        // SAFETY: `s` is NUL-terminated and we stop at the NUL. Read as u8:
        // `c_char` is signed on x86 and unsigned on arm64.
        let c = unsafe { s.add(len).cast::<u8>().read() };
        if c == 0 {
            return Some(&buf[..len]);
        }
        if len == N {
            return None;
        }
        buf[len] = c;
        len += 1;
    }
}

/// The body of the exported trampoline of one `struct scheduler` hook:
/// `sched_hook!(KIND(ARGS) => FUNCTION)`, where `ARGS` are the trampoline's
/// raw parameters the conversion uses, in the order listed per kind.
///
/// The trampoline itself is written out where the scheduler defines its
/// hooks (`#[no_mangle] pub unsafe extern "C" fn`, so that cbindgen puts
/// its prototype in `include/xen_null_rs.h` and Xen's compiler checks it
/// against the `struct scheduler` slot), with the hook kind's C contract
/// as its `# Safety`; this macro, its whole body, relies on that contract.
/// `FUNCTION` is a safe function taking the handles listed per kind; mark
/// it `#[inline(always)]`, so that the exported symbol holds the hook's
/// whole body as before.
macro_rules! sched_hook {
    // init(ops), the scheduler being initialised:
    // fn() -> Result<XBox<P>, AllocError>; 0 or -ENOMEM.
    (init($ops:ident) => $f:path) => {
        // SAFETY: Xen initialises `ops`; nothing else uses it yet.
        unsafe { $crate::xen::hook::install($ops, $f()) }
    };
    // deinit(ops), once, after init, when the data is unused:
    // fn(Option<XBox<P>>).
    (deinit($ops:ident) => $f:path) => {
        // SAFETY: ours, and deinit runs once, with the data unused.
        $f(unsafe { $crate::xen::hook::uninstall($ops) })
    };
    // alloc_pdata(cpu): fn(u32) -> Result<XBox<Pc>, AllocError>;
    // ERR_PTR(-ENOMEM) on failure.
    (alloc_pdata($cpu:ident) => $f:path) => {
        match $f($cpu as u32) {
            Ok(b) => $crate::xen::alloc::XBox::into_raw(b).as_ptr().cast(),
            Err($crate::xen::hook::AllocError) => $crate::xen::hook::err_nomem(),
        }
    };
    // free_pdata(pdata), NULL or our alloc_pdata's, no longer in use:
    // fn(Option<XBox<Pc>>).
    (free_pdata($pdata:ident) => $f:path) => {
        // SAFETY: NULL or our alloc_pdata's, unhooked (contract).
        $f(unsafe { $crate::xen::hook::owned($pdata) })
    };
    // deinit_pdata(ops, pdata, cpu), our initialised scheduler and the
    // pCPU's alloc_pdata data, freed only afterwards: fn(Ops<P>, &Pc, u32).
    (deinit_pdata($ops:ident, $pdata:ident, $cpu:ident) => $f:path) => {{
        // SAFETY: ours and initialised; `pdata` our alloc_pdata's, alive
        // for the call (contract).
        let (ops, pdata) = unsafe {
            (
                $crate::xen::hook::Ops::from_raw($ops),
                $crate::xen::hook::borrowed($pdata),
            )
        };
        $f(ops, pdata, $cpu as u32)
    }};
    // switch_sched(new_ops, cpu, pdata, vdata), from schedule_cpu_add()
    // with `cpu`'s runqueue lock held, IRQs off, our initialised
    // scheduler, our alloc_pdata data for `cpu` and our (idle unit's)
    // alloc_udata data: the idle unit's priv becomes `vdata` (every
    // scheduler's first step), then fn(Ops<P>, u32, Resource, &Pc, &U) ->
    // *mut spinlock_t (the pCPU's runqueue lock from now on; the resource
    // is the pCPU's).
    (switch_sched($ops:ident, $cpu:ident, $pdata:ident, $vdata:ident) => $f:path) => {{
        let sr = $crate::xen::hook::Resource::of($cpu);
        // SAFETY: Xen holds the pCPU's runqueue lock, under which alone an
        // idle unit's priv is read (contract).
        unsafe { sr.idle_unit().set_priv($vdata) };
        // SAFETY: ours and initialised; `pdata` and `vdata` ours, alive
        // while the pCPU is in the scheduler (contract).
        let (ops, pdata, vdata) = unsafe {
            (
                $crate::xen::hook::Ops::from_raw($ops),
                $crate::xen::hook::borrowed($pdata),
                $crate::xen::hook::borrowed($vdata),
            )
        };
        $f(ops, $cpu, sr, pdata, vdata)
    }};
    // alloc_udata(ops, unit), our initialised scheduler and a live unit:
    // fn(Ops<P>, Unit) -> Option<XBox<U>>; NULL on failure or refusal.
    (alloc_udata($ops:ident, $unit:ident) => $f:path) => {{
        // SAFETY: ours and initialised; a live unit (contract).
        let (ops, unit) = unsafe {
            (
                $crate::xen::hook::Ops::from_raw($ops),
                $crate::xen::hook::unit($unit),
            )
        };
        match $f(ops, unit) {
            Some(b) => $crate::xen::alloc::XBox::into_raw(b).as_ptr().cast(),
            None => core::ptr::null_mut(),
        }
    }};
    // free_udata(ops, priv), `priv` NULL or from the alloc_udata of the
    // initialised scheduler `ops`, its unit removed:
    // fn(Ops<P>, Option<XBox<U>>).
    (free_udata($ops:ident, $priv:ident) => $f:path) => {{
        // SAFETY: per the contract.
        let (ops, data) = unsafe {
            (
                $crate::xen::hook::Ops::from_raw($ops),
                $crate::xen::hook::owned($priv),
            )
        };
        $f(ops, data)
    }};
    // alloc_domdata(ops, d), our initialised scheduler and a live domain:
    // fn(Ops<P>, Domain) -> Result<NonNull<D>, AllocError>;
    // ERR_PTR(-ENOMEM) on failure.
    (alloc_domdata($ops:ident, $d:ident) => $f:path) => {{
        // SAFETY: ours and initialised; a live domain (contract).
        let (ops, dom) = unsafe {
            (
                $crate::xen::hook::Ops::from_raw($ops),
                $crate::xen::hook::Domain::from_raw($d),
            )
        };
        match dom.map(|dom| $f(ops, dom)) {
            Some(Ok(p)) => p.as_ptr().cast(),
            Some(Err($crate::xen::hook::AllocError)) | None => $crate::xen::hook::err_nomem(),
        }
    }};
    // free_domdata(ops, data), `data` NULL or from our alloc_domdata,
    // handed back once: fn(Ops<P>, Option<XBox<D>>).
    (free_domdata($ops:ident, $data:ident) => $f:path) => {{
        // SAFETY: per the contract.
        let (ops, data) = unsafe {
            (
                $crate::xen::hook::Ops::from_raw($ops),
                $crate::xen::hook::owned($data),
            )
        };
        $f(ops, data)
    }};
    // insert_unit/remove_unit(ops, unit), our initialised scheduler and a
    // live unit of one of its domains, no lock held: fn(Ops<P>, Unit).
    (unit($ops:ident, $unit:ident) => $f:path) => {{
        // SAFETY: per the contract.
        let (ops, unit) = unsafe {
            (
                $crate::xen::hook::Ops::from_raw($ops),
                $crate::xen::hook::unit($unit),
            )
        };
        $f(ops, unit)
    }};
    // wake/sleep(ops, unit), our initialised scheduler and a live unit of
    // it, Xen holding the unit's runqueue lock with IRQs off:
    // fn(Ops<P>, Unit, RunqHeld).
    (locked_unit($ops:ident, $unit:ident) => $f:path) => {{
        // SAFETY: per the contract: ours, a live unit, its lock held.
        let (ops, unit, held) = unsafe {
            (
                $crate::xen::hook::Ops::from_raw($ops),
                $crate::xen::hook::unit($unit),
                $crate::xen::hook::RunqHeld::assume(),
            )
        };
        $f(ops, unit, held)
    }};
    // pick_resource(ops, unit), as locked_unit:
    // fn(Ops<P>, Unit, RunqHeld) -> u32, the pCPU whose resource it is.
    (pick_resource($ops:ident, $unit:ident) => $f:path) => {{
        // SAFETY: per the contract: ours, a live unit, its lock held.
        let (ops, unit, held) = unsafe {
            (
                $crate::xen::hook::Ops::from_raw($ops),
                $crate::xen::hook::unit($unit),
                $crate::xen::hook::RunqHeld::assume(),
            )
        };
        $crate::xen::hook::Resource::of($f(ops, unit, held)).as_ptr()
    }};
    // migrate(ops, unit, new_cpu), as locked_unit, with the runqueue locks
    // of the unit's pCPU and of new_cpu held:
    // fn(Ops<P>, Unit, u32, RunqHeld).
    (migrate($ops:ident, $unit:ident, $new_cpu:ident) => $f:path) => {{
        // SAFETY: per the contract: ours, a live unit, both locks held.
        let (ops, unit, held) = unsafe {
            (
                $crate::xen::hook::Ops::from_raw($ops),
                $crate::xen::hook::unit($unit),
                $crate::xen::hook::RunqHeld::assume(),
            )
        };
        $f(ops, unit, $new_cpu, held)
    }};
    // do_schedule(ops, prev, tasklet_work_scheduled), from schedule() with
    // our initialised scheduler, holding the resource's runqueue lock with
    // IRQs off, `prev` the unit running so far:
    // fn(Ops<P>, Unit, bool, RunqHeld).
    (do_schedule($ops:ident, $prev:ident, $tasklet:ident) => $f:path) => {{
        // SAFETY: per the contract: ours, this resource's lock held;
        // `prev` is live for the call, so not NULL (Xen's schedule() has
        // just dereferenced it).
        let (ops, prev, held) = unsafe {
            (
                $crate::xen::hook::Ops::from_raw($ops),
                $crate::xen::hook::Unit::from_raw($prev).unwrap_unchecked(),
                $crate::xen::hook::RunqHeld::assume(),
            )
        };
        $f(ops, prev, $tasklet, held)
    }};
    // adjust_affinity(ops, unit, hard, soft), our initialised scheduler, a
    // live unit of one of its domains, masks valid or NULL; whether Xen
    // holds the unit's runqueue lock depends on whether the unit is
    // inserted, which the function decides:
    // fn(Ops<P>, Unit, Option<&CpuMask>, Option<&CpuMask>).
    (adjust_affinity($ops:ident, $unit:ident, $hard:ident, $soft:ident) => $f:path) => {{
        // SAFETY: per the contract.
        let (ops, unit, hard, soft) = unsafe {
            (
                $crate::xen::hook::Ops::from_raw($ops),
                $crate::xen::hook::unit($unit),
                $crate::xen::hook::mask($hard),
                $crate::xen::hook::mask($soft),
            )
        };
        $f(ops, unit, hard, soft)
    }};
    // dump_cpu_state(ops, cpu), our initialised scheduler:
    // fn(Ops<P>, u32).
    (dump_cpu_state($ops:ident, $cpu:ident) => $f:path) => {{
        // SAFETY: per the contract.
        let ops = unsafe { $crate::xen::hook::Ops::from_raw($ops) };
        $f(ops, $cpu as u32)
    }};
    // dump_settings(ops), our initialised scheduler: fn(Ops<P>).
    (dump_settings($ops:ident) => $f:path) => {
        // SAFETY: per the contract.
        $f(unsafe { $crate::xen::hook::Ops::from_raw($ops) })
    };
    // A string custom_param handler(s), NUL-terminated:
    // fn(Option<&[u8]>) -> c_int, `None` for a value longer than N bytes.
    (param_str<$n:literal>($s:ident) => $f:path) => {{
        let mut buf = [0u8; $n];
        // SAFETY: NUL-terminated (contract).
        $f(unsafe { $crate::xen::hook::param_str($s, &mut buf) })
    }};
}
pub(crate) use sched_hook;
