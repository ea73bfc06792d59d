"""Boot Xen with a PV dom0 under QEMU (TCG) and drive its serial console.

Stdlib only.  QEMU's single serial port (Xen's com1) is wired to QEMU's
stdin/stdout pipes (`-serial stdio -monitor none`, so no QEMU mux sits in
between and eats CTRL-a).  A reader thread copies every byte to the log file
as it arrives and keeps a decoded copy, which `wait_for` searches.
"""

import codecs
import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# Xen eats CTRL-a pressed three times in a row to rotate console input
# between Xen and dom0.
CTRL_A = b"\x01"
TO_XEN = r"\*\*\* Serial input to Xen"
TO_DOM0 = r"\*\*\* Serial input to DOM0"

# -cpu max crashes the PV dom0; this one is known to boot it.
DEFAULT_CPU = "qemu64,+svm"


# Xen keeps serial input for dom0 in a 128-byte ring (SERIAL_RX_SIZE in
# xen/drivers/char/console.c) and drops what does not fit (__serial_rx), so
# type in small pieces and give dom0 time to drain the ring in between.
TYPE_CHUNK = 32
TYPE_PAUSE = 0.05
# Pauses only help while dom0 keeps draining; when its vCPU does not run
# for a while (TCG on a loaded host), a longer line loses characters and
# the shell waits for the rest forever (seen on arm64: a 384-byte command
# left ash at its continuation prompt). A line that fits in the ring
# cannot lose any, as nothing else is typed until it has run: longer
# commands are first written to a file in pieces that fit, then sourced.
SERIAL_RX_SIZE = 128
# Lines Xen prints on the serial console: its own, and early output of
# domUs via the console_io hypercall (guest_loglvl=all).
XEN_LINE_ANYWHERE = re.compile(r"\((?:XEN|d\d+)\) [^\n]*\n")
# Printed by the dom0 /init when its shell ended and it starts another.
SHELL_EXITED = r"XEN-NULL-RS: shell exited \(\d+\), restarting\n"
# Xen itself died, or dom0 did (e.g. its init exited): nothing more will
# answer on the console.
XEN_PANIC = r"\(XEN\) (?:Panic on CPU \d+:|Hardware Dom0 crashed)"


class QemuExited(RuntimeError):
    """QEMU went away while we were waiting for output."""


class XenPanic(QemuExited):
    """Xen panicked: the machine is dead though QEMU still runs."""


class ShellError(RuntimeError):
    """A command run by `XenQemu.sh` exited non-zero."""

    def __init__(self, cmd, status, output):
        super().__init__(f"`{cmd}` exited {status}; output:\n{output}")
        self.cmd = cmd
        self.status = status
        self.output = output


def _die_with_parent():
    """preexec_fn: have the kernel SIGKILL QEMU if the forking thread dies.

    Covers the case `stop()` cannot: the test process itself being killed
    (e.g. a CI timeout), which would otherwise leave QEMU spinning.
    """
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class X86_64:
    """Multiboot: Xen is QEMU's -kernel, dom0's kernel and initrd modules."""
    QEMU = "qemu-system-x86_64"
    MACHINE = "q35"
    CPU = DEFAULT_CPU
    XEN_CMDLINE_BASE = ("console=com1 com1=115200,8n1 loglvl=all "
                        "guest_loglvl=all noreboot dom0_mem=512M")
    DOM0_CMDLINE_BASE = "console=hvc0 earlyprintk=xen rdinit=/init"

    @staticmethod
    def dom0_args(kernel, cmdline, initrd):
        # With a multiboot -kernel, -initrd is a comma-separated module list
        # and each module is "path args"; the first module is the dom0
        # kernel, its args the dom0 command line.  QEMU reads ",," as a
        # literal comma.
        modules = ",".join(m.replace(",", ",,") for m in
                           (f"{kernel} {cmdline}", str(initrd)))
        return ["-initrd", modules]


class Arm64:
    """QEMU's virt board with EL2: Xen is the -kernel (an Image), and
    guest-loader devices put dom0's kernel and initrd in RAM and describe
    them in /chosen as Xen's multiboot modules.  Xen finds its UART
    through the device tree's stdout-path (console=dtuart)."""
    QEMU = "qemu-system-aarch64"
    MACHINE = "virt,virtualization=on,gic-version=3"
    CPU = "cortex-a57"
    XEN_CMDLINE_BASE = ("console=dtuart loglvl=all guest_loglvl=all "
                        "noreboot dom0_mem=512M")
    DOM0_CMDLINE_BASE = "console=hvc0 rdinit=/init"
    # RAM starts at 0x40000000; QEMU puts Xen near its start and the DTB at
    # 0x48000000 (at most 1 MB).  Debian's Image is ~33 MB, so it ends
    # before the initrd.
    DOM0_KERNEL_ADDR = 0x42000000
    DOM0_INITRD_ADDR = 0x47000000
    DTB_ADDR = 0x48000000
    # An initrd too big for the 16 MB below the DTB (the toolstack dom0's,
    # which carries the guests' Image) goes above it.
    DOM0_INITRD_HIGH_ADDR = 0x49000000

    @classmethod
    def initrd_addr(cls, initrd):
        if Path(initrd).stat().st_size <= cls.DTB_ADDR - cls.DOM0_INITRD_ADDR:
            return cls.DOM0_INITRD_ADDR
        return cls.DOM0_INITRD_HIGH_ADDR

    @classmethod
    def dom0_args(cls, kernel, cmdline, initrd):
        if kernel is None:      # dom0less: the caller's -dtb describes all
            return []
        quoted = cmdline.replace(",", ",,")
        return ["-device", f"guest-loader,addr={cls.DOM0_KERNEL_ADDR:#x},"
                           f"kernel={kernel},bootargs={quoted}",
                "-device", f"guest-loader,addr={cls.initrd_addr(initrd):#x},"
                           f"initrd={initrd}"]


ARCHES = {"x86_64": X86_64, "arm64": Arm64}


class XenQemu:
    """One QEMU machine running Xen; always `stop()` it (or use `with`).

    `arch` ("x86_64", "arm64") picks the machine (X86_64, Arm64 above);
    `xen_cmdline` and `dom0_cmdline` are appended to its XEN_CMDLINE_BASE
    and DOM0_CMDLINE_BASE; `cpu` overrides its CPU model.  The full serial output goes to `log_path`; QEMU's own
    stderr goes to `log_path` + ".qemu-stderr", headed by the command line.
    """

    def __init__(self, xen_image, dom0_kernel, dom0_initrd, xen_cmdline="",
                 dom0_cmdline="", smp="4", mem=2048, cpu=None,
                 log_path="xen-qemu.log", accel="tcg", extra_args=(),
                 arch="x86_64"):
        if arch not in ARCHES:
            raise ValueError(f"arch {arch!r}: one of {', '.join(ARCHES)}")
        self.arch = ARCHES[arch]
        xen_cmd = f"{self.arch.XEN_CMDLINE_BASE} {xen_cmdline}".strip()
        dom0_cmd = f"{self.arch.DOM0_CMDLINE_BASE} {dom0_cmdline}".strip()
        self.argv = [
            self.arch.QEMU,
            "-accel", accel,
            "-machine", self.arch.MACHINE,
            "-cpu", cpu or self.arch.CPU,
            "-smp", str(smp),
            "-m", str(mem),
            "-nographic", "-no-reboot",
            "-monitor", "none",
            "-serial", "stdio",
            "-kernel", str(xen_image),
            "-append", xen_cmd,
            *self.arch.dom0_args(dom0_kernel, dom0_cmd, dom0_initrd),
            *extra_args,
        ]

        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self._stderr_path = Path(f"{self.log_path}.qemu-stderr")
        self._stderr = open(self._stderr_path, "w")
        self._stderr.write("# " + subprocess.list2cmdline(self.argv) + "\n")
        self._stderr.flush()

        self._cond = threading.Condition()
        self._text = ""      # serial output so far, decoded, "\r" dropped
        self._eof = False
        self._reader_error = None  # why the serial reader died, if it did
        self._last_output = None   # time.monotonic() of the last output
        self._commands = 0   # numbers the markers of sh_status()
        self.shell_restarts = 0
        self.started = time.monotonic()
        try:
            self._proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=self._stderr, preexec_fn=_die_with_parent)
        except BaseException:
            self._log.close()
            self._stderr.close()
            raise
        self._reader = threading.Thread(target=self._read_serial,
                                        name="qemu-serial", daemon=True)
        self._reader.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def _read_serial(self):
        # A reader that died would look like a machine gone silent (and,
        # with the pipe full, stall it): say so instead, at the next wait.
        try:
            self._copy_serial()
        except BaseException as e:
            with self._cond:
                self._reader_error = f"{type(e).__name__}: {e}"
                self._eof = True
                self._cond.notify_all()
            raise

    def _copy_serial(self):
        fd = self._proc.stdout.fileno()
        # Incremental: a UTF-8 sequence may straddle two reads.
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            self._log.write(chunk)
            self._log.flush()
            with self._cond:
                text = decoder.decode(chunk, final=not chunk)
                self._text += text.replace("\r", "")
                self._eof = not chunk
                if chunk:
                    self._last_output = time.monotonic()
                self._cond.notify_all()
            if not chunk:
                return

    @property
    def text(self):
        """All serial output so far ("\\r" removed)."""
        with self._cond:
            return self._text

    def position(self):
        """Offset into `text` where the next output will land."""
        return len(self.text)

    def wait_for(self, regex, timeout=300, since=0):
        """Wait until `regex` (re.MULTILINE) matches `text[since:]`.

        Returns the match (offsets are into `text`).  The output may end in a
        partial line, so a pattern that must see a whole line should end in
        "\\n".  Raises TimeoutError after `timeout` seconds and QemuExited as
        soon as QEMU's output ends.
        """
        pattern = re.compile(regex, re.MULTILINE)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                match = pattern.search(self._text, since)
                if match:
                    return match
                if self._reader_error:
                    raise RuntimeError("the serial reader died: "
                                       f"{self._reader_error}")
                if self._eof:
                    raise QemuExited(
                        f"QEMU output ended before /{regex}/ appeared; "
                        f"see {self.log_path}; QEMU stderr:\n"
                        + self._stderr_path.read_text()[-2000:])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    silent = ("no output at all" if self._last_output is None
                              else "the last output came "
                              f"{time.monotonic() - self._last_output:.0f} s ago")
                    raise TimeoutError(
                        f"/{regex}/ not seen within {timeout} s ({silent}); "
                        f"see {self.log_path}")
                self._cond.wait(remaining)

    def send(self, data):
        """Type raw bytes on the serial console."""
        self._proc.stdin.write(data)
        self._proc.stdin.flush()

    def _switch_input(self, expect, timeout=60):
        """Press CTRL-a three times and wait for Xen to confirm the switch.

        Waiting for the confirmation keeps us in step with Xen's idea of who
        owns the input, so a key can never go to the wrong side unnoticed.
        """
        pos = self.position()
        self._press_switch()
        self.wait_for(expect, timeout, since=pos)

    def _press_switch(self):
        """CTRL-a three times: Xen passes serial input on to the next in
        line (Xen, dom0, dom0less domUs)."""
        for _ in range(3):
            self.send(CTRL_A)
            time.sleep(0.1)

    def debug_key(self, key, until=None, timeout=120):
        """Press Xen debug key `key` (str or bytes), then give input back.

        If `until` is given, wait for that regex in the output that follows
        the key press before switching back, and return the match.
        """
        if isinstance(key, str):
            key = key.encode()
        with self._input_to_xen():
            pos = self.position()
            self.send(key)
            return self.wait_for(until, timeout, since=pos) if until else None

    def dump_runq(self, timeout=120):
        """Press 'r' and return the whole run-queue dump, "(XEN) " prefixes
        included, from its first line ("sched_smt_power_savings: ...") on."""
        return self.key_output(b"r", r"^.*sched_smt_power_savings:", timeout)

    def key_output(self, key, first_line, timeout=120):
        """Press debug key `key` and return all it prints, "(XEN) "
        prefixes included, from the line matching `first_line` on.

        Such output has no end marker.  The keys run from a tasklet, which
        reads the key when it starts; once the first line is out, pressing
        't' queues the same tasklet again, so the "Synced ... skew" lines
        't' prints can only come after the complete output.
        """
        with self._input_to_xen():
            pos = self.position()
            self.send(key)
            start = self.wait_for(first_line, timeout, since=pos)
            self.send(b"t")
            end = self.wait_for(r"^.*Synced stime skew:", timeout,
                                since=start.end())
            # Let 't' finish too, so the switch message does not land
            # inside it.
            self.wait_for(r"Synced cycles skew:.*\n", timeout, since=end.end())
        return self.text[start.start():end.start()]

    # What a post-mortem asks Xen for, with the header each key prints
    # first: the scheduler's view ('r'), every domain's vCPUs with their
    # pending events ('q'), where each pCPU is ('d', an IRQ-context key,
    # so it answers even when no tasklet can run) and where each of dom0's
    # vCPUs is in the guest ('0').
    POSTMORTEM_KEYS = ((b"r", r"sched_smt_power_savings:"),
                       (b"q", r"'q' pressed"),
                       (b"d", r"'d' pressed"),
                       (b"0", r"'0' pressed"))

    def postmortem(self, timeout=30):
        """After a hang, put Xen's own account of it into the log: press
        the POSTMORTEM_KEYS and wait for each to go quiet.  Best effort,
        never raises: a key that gets no answer is itself the finding (a
        Xen that cannot switch input has lost its serial interrupt; a 'r'
        with no answer, its tasklets).  Returns a one-line summary."""
        if self._proc.poll() is not None:
            return "QEMU already exited"
        if not self._reader.is_alive():
            return f"the serial reader died ({self._reader_error})"
        try:
            self.input_round_to_xen(timeout)
        except Exception:
            return "Xen did not switch serial input to itself"
        answered = []
        for key, header in self.POSTMORTEM_KEYS:
            pos = self.position()
            self.send(key)
            try:
                self.wait_for(header, timeout, since=pos)
            except Exception:
                answered.append(f"'{key.decode()}' unanswered")
                continue
            self._wait_quiet(2, timeout)
            answered.append(f"'{key.decode()}' dumped")
        return ", ".join(answered) + f"; see {self.log_path}"

    def after_failure(self, exc, name):
        """Of a failed wait for the machine: if it was a timeout, run the
        post-mortem and print its summary (the dumps are in the log)."""
        if isinstance(exc, TimeoutError):
            print(f"\n  [{name}] post-mortem: {self.postmortem()}",
                  file=sys.stderr)

    def input_round_to_xen(self, timeout=60, tries=8):
        """Rotate serial input until it reaches Xen, however many domains
        come first (dom0less domUs do; Xen may already have it).  Unlike
        `_input_to_xen`, input is not given back."""
        for _ in range(tries):
            pos = self.position()
            self._press_switch()
            m = self.wait_for(r"\*\*\* Serial input to (\w+)", timeout,
                              since=pos)
            if m[1] == "Xen":
                return
        raise RuntimeError(f"serial input not at Xen after {tries} switches")

    def _wait_quiet(self, quiet, limit):
        """Wait until no output came for `quiet` s (at most `limit` s)."""
        deadline = time.monotonic() + limit
        last = self.position()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self.position()
            if now == last:
                return
            last = now

    @contextlib.contextmanager
    def _input_to_xen(self):
        """Serial input to Xen for the block, then back to dom0, also when
        the block fails: what a test types next (its cleanup too) must not
        reach Xen as debug keys. (Seen on arm64: a dump that never came,
        then the cleanup's "echo XNR-..." typed to Xen, whose 'R' key
        rebooted the machine.) Xen switches in its serial interrupt, so
        this works even when the key's tasklet never runs."""
        self._switch_input(TO_XEN)
        try:
            yield
        except BaseException:
            if self._proc.poll() is None:
                with contextlib.suppress(Exception):
                    self._switch_input(TO_DOM0)
            raise
        self._switch_input(TO_DOM0)

    def sh_status(self, cmd, timeout=60):
        """Run `cmd` in the dom0 shell; return (exit status, output).

        Needs a dom0 whose /init ends in a shell on the console with echo
        off (initrd-xl.gz, scripts/make-toolstack.sh).  `cmd` runs with
        stdin from /dev/null and stderr merged into stdout; it must not
        leave the shell (no `exit`, no `exec`).  Lines Xen prints meanwhile
        ("(XEN) ...", "(d1) ...") are dropped from the output.  Raises
        TimeoutError, with the end of the console output, after `timeout`
        seconds, and XenPanic as soon as Xen panics.
        """
        self._commands += 1
        n = self._commands
        line = self._command_line(n, cmd)
        if len(line.encode()) > SERIAL_RX_SIZE:
            line = self._command_line(n, f". {self._stage(n, cmd, timeout)}")
        for attempt in range(3):
            pos = self.position()
            data = line.encode()
            for i in range(0, len(data), TYPE_CHUNK):
                self.send(data[i:i + TYPE_CHUNK])
                time.sleep(TYPE_PAUSE)
            begin = self._wait_in_command(
                rf"XNR-BEGIN-{n}(?=\n|\()|{SHELL_EXITED}", cmd, timeout, pos)
            if not re.match(SHELL_EXITED, begin[0]):
                break
            # The shell ended before reading the line (the dom0 /init
            # starts a new one): the command never ran, so type it again.
            self.shell_restarts += 1
            self.wait_for(r"/ # ", timeout, since=begin.end())
        else:
            raise QemuExited(f"dom0 shell keeps exiting; see {self.log_path}")
        # Xen's own lines may land inside dom0's, right after a marker
        # ("XNR-END-31-0(XEN) ..."): a marker ends at a newline or at "(".
        end = self._wait_in_command(rf"XNR-END-{n}-(\d+)(?=\n|\()", cmd, timeout,
                                    begin.end())
        output = self.text[begin.end():end.start()]
        # Drop Xen's lines, also where one cut into a line of dom0's
        # ("abc(XEN) ...\ndef" was dom0's "abcdef").
        output = XEN_LINE_ANYWHERE.sub("", output)
        return int(end[1]), output

    @staticmethod
    def _command_line(n, cmd):
        """What sh_status types to run `cmd` as command number `n`."""
        # The markers are produced by the shell, never typed literally
        # ($((n+0)) expands to n), so even an echo of the typed line could
        # not match them.  The newline before "}" keeps a `cmd` ending in
        # "&" or a comment well formed.  $? is expanded before anything
        # else runs, so it is the status of `cmd`.
        return (f"echo XNR-BEGIN-$(({n}+0)); {{ {cmd}\n"
                f"}} </dev/null 2>&1; echo XNR-END-$(({n}+0))-$?\n")

    def _stage(self, n, cmd, timeout):
        """Write `cmd` to a file in dom0, with commands that each fit in
        Xen's input ring (SERIAL_RX_SIZE); return the file's path."""
        path = f"/tmp/xnr-cmd-{n}"
        self.sh(f": >{path}", timeout)
        rest = cmd
        while rest:
            take = len(rest)
            while True:
                quoted = rest[:take].replace("'", "'\\''")
                piece = f"printf %s '{quoted}' >>{path}"
                # The marker numbers grow: leave room for two more digits.
                if len(self._command_line(self._commands + 100, piece)
                       .encode()) <= SERIAL_RX_SIZE or take == 1:
                    break
                take -= 1
            self.sh(piece, timeout)
            rest = rest[take:]
        return path

    def _wait_in_command(self, regex, cmd, timeout, since):
        """wait_for(regex) for sh_status: fail fast if Xen panics, and say
        which command we were waiting for, with the console's end."""
        try:
            match = self.wait_for(f"{regex}|{XEN_PANIC}", timeout, since)
        except TimeoutError as e:
            raise TimeoutError(f"dom0 command `{cmd}`: {e}; console ends:\n"
                               + self.text[-3000:]) from None
        if re.match(XEN_PANIC, match[0]):
            raise XenPanic(f"Xen or dom0 died during dom0 command `{cmd}`; "
                           f"see {self.log_path}; console ends:\n"
                           + self.text[-3000:])
        return match

    def sh(self, cmd, timeout=60):
        """Like `sh_status`, but return only the output; raise ShellError
        if `cmd` exits non-zero."""
        status, output = self.sh_status(cmd, timeout)
        if status != 0:
            raise ShellError(cmd, status, output)
        return output

    def stop(self):
        """Kill QEMU (if still running) and close the logs.  Idempotent."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._reader.join()
        for f in (self._proc.stdin, self._proc.stdout, self._log, self._stderr):
            if not f.closed:
                f.close()
