//! x86 (Xen 4.17, `asm/current.h`): `get_cpu_info()` is the `struct
//! cpu_info` just below the top of the `STACK_SIZE`-aligned stack that the
//! stack pointer is in, and `smp_processor_id()` is its `processor_id`.
//! The layout comes from GCC (rust/bindings/layout.c), so it follows the
//! configured tree; a Xen version that finds the CPU number differently
//! needs its own variant of this file.

use crate::bindings::gcc;

const STACK_SIZE: usize = gcc::STACK_SIZE as usize;
const CPU_INFO_SIZE: usize = gcc::SIZEOF_cpu_info as usize;
const PROCESSOR_ID: usize = gcc::OFFSET_cpu_info__processor_id as usize;

static_assertions::const_assert!(STACK_SIZE.is_power_of_two());
static_assertions::const_assert!(PROCESSOR_ID + 4 <= CPU_INFO_SIZE);

/// `get_cpu_info()->processor_id`.
#[inline]
pub fn processor_id() -> u32 {
    let sp: usize;
    // SAFETY: only reads the stack pointer.
    unsafe {
        core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    // get_cpu_info_from_stack(): (struct cpu_info *)((sp | (STACK_SIZE - 1)) + 1) - 1.
    let info = ((sp | (STACK_SIZE - 1)) + 1) - CPU_INFO_SIZE;
    // SAFETY: Xen runs hooks on a pCPU's own stack, whose top holds its
    // cpu_info, set up before the pCPU schedules; processor_id is an
    // aligned u32 there and never changes.
    unsafe { core::ptr::read((info + PROCESSOR_ID) as *const u32) }
}
