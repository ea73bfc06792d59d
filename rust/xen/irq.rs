//! Interrupt state.

use crate::bindings;

/// Proof that local interrupts are disabled on this pCPU, as they are in
/// every hook Xen calls with a runqueue lock taken `_irq`/`_irqsave`.
#[derive(Clone, Copy)]
pub struct IrqsOff(());

impl IrqsOff {
    /// Assert (in debug builds, like null.c's `ASSERT`) and record that
    /// interrupts are off.
    ///
    /// # Safety
    /// Interrupts are disabled on this pCPU and stay so while the token is
    /// used.
    pub unsafe fn assume() -> Self {
        debug_assert!(!local_irq_is_enabled(), "!local_irq_is_enabled()");
        IrqsOff(())
    }
}

/// `local_irq_is_enabled()`.
pub fn local_irq_is_enabled() -> bool {
    // SAFETY: reads the flags register; no precondition.
    unsafe { bindings::rust_helper_local_irq_is_enabled() }
}
