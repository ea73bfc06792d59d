//! The `r` debug-key dumps, in null.c's format and lock order.

use core::ffi::{c_int, c_long, c_uint, c_ulong};
use core::sync::atomic::Ordering::Relaxed;

use null_policy::waitq::Fifo;

use crate::sched::admission;
use crate::sched::data::{NullDom, NullPcpu, NullPrivate, NullUnit};
use crate::xen::cpumask::MaskBuf;
use crate::xen::ffi::scheduler;
use crate::xen::hook::{sched_hook, Ops};
use crate::xen::printk::printk;
use crate::xen::runq::{PcpuLockIrqSave, UnitLock};
use crate::xen::sched_if::Resource;
use crate::xen::{smp, time};

fn nr_cpu_ids() -> c_int {
    smp::nr_cpu_ids() as c_int
}

/// `dump_unit()`: "[dom.unit] pcpu=N" (-1 when waiting).
fn dump_unit(nvc: &NullUnit) {
    let pcpu = if nvc.waitq_elem.is_linked() {
        -1
    } else {
        nvc.unit.master() as c_int
    };
    printk!(
        "[%i.%i] pcpu=%d",
        nvc.unit.domain().id() as c_int,
        nvc.unit.id(),
        pcpu
    );
}

/// `dump_cpu_state`, for a pCPU of scheduler `ops` or, when `ops` is the
/// boot scheduler, for a pCPU in no cpupool: `schedule_dump(NULL)` dumps
/// free pCPUs with the default scheduler's hooks. Such a pCPU belongs to
/// the idle scheduler and has no `NullPcpu` (null.c dereferences NULL
/// there; seen after `xl cpupool-cpu-remove` on a `sched=null` boot,
/// tests/system/test_xl.py).
#[inline(always)]
fn dump_pcpu(ops: Ops<'_, NullPrivate>, cpu: u32) {
    let lock = PcpuLockIrqSave::new(cpu);
    // A free pCPU (see above) is not ours: no unit to show.
    let ours = ops.serves(cpu);
    // SAFETY: `cpu` is one of ours (checked just above), and its lock is
    // held.
    let npc = ours.then(|| unsafe { NullPcpu::of(cpu) });

    let (sibling, core) = (smp::sibling_mask(cpu), smp::core_mask(cpu));
    printk!(
        "CPU[%02d] sibling={%*pbl}, core={%*pbl}",
        cpu,
        nr_cpu_ids(),
        sibling.as_ptr(),
        nr_cpu_ids(),
        core.as_ptr()
    );
    if let Some(u) = npc.and_then(NullPcpu::get) {
        printk!(", unit=%pdv%d", u.domain().as_ptr(), u.id());
    }
    printk!("\n");

    // The current unit; nothing to say for the idle unit.
    if let Some(curr) = Resource::of(cpu)
        .curr()
        .filter(|u| ours && !u.priv_().is_null())
    {
        // SAFETY: a unit running on our pCPU has our NullUnit.
        let nvc = unsafe { NullUnit::of(curr) };
        if !nvc.unit.is_idle() {
            printk!("\trun: ");
            dump_unit(nvc);
            printk!("\n");
        }
    }

    drop(lock);
}

/// `dump_settings`: free pCPUs, domains and their units, the waitqueue;
/// then, beyond null.c, each waiting unit's wait and where it may run, and
/// the pool's totals (waits since the scheduler started, units held,
/// pCPUs, admission mode).
#[inline(always)]
fn dump(ops: Ops<'_, NullPrivate>) {
    let prv = ops.data();
    // Lock order: private lock, then each unit's runqueue lock, then the
    // waitqueue lock.
    let domains = prv.domains.lock_irqsave();

    printk!(
        "\tcpus_free = %*pbl\n",
        nr_cpu_ids(),
        (&raw const prv.cpus_free).cast::<c_ulong>()
    );

    printk!("Domain info:\n");
    let mut n: c_int = 0;
    for ndom in domains.iter() {
        // SAFETY: nodes on the domain list are alive until free_domdata
        // removes them, which needs the lock we hold.
        let ndom: &NullDom = unsafe { ndom.as_ref() };
        printk!("\tDomain: %d\n", ndom.dom.id() as c_int);
        for u in ndom.dom.units() {
            let lock = UnitLock::new(u, domains.irqs_off());
            n += 1;
            printk!("\t%3d: ", n);
            // SAFETY: units of our domains carry our NullUnit.
            dump_unit(unsafe { NullUnit::of(u) });
            printk!("\n");
            drop(lock);
        }
    }

    printk!("Waitqueue: ");
    {
        let wq = prv.waitq.lock(domains.irqs_off());
        let mut n: c_int = 0;
        // In FIFO order, across both lists.
        for (u, _) in Fifo::new(&*wq) {
            let first = n == 0;
            n += 1;
            if !first {
                printk!(", ");
            }
            if n % 24 == 0 {
                printk!("\n\t");
            }
            printk!("%pdv%d", u.domain().as_ptr(), u.id());
        }
        printk!("\n");
        // Beyond null.c: how long each has waited, and where it may run.
        let now = time::now();
        for (u, _) in Fifo::new(&*wq) {
            // SAFETY: a queued unit of ours carries our NullUnit.
            let nvc = unsafe { NullUnit::of(u) };
            let waited_ms = (now - nvc.queued_at.load(Relaxed)) / 1_000_000;
            let may = MaskBuf::and(u.hard_affinity(), u.domain().pool_mask());
            printk!(
                "\t%pdv%d: waiting %ld ms, may run on {%*pbl}\n",
                u.domain().as_ptr(),
                u.id(),
                waited_ms as c_long,
                nr_cpu_ids(),
                may.as_ptr()
            );
        }
        let mode = admission::mode().name();
        printk!(
            "\twaits = %lu, units = %u, pCPUs = %u, admission = %.*s\n",
            wq.next_seq as c_ulong,
            prv.admitted.units() as c_uint,
            prv.capacity() as c_uint,
            mode.len() as c_int,
            mode.as_ptr()
        );
    }
    drop(domains);
}

/// `dump_cpu_state`.
///
/// # Safety
/// Called by Xen's `r` key handler with one of our initialised schedulers
/// (for a pCPU of it or, for the boot scheduler, a pCPU in no cpupool).
#[no_mangle]
pub unsafe extern "C" fn null_rs_dump_pcpu(ops: *const scheduler, cpu: c_int) {
    sched_hook!(dump_cpu_state(ops, cpu) => dump_pcpu)
}

/// `dump_settings`.
///
/// # Safety
/// Called by Xen's `r` key handler with one of our initialised schedulers.
#[no_mangle]
pub unsafe extern "C" fn null_rs_dump(ops: *const scheduler) {
    sched_hook!(dump_settings(ops) => dump)
}
