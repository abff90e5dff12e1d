"""The Python runtime of an execution environment, and the zygote that forks environments.

This file runs inside the target interpreter (python3.9 and newer), not in the server: it imports the standard
library only and never `firebox`. It is started as a script:

    python3.X -s runtime.py ZYGOTE_FD RUNTIME_LIB_DIR

The zygote pre-imports what every environment needs (and boto3 from RUNTIME_LIB_DIR, as Lambda's Python runtime ships
it), then waits on ZYGOTE_FD (a SOCK_SEQPACKET socket) for spawn requests. Each request carries a JSON document and
two file descriptors: the environment's frame socket and the write end of its log pipe. The zygote forks; the child
isolates itself (`isolate`: the function-independent part of the sandbox), confines itself to its function
(`confine`), becomes the environment's runtime and never returns to the zygote loop. A request without an
`assignment` makes a spare: it isolates itself ahead of time and waits on its frame socket for the assignment, so
a cold start skips the slow part. The zygote reports `spawned` (with the pid) and, when it reaps a child, `exited`
(with the raw wait status).

Frames between the server and an environment: 4-byte big-endian header length, 4-byte payload length, a JSON
header, the raw payload bytes.
"""

from __future__ import annotations

import array
import ctypes
import ctypes.util
import decimal
import importlib
import io
import json
import logging
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

_FRAME = struct.Struct(">II")
_THIS_FILE = os.path.abspath(__file__)


# frames


def recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    header_len, payload_len = _FRAME.unpack(recv_exact(sock, _FRAME.size))
    header = json.loads(recv_exact(sock, header_len))
    return header, recv_exact(sock, payload_len) if payload_len else b""


def send_frame(sock: socket.socket, header: dict[str, Any], payload: bytes = b"") -> None:
    encoded = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_FRAME.pack(len(encoded), len(payload)) + encoded + payload)


# errors as Lambda's Python runtime reports them


class FaultError(Exception):
    """An init or invoke failure with a Lambda runtime error type (Runtime.*)."""

    def __init__(self, error_type: str, message: str, stack: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack or []


def user_frames(tb: Any) -> list[str]:
    frames = [f for f in traceback.extract_tb(tb) if os.path.abspath(f.filename) != _THIS_FILE]
    return traceback.format_list(frames)


def error_document(exc: BaseException, request_id: str) -> dict[str, Any]:
    if isinstance(exc, FaultError):
        return {
            "errorMessage": exc.message,
            "errorType": exc.error_type,
            "requestId": request_id,
            "stackTrace": exc.stack,
        }
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": user_frames(exc.__traceback__),
    }


def log_error(doc: dict[str, Any]) -> None:
    """The `[ERROR]` block Lambda's runtime writes for an unhandled error: one log event (lines joined by CR)."""
    lines = ["[ERROR] %s: %s" % (doc["errorType"], doc["errorMessage"])]
    if doc.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(frame.rstrip("\n").replace("\n", "\r") for frame in doc["stackTrace"])
    sys.stdout.write("\r".join(lines) + "\n")


# handler loading (INIT)


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler, exc)) from None
    import_name = module_name.replace("/", ".")
    if import_name in sys.builtin_module_names:
        raise FaultError(
            "Runtime.BuiltInModuleConflict", "Cannot use built-in module %s as a handler module" % module_name
        )
    try:
        module = importlib.import_module(import_name)
    except ImportError as exc:
        raise FaultError("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_name, exc)) from None
    except SyntaxError as exc:
        stack = ['  File "%s" Line %s\n    %s\n' % (exc.filename, exc.lineno, (exc.text or "").strip())]
        raise FaultError(
            "Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (module_name, exc), stack
        ) from None
    fn = getattr(module, function_name, None)
    if fn is None:
        raise FaultError(
            "Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (function_name, module_name)
        )
    return fn  # type: ignore[no-any-return]


# the context object


class CognitoIdentity:
    def __init__(self, doc: dict[str, Any] | None = None) -> None:
        doc = doc or {}
        self.cognito_identity_id = doc.get("cognitoIdentityId")
        self.cognito_identity_pool_id = doc.get("cognitoIdentityPoolId")


class Client:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.installation_id = doc.get("installation_id")
        self.app_title = doc.get("app_title")
        self.app_version_name = doc.get("app_version_name")
        self.app_version_code = doc.get("app_version_code")
        self.app_package_name = doc.get("app_package_name")


class ClientContext:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.client = Client(doc["client"]) if doc.get("client") else None
        self.custom = doc.get("custom")
        self.env = doc.get("env")


class LambdaContext:
    def __init__(self, static: dict[str, Any], invoke: dict[str, Any]) -> None:
        self.function_name = static["function_name"]
        self.function_version = static["function_version"]
        self.memory_limit_in_mb = int(static["memory_limit_in_mb"])
        self.log_group_name = static["log_group_name"]
        self.log_stream_name = static["log_stream_name"]
        self.invoked_function_arn = invoke["invoked_arn"]
        self.aws_request_id = invoke["request_id"]
        self.request_id = self.aws_request_id
        self.identity = CognitoIdentity(invoke.get("identity"))
        client_context = invoke.get("client_context")
        self.client_context = ClientContext(client_context) if client_context else None
        self.tenant_id = None
        self._deadline_ms = invoke["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def log(self, message: str) -> None:
        sys.stdout.write(message if message.endswith("\n") else message + "\n")


# logging as Lambda's Python runtime sets it up


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _RequestIdFilter.request_id
        return True


def setup_logging() -> None:
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.terminator = ""
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "WARNING").upper())


# marshalling


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value) if value % 1 else int(value)
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def marshal(result: Any) -> bytes:
    try:
        text = json.dumps(result, default=_json_default, ensure_ascii=sys.version_info < (3, 12))
    except (TypeError, ValueError) as exc:
        raise FaultError("Runtime.MarshalError", "Unable to marshal response: %s" % exc) from None
    return text.encode("utf-8")


# the environment's runtime


def flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def run_environment(sock: socket.socket, config: dict[str, Any]) -> None:
    """INIT, then invocations one at a time, forever. Exits only when the server closes the socket."""
    setup_logging()
    started = time.perf_counter()
    try:
        handler = load_handler(config["handler"])
    except Exception as exc:  # noqa: BLE001 - any init failure is reported to the caller as Lambda reports it
        doc = error_document(exc, "")
        print(
            "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, "
            "in rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using "
            "managed runtimes, runtime updates can be triggered by a function change, or can be applied "
            "automatically. To determine if the runtime has been updated, check the runtime version in the "
            "INIT_START log entry. If this error correlates with a change in the runtime version, you may be able "
            "to mitigate this error by temporarily rolling back to the previous runtime version. For more "
            "information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
        )
        log_error(doc)
        flush_output()
        send_frame(sock, {"type": "init_error"}, json.dumps(doc).encode())
        os._exit(1)
    flush_output()
    send_frame(sock, {"type": "ready", "init_ms": (time.perf_counter() - started) * 1000})
    while True:
        try:
            header, payload = recv_frame(sock)
        except EOFError:
            os._exit(0)
        request_id = header["request_id"]
        _RequestIdFilter.request_id = request_id
        os.environ["_X_AMZN_TRACE_ID"] = header.get("trace_id", "")
        context = LambdaContext(config["context"], header)
        cpu_before = os.times()
        try:
            event = json.loads(payload) if payload else {}
            body = marshal(handler(event, context))
            reply: dict[str, Any] = {"type": "result"}
        except Exception as exc:  # noqa: BLE001 - a handler's exception is a result, not our failure
            doc = error_document(exc, request_id)
            log_error(doc)
            body = json.dumps(doc).encode()
            reply = {"type": "error"}
        flush_output()
        _RequestIdFilter.request_id = ""
        reply["cpu_ms"] = cpu_ms(cpu_before, os.times())
        send_frame(sock, reply, body)


def cpu_ms(before: os.times_result, after: os.times_result) -> float:
    """CPU time (user and system, this process and the children it reaped) between two `os.times()`."""
    return float(sum(after[i] - before[i] for i in range(4))) * 1000


def become_environment(spawn: dict[str, Any], conn_fd: int, log_fd: int, base_path: list[str]) -> None:
    """In the forked child: stdout/stderr to the log pipe, the environment's variables, sandbox, then run."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
        write_through=True,
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
        write_through=True,
    )
    isolate(spawn["sandbox"])
    sock = socket.socket(fileno=conn_fd)
    assignment = spawn.get("assignment")
    if assignment is None:  # a spare: isolated ahead of time, waiting to learn which function it will run
        try:
            header, _ = recv_frame(sock)
        except EOFError:
            os._exit(0)
        assignment = header["assignment"]
    confine(spawn["sandbox"]["kind"], assignment["sandbox"])
    os.environ.clear()
    os.environ.update(assignment["environment"])
    task_root = assignment["environment"]["LAMBDA_TASK_ROOT"]
    os.chdir(task_root)
    sys.path[:] = [task_root, *assignment["extra_paths"], *base_path]
    importlib.invalidate_caches()
    run_environment(sock, assignment)


# sandboxing inside the child

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_PDEATHSIG = 1
_libc: ctypes.CDLL | None = None


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def libc() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return _libc


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        libc().mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        "mount %s" % target,
    )


def isolate(sandbox: dict[str, Any]) -> None:
    """The part of the sandbox that does not depend on the function (a spare does it ahead of time).
    `process`: own session, rlimits. `linux`: also the cgroups, new namespaces and a fresh /proc."""
    os.setsid()
    nofile = sandbox.get("nofile", 1024)
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if sandbox["kind"] != "linux":
        return
    for procs in sandbox.get("cgroup_procs", []):
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    flags = _CLONE_NEWNS | _CLONE_NEWUTS | _CLONE_NEWIPC | _CLONE_NEWPID
    if sandbox.get("no_network"):
        flags |= _CLONE_NEWNET
    _check(libc().unshare(flags), "unshare")
    mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    # The pid namespace applies to children: fork once more; this process stays as a reaper (PID 1's parent).
    pid = os.fork()
    if pid:
        _wait_and_mirror(pid)
    libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # Now PID 1 of the new namespace: a fresh /proc that shows only this namespace.
    mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV)
    libc().sethostname(b"firebox", 7)


def confine(kind: str, sandbox: dict[str, Any]) -> None:
    """The function's part (`linux`): its code read-only at /var/task, its /tmp, private directories the runtime
    needs re-exposed, then its unprivileged uid and no_new_privs."""
    if kind != "linux":
        return
    for cover, paths in sandbox.get("reveal", []):
        fds = [os.open(path, os.O_PATH) for path in paths]
        mount("tmpfs", cover, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=1m")
        for path, fd in zip(paths, fds):
            os.makedirs(path, exist_ok=True)
            mount("/proc/self/fd/%d" % fd, path, None, _MS_BIND | _MS_REC)
            mount(None, path, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
            os.close(fd)
    for source, target, read_only in sandbox["binds"]:
        mount(source, target, None, _MS_BIND | _MS_REC)
        if read_only:
            mount(None, target, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    uid = sandbox["uid"]
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    _check(libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _wait_and_mirror(pid: int) -> None:
    """The outer child: wait for the namespace's PID 1 and exit the way it did, so the zygote sees its status."""
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            os._exit(1)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be handled, so need no resetting
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


# the zygote


def recv_spawn(ctrl: socket.socket) -> tuple[dict[str, Any], list[int]]:
    fds = array.array("i")
    data, ancdata, _flags, _addr = ctrl.recvmsg(1 << 20, socket.CMSG_SPACE(2 * fds.itemsize))
    if not data:
        raise EOFError
    for level, kind, cmsg in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(cmsg[: len(cmsg) - (len(cmsg) % fds.itemsize)])
    return json.loads(data), list(fds)


def zygote(ctrl_fd: int, runtime_lib: str) -> None:
    ctrl = socket.socket(fileno=ctrl_fd)
    base_path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(_THIS_FILE)]
    if runtime_lib and os.path.isdir(runtime_lib):
        base_path.append(runtime_lib)
    sys.path[:] = base_path
    libc()  # resolved once here: find_library runs ldconfig, far too slow to repeat in every environment
    try:  # what Lambda's Python runtime ships, imported once here so every environment starts with it loaded
        import boto3  # noqa: F401
    except Exception:  # noqa: BLE001 - a runtime without boto3 still runs handlers that do not use it
        pass
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    library = (
        [os.path.realpath(os.path.join(runtime_lib, name)) for name in sorted(os.listdir(runtime_lib))]
        if (runtime_lib and os.path.isdir(runtime_lib))
        else []
    )
    hello = {
        "op": "hello",
        "pid": os.getpid(),
        "python": list(sys.version_info[:3]),
        "prefixes": sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable)}),
        "library": library + ([runtime_lib] if runtime_lib else []),
    }
    ctrl.sendall(json.dumps(hello).encode())
    while True:
        watched: list[Any] = [ctrl, wake_r]
        ready, _, _ = select.select(watched, [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
        _reap(ctrl)
        if ctrl not in ready:
            continue
        try:
            spawn, fds = recv_spawn(ctrl)
        except EOFError:
            os._exit(0)
        pid = os.fork()
        if pid == 0:
            try:
                ctrl.close()
                os.close(wake_r)
                os.close(wake_w)
                become_environment(spawn, fds[0], fds[1], base_path)
            except SystemExit as exc:  # sys.exit() in user code ends the runtime with that status, as in Python
                flush_output()
                code = exc.code
                if code is not None and not isinstance(code, int):
                    sys.stderr.write("%s\n" % code)
                    code = 1
                os._exit(code or 0)
            except BaseException:  # noqa: BLE001 - the child must never return into the zygote loop
                traceback.print_exc()
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)
        ctrl.sendall(json.dumps({"op": "spawned", "env_id": spawn["env_id"], "pid": pid}).encode())


def _reap(ctrl: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        ctrl.sendall(json.dumps({"op": "exited", "pid": pid, "status": status}).encode())


if __name__ == "__main__":
    zygote(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "")
