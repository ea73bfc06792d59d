//! Interrupt state.

use core::marker::PhantomData;

use crate::bindings;

/// Proof that local interrupts are disabled on this pCPU, for as long as
/// `'a`: borrowed from a guard that turned them off
/// ([`IrqSaveGuard::irqs_off`](crate::xen::spinlock::IrqSaveGuard::irqs_off),
/// [`RunqHeld::irqs_off`](crate::xen::runq::RunqHeld::irqs_off)), or
/// assumed once by a hook Xen calls with them off.
#[derive(Clone, Copy)]
pub struct IrqsOff<'a>(PhantomData<&'a ()>);

impl IrqsOff<'_> {
    /// Assert (in debug builds, like null.c's `ASSERT`) and record that
    /// interrupts are off.
    ///
    /// # Safety
    /// Interrupts are disabled on this pCPU and stay so while the token is
    /// used.
    pub unsafe fn assume() -> Self {
        debug_assert!(!local_irq_is_enabled(), "!local_irq_is_enabled()");
        IrqsOff(PhantomData)
    }
}

/// `local_irq_is_enabled()`.
pub fn local_irq_is_enabled() -> bool {
    // SAFETY: reads the flags register; no precondition.
    unsafe { bindings::rust_helper_local_irq_is_enabled() }
}
