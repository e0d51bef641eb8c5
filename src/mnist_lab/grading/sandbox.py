"""Start the student's kernel, hold it to memory and disk limits, and end all it leaves behind.

Usage: ``python -I sandbox.py [--memory-limit-mb N] [--disk-limit-mb N --disk-folder DIR ...]
[--report PATH] [--uid N --home DIR] [--no-network] -- KERNEL COMMAND ...`` (the grader puts
this in front of the kernel command; `wrapper_command` builds it).

- **No network.** With ``--no-network`` (the rubric's ``limits.network = false``, the
  default), this process moves into a network namespace of its own before it starts the
  kernel: its only interface is a loopback that nothing else shares, so the notebook can
  neither reach another machine nor the grading machine's own services (a database, a
  Jupyter server, the other kernels of a batch). The kernel then talks to the grader over
  Unix sockets (Jupyter's IPC transport), which do not need a network. Making the
  namespace needs root on Linux; `network_isolation` says whether it can be made here.

- **Another user.** With ``--uid`` (the grader runs as root: see `kernel_user`), the kernel
  runs as that unprivileged user, with no supplementary groups, ``DIR`` as its home and
  temporary folder, and a copy of its connection file that it can read. This process stays
  root, so the kernel cannot signal it, the grader or anything else that is not its own.
  That user may have at most `MAX_PROCESSES` processes and threads (a fork bomb fails);
  what it keeps in /dev/shm counts toward the memory limit, and what it leaves in the
  folders every user may write in (`SHARED_FOLDERS`) is removed when the kernel ends.

- **Clean-up.** On Linux this process becomes a "child subreaper": a process the student's
  code starts and detaches (a double fork, a new session) is re-parented here instead of to
  init, so that once the kernel exits it is found and killed. Without that, a detached
  process could outlive the grading and rewrite results.json after the grader wrote it.
- **Memory.** With ``--memory-limit-mb``, the resident memory (RSS) of the kernel and of
  every process below it is summed a few times a second from ``/proc``; over the limit,
  the whole tree is killed. An address-space limit (RLIMIT_AS) would break TensorFlow,
  which reserves far more virtual memory than it uses, so the only rlimit is a backstop:
  RLIMIT_DATA at `DATA_LIMIT_FACTOR` times the limit, which turns an allocation too fast
  for the watch into a MemoryError.
- **Disk.** With ``--disk-limit-mb`` and the folders the kernel may write in
  (``--disk-folder``, repeated), what those folders hold, plus what a kernel run as its own
  user keeps at the top of /tmp and /var/tmp, is summed every `DISK_POLL_SECONDS`; over
  the limit, the whole tree is killed, as for memory. RLIMIT_FSIZE at the same size makes
  a single file that outgrows it fail at once (``OSError: File too large``), before the
  next measurement: a notebook cannot fill the machine's disk for the other students.
- **The grader gone.** When the grader that started this process dies without ending the
  kernel (killed with SIGKILL, say), the kernel and its tree are killed within a poll, so a
  killed batch leaves no notebook training on with nobody to read its work.
- **Why the kernel ended.** With ``--report``, a small JSON file says how the kernel ended
  (over the memory limit, killed by a signal, or exited with a status); `explain_end`
  turns it into a sentence for the student. It is written before this process exits, so
  it is there by the time the grader sees the kernel gone.

The kernel shares this process's process group, so interrupts sent to the group reach it;
this process itself ignores them. It imports only the standard library, so it starts fast
and does not depend on the code it guards.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import functools
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>
CLONE_NEWNET = 0x40000000  # from <linux/sched.h>
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1  # from <linux/sockios.h>, <net/if.h>
CLEANUP_SECONDS = 5.0
# How often the memory of the kernel's process tree is measured.
POLL_SECONDS = 0.1
# How often the files the kernel wrote are measured (a walk of its folders).
DISK_POLL_SECONDS = 1.0
# The RLIMIT_DATA backstop, as a multiple of the memory limit (see the module docstring).
DATA_LIMIT_FACTOR = 2
# The processes and threads a kernel run as a user of its own may have at once: TensorFlow
# training a model uses about 10 threads on 2 cores, a kernel a few more; a fork bomb
# meets the limit.
MAX_PROCESSES = 1024
MB = 1024 * 1024
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# Each thread's children are listed in /proc (cheap); without that, all of /proc is scanned.
HAS_CHILDREN_FILES = os.path.exists(f"/proc/self/task/{os.getpid()}/children")
# What each kind of report holds (all whole numbers), as `read_report` accepts it.
REPORT_FIELDS = {
    "memory": ("limit_mb", "used_mb"),
    "disk": ("limit_mb", "used_mb"),
    "signal": ("signal",),
    "exit": ("status",),
    "orphaned": (),
}


def become_subreaper() -> bool:
    """Ask Linux to re-parent orphaned descendants to this process; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def wrapper_command(
    *,
    memory_limit_mb: int | None = None,
    disk_limit_mb: int | None = None,
    disk_folders: tuple[Path, ...] = (),
    report: Path | None = None,
    uid: int | None = None,
    home: Path | None = None,
    network: bool = True,
) -> list[str]:
    """The command to put in front of a kernel command to run it in this sandbox.

    ``disk_folders`` are the folders the kernel may write in (its home is added); what they
    hold counts toward ``disk_limit_mb``. With ``network`` False the kernel gets a network
    namespace of its own (see `network_isolation`; its channels must then be IPC).
    """
    command = [sys.executable, "-I", str(Path(__file__).resolve())]
    if memory_limit_mb is not None:
        command += ["--memory-limit-mb", str(memory_limit_mb)]
    if disk_limit_mb is not None:
        command += ["--disk-limit-mb", str(disk_limit_mb)]
        for folder in (*disk_folders, *([home] if home is not None else [])):
            command += ["--disk-folder", str(folder)]
    if report is not None:
        command += ["--report", str(report)]
    if uid is not None:
        if home is None:
            raise ValueError("a kernel run as another user needs a home folder")
        command += ["--uid", str(uid), "--home", str(home)]
    if not network:
        command.append("--no-network")
    return [*command, "--"]


# No network ----------------------------------------------------------------------------------


def isolate_network() -> None:
    """Move this process into a new network namespace whose only interface, its own
    loopback, is up; raises OSError where that is not allowed (not root, a container)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"unshare(CLONE_NEWNET) failed: {os.strerror(number)}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(control, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(control, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


# Run in the sandbox by `network_isolation`: its interfaces, and whether it reaches out.
PROBE = """import socket
print(",".join(sorted(name for _, name in socket.if_nameindex())))
"""


@functools.cache
def network_isolation() -> str | None:
    """None when kernels can be given a network of their own here; otherwise why not.

    Tried once per process, for real: this module starts a stand-in kernel with
    ``--no-network`` and checks that it sees no interface but its loopback.
    """
    if not sys.platform.startswith("linux"):
        return f"the grader runs on {sys.platform}, and network namespaces are Linux's"
    if os.geteuid() != 0:
        return "the grader is not running as root, which making a network namespace needs"
    command = [*wrapper_command(network=False), sys.executable, "-I", "-c", PROBE]
    try:
        probe = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        return f"a trial sandbox could not be started ({type(error).__name__}: {error})"
    if probe.returncode != 0 or probe.stdout.strip() != "lo":
        why = (probe.stderr.strip().splitlines() or [probe.stdout.strip()])[-1]
        return f"this machine does not let the grader make a network namespace ({why})"
    return None


# Another user --------------------------------------------------------------------------------

# Variables that would point the kernel at the grader's own folders.
PERSONAL_VARIABLES = (
    "IPYTHONDIR",
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_DATA_DIR",
    "JUPYTER_RUNTIME_DIR",
    "KERAS_HOME",
    "MPLCONFIGDIR",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_RUNTIME_DIR",
)


def as_user(command: list[str], uid: int, home: Path) -> tuple[list[str], dict[str, str]]:
    """The kernel command and environment for running it as ``uid`` with ``home``.

    The connection file the grader wrote (``-f PATH``) is in a folder only the grader can
    enter; the kernel gets a copy in its home, readable by it alone.
    """
    command = list(command)
    if "-f" in command[:-1]:
        where = command.index("-f") + 1
        source = Path(command[where])
        copy = home / source.name
        copy.write_bytes(source.read_bytes())
        os.chown(copy, uid, uid)
        copy.chmod(0o600)
        command[where] = str(copy)
    environment = {
        name: value for name, value in os.environ.items() if name not in PERSONAL_VARIABLES
    }
    environment.update(HOME=str(home), TMPDIR=str(home / "tmp"), USER="student", LOGNAME="student")
    return command, environment


# Processes -----------------------------------------------------------------------------------


def _state(pid: int) -> str | None:
    """The process's state letter ("R", "S", "Z"...), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as status:
            return status.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _children(parent: int) -> list[int]:
    """The live children of ``parent``: from /proc/PID/task/*/children, else a /proc scan."""
    if not HAS_CHILDREN_FILES:  # a Linux built without CONFIG_PROC_CHILDREN
        return _children_by_scan(parent)
    try:
        tasks = os.listdir(f"/proc/{parent}/task")
    except OSError:
        return []
    found = []
    for task in tasks:
        try:
            with open(f"/proc/{parent}/task/{task}/children") as children:
                found += [int(pid) for pid in children.read().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return [pid for pid in found if _state(pid) not in (None, "Z")]


def _children_by_scan(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as status:
                fields = status.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, ppid = fields[0], int(fields[1])
        if ppid == parent and state != "Z":
            found.append(int(entry))
    return found


def descendants(root: int) -> list[int]:
    """Every live process below ``root`` (not ``root`` itself), parents before children."""
    found, queue = [], _children(root)
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue += _children(pid)
    return found


def resident_bytes(pid: int) -> int:
    """The process's resident memory (RSS) in bytes; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def end_descendants(timeout: float = CLEANUP_SECONDS) -> None:
    """Kill every remaining descendant: each killed process's children come here next."""
    if not os.path.isdir("/proc"):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap()
        children = _children(os.getpid())
        if not children:
            return
        _kill(children)
        time.sleep(0.02)


def limit_processes(count: int = MAX_PROCESSES) -> None:
    """Limit the processes and threads of the kernel's user to ``count`` (RLIMIT_NPROC).

    Counted per user, so it holds only for a kernel run as a user of its own; root (this
    process) is exempt. A fork bomb then fails with BlockingIOError in its cell instead of
    using up the machine's process ids (32,768 by default) for every other program.
    """
    import resource  # POSIX only

    _, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    if hard != resource.RLIM_INFINITY:
        count = min(count, hard)
    resource.setrlimit(resource.RLIMIT_NPROC, (count, count))


# The memory limit ----------------------------------------------------------------------------


def set_data_backstop(limit_mb: int) -> None:
    """Limit each process's data segment to `DATA_LIMIT_FACTOR` times ``limit_mb``."""
    import resource  # POSIX only

    _lower_soft_limit(resource.RLIMIT_DATA, DATA_LIMIT_FACTOR * limit_mb * MB)


def _lower_soft_limit(kind: int, wanted: int) -> None:
    """Set the soft limit ``kind`` to ``wanted``, or to the hard limit if that is lower."""
    import resource  # POSIX only

    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(kind, (wanted, hard))


# Folders every user may write in. Files a kernel run as its own user leaves there are
# removed when it ends; and what it keeps in /dev/shm is memory (tmpfs), so it counts.
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")
SHARED_MEMORY = "/dev/shm"


def owned_entries(uid: int, folders: tuple[str, ...] = SHARED_FOLDERS) -> list[str]:
    """The entries at the top of ``folders`` that belong to ``uid`` (links not followed)."""
    found = []
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                if os.lstat(path).st_uid == uid:
                    found.append(path)
    return found


def _stored_bytes(path: str) -> int:
    """The bytes ``path`` takes (a folder: all it holds), links not followed."""
    try:
        status = os.lstat(path)
    except OSError:
        return 0
    total = status.st_blocks * 512
    if stat.S_ISDIR(status.st_mode):
        for root, folders, files in os.walk(path):
            for name in folders + files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def shared_memory_bytes(uid: int) -> int:
    """What ``uid`` keeps in /dev/shm: memory, though no process's RSS counts it."""
    return sum(_stored_bytes(path) for path in owned_entries(uid, (SHARED_MEMORY,)))


def remove_owned(uid: int) -> None:
    """Remove what ``uid`` left at the top of the shared folders."""
    for path in owned_entries(uid):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


# The disk limit ------------------------------------------------------------------------------

# The shared folders whose files count toward the disk limit (/dev/shm is memory).
SHARED_DISK_FOLDERS = ("/tmp", "/var/tmp")


@dataclass(frozen=True)
class DiskLimit:
    """At most ``limit_mb`` in ``folders``, and in what ``uid`` keeps in the shared folders."""

    limit_mb: int
    folders: tuple[str, ...]

    def used_bytes(self, uid: int | None) -> int:
        used = sum(_stored_bytes(folder) for folder in self.folders)
        if uid is not None:
            used += sum(_stored_bytes(path) for path in owned_entries(uid, SHARED_DISK_FOLDERS))
        return used


def limit_file_size(limit_mb: int) -> None:
    """Make a write that takes a file past ``limit_mb`` fail (RLIMIT_FSIZE) in this process
    and those it starts. Python ignores SIGXFSZ, so the write raises OSError (EFBIG)."""
    import resource  # POSIX only

    _lower_soft_limit(resource.RLIMIT_FSIZE, limit_mb * MB)


def watch(
    kernel: subprocess.Popen,
    limit_mb: int | None,
    uid: int | None = None,
    disk: DiskLimit | None = None,
) -> tuple[int, dict | None]:
    """Wait for the kernel to end; over ``limit_mb`` or ``disk``, or once the grader is gone,
    kill its tree.

    The grader started this process; when it dies (killed with SIGKILL, say), this process
    is re-parented and its parent id changes: nobody will read the kernel's work, so the
    kernel must not go on training and holding memory. Returns the kernel's exit code, and
    a report when it was stopped for memory, for disk or because the grader was gone.
    """
    grader = os.getppid()
    next_disk_check = time.monotonic()
    while True:
        try:
            return kernel.wait(timeout=POLL_SECONDS), None
        except subprocess.TimeoutExpired:
            pass
        if os.getppid() != grader:
            _kill(descendants(os.getpid()))
            kernel.wait()
            return -signal.SIGKILL, {"reason": "orphaned"}
        if disk is not None and time.monotonic() >= next_disk_check:
            written = disk.used_bytes(uid)
            if written > disk.limit_mb * MB:
                _kill(descendants(os.getpid()))
                kernel.wait()
                return -signal.SIGKILL, {
                    "reason": "disk",
                    "limit_mb": disk.limit_mb,
                    "used_mb": written // MB,
                }
            next_disk_check = time.monotonic() + DISK_POLL_SECONDS
        if limit_mb is None or not os.path.isdir("/proc"):
            continue
        tree = descendants(os.getpid())
        used = sum(resident_bytes(pid) for pid in tree)  # shared pages count once per process
        if uid is not None:
            used += shared_memory_bytes(uid)
        if used > limit_mb * MB:
            _kill(tree)
            kernel.wait()
            return -signal.SIGKILL, {
                "reason": "memory",
                "limit_mb": limit_mb,
                "used_mb": used // MB,
            }


# The report ----------------------------------------------------------------------------------


def write_report(path: Path | None, report: dict) -> None:
    """Write ``report`` to ``path`` whole (a new temporary file moved into place)."""
    if path is None:
        return
    with contextlib.suppress(OSError):
        descriptor, staged = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
        )
        with os.fdopen(descriptor, "w") as file:
            file.write(json.dumps(report))
        os.replace(staged, path)


def read_report(path: Path) -> dict | None:
    """The report at ``path``, or None when there is none, or none the sandbox could write."""
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    reason = report.get("reason") if isinstance(report, dict) else None
    if not isinstance(reason, str) or reason not in REPORT_FIELDS:
        return None
    return report if all(type(report.get(key)) is int for key in REPORT_FIELDS[reason]) else None


SIGNAL_CAUSES = {
    "SIGSEGV": "a segmentation fault: native code (ctypes, a C extension, a library bug) "
    "read or wrote memory it does not own",
    "SIGBUS": "a bus error in native code (ctypes, a C extension, a library bug)",
    "SIGABRT": "a library aborted the process after an internal error",
    "SIGKILL": "something outside Python killed it, most often the system running out of memory",
    "SIGFPE": "an arithmetic error in native code",
    "SIGTERM": "it was told to stop, by its own code or from outside",
}


def explain_end(report: dict | None) -> str | None:
    """A sentence for the student on why the kernel ended, from the sandbox's report."""
    if report is None:
        return None
    reason = report.get("reason")
    if reason == "memory":
        return (
            f"the notebook used more than {report.get('limit_mb')} MB of memory, the "
            f"grader's limit ({report.get('used_mb')} MB when it was stopped), so its kernel "
            "and everything it started were stopped. Use less memory: keep one copy of the "
            "data (float32 rather than float64; `del` arrays you no longer need), train with "
            "a smaller batch_size, and do not collect large lists of arrays"
        )
    if reason == "disk":
        return (
            f"the notebook wrote more than {report.get('limit_mb')} MB of files, the grader's "
            f"limit ({report.get('used_mb')} MB when it was stopped), so its kernel and "
            "everything it started were stopped, and the files removed. The lab saves only "
            "its models (a few MB each): do not write data, checkpoints or logs in a loop, "
            "and delete large files you made for yourself before handing in"
        )
    if reason == "signal":
        name = _signal_name(report["signal"])
        cause = SIGNAL_CAUSES.get(name, "a crash outside Python")
        return (
            f"the kernel crashed: its process was killed by signal {name} ({cause}). This is "
            "not a Python exception, so nothing after it ran. Find the call that crashes it "
            "(run the cells one at a time) and remove or fix it"
        )
    if reason == "exit":
        return (
            f"the kernel process ended itself with exit status {report.get('status')}: the "
            "code stopped Python (os._exit(), os.kill of its own process, or a library that "
            "exits) before the notebook finished, so nothing after it ran. Remove that call: "
            "the notebook must run to its end"
        )
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"number {number}"


def _end_report(code: int) -> dict:
    if code < 0:
        return {"reason": "signal", "signal": -code}
    return {"reason": "exit", "status": code}


# The command ---------------------------------------------------------------------------------


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The sandbox's options (before ``--``) and the kernel command (after it)."""
    split = argv.index("--") if "--" in argv else -1
    parser = argparse.ArgumentParser(prog="sandbox.py")
    parser.add_argument("--memory-limit-mb", type=int, default=None)
    parser.add_argument("--disk-limit-mb", type=int, default=None)
    parser.add_argument("--disk-folder", type=str, action="append", default=[])
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--uid", type=int, default=None)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--no-network", action="store_true")
    return parser.parse_args(argv[: max(split, 0)]), argv[split + 1 :]


def main(argv: list[str]) -> int:
    options, command = _parse(argv)
    if not command or (options.uid is not None and options.home is None):
        usage = (
            "usage: sandbox.py [OPTIONS] [--uid N --home DIR] [--no-network] -- KERNEL COMMAND ..."
        )
        print(usage, file=sys.stderr)
        return 2
    if options.no_network:
        try:
            isolate_network()
        except OSError as error:  # the grader checked first (`network_isolation`): rare
            print(f"sandbox.py: no network namespace for the kernel: {error}", file=sys.stderr)
            return 2
    become_subreaper()
    if options.memory_limit_mb is not None:
        set_data_backstop(options.memory_limit_mb)
    disk = None
    if options.disk_limit_mb is not None:
        limit_file_size(options.disk_limit_mb)
        disk = DiskLimit(options.disk_limit_mb, tuple(options.disk_folder))
    # A Python-level handler, not SIG_IGN: the kernel must not inherit an ignored SIGINT.
    signal.signal(signal.SIGINT, lambda *_: None)
    if options.uid is None:
        kernel = subprocess.Popen(command)
    else:
        command, environment = as_user(command, options.uid, options.home)
        limit_processes()
        kernel = subprocess.Popen(
            command,
            user=options.uid,
            group=options.uid,
            extra_groups=[],
            env=environment,
        )
    signal.signal(signal.SIGTERM, lambda *_: kernel.kill())
    code, report = watch(kernel, options.memory_limit_mb, options.uid, disk)
    end_descendants()
    if options.uid is not None:
        remove_owned(options.uid)
    # Written last, once nothing the notebook started is left to overwrite it.
    write_report(options.report, report or _end_report(code))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
