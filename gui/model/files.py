"""Files the lab reads and writes: demo scripts, session files, atomic saves.

:func:`adopt_script` shows a script's outcome in a session; :func:`session_json` and
:func:`read_session_file` are the session file format's two directions; a save goes
through :func:`write_atomic`, so a crash leaves either the old or the new file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import engine
from gui.i18n import tr
from gui.model.config import (
    MAX_FILE_BYTES,
    ROOT_NAMES,
    SESSION_FORMAT,
    SESSION_VERSION,
    ConfigError,
    config_to_dict,
)
from gui.model.script_runner import ScriptResult, execute_script

if TYPE_CHECKING:  # these functions serve the session, whose module imports this one
    from gui.model.session import Session


def _script_root(named: dict[str, engine.Tensor]) -> str | None:
    """The tensor to backpropagate from: a usual root name, else the last with a grad_fn."""
    for k in ROOT_NAMES:
        if k in named and named[k].grad_fn is not None:
            return k
    for k in reversed(list(named)):
        if named[k].grad_fn is not None:
            return k
    return None


def _report_failed_script(s: Session, src_path: Path, result: ScriptResult) -> None:
    if result.stopped:
        s.log(tr("Script {name} stopped.", name=src_path.name), "warning")
        return
    if not result.source and not result.error.startswith("Traceback"):
        s.log(tr("Cannot read {path}: {error}", path=str(src_path), error=result.error),
              "error")
        return
    tb = result.error
    s.log(tr("The script raised an exception:") + "\n" + tb.rstrip(), "error")
    s.emit("error", message=tb.strip().splitlines()[-1],
           hint=tr("The script stopped with an error; the traceback is in the log."))


def load_script(s: Session, path: str) -> bool:
    """Run a demo script here and now (blocking) and show the graph it left behind."""
    result = execute_script(path)
    lines, dropped = result.output.drain()
    if dropped:
        s.log(tr("… {n} earlier output lines not shown.", n=dropped), "warning")
    if lines:
        s.log("\n".join(lines), "output")
    return adopt_script(s, Path(path), result)


def adopt_script(s: Session, src_path: Path, result: ScriptResult) -> bool:
    """Show a finished script's graph in ``s``; on failure log why and keep the old one."""
    if not result.ok:
        _report_failed_script(s, src_path, result)
        return False
    ns, source, printed = result.namespace, result.source, result.output.tail_text()
    named = {k: v for k, v in ns.items() if isinstance(v, engine.Tensor)
             and not k.startswith("_")}
    root_name = _script_root(named)
    s.stepper.abandon()
    if s.mode != "script" or s.script_path != str(src_path):
        s.reset_history()
    s.mode = "script"
    s.script_path = str(src_path)
    s.ops = []
    s.tensors = named
    s.root_name = root_name or ""
    s.root = named.get(root_name) if root_name else None
    s.root_gradient = None
    if s.root is not None and s.root.numel() != 1:
        s.root_gradient = engine.ones_like(s.root)
    if s.root is not None and s.root.numel() == 1:
        s.losses.append(float(s.root.item()))
    s.rebuild_graph(probe=False)
    s.log(tr("Script {name} finished; graph of '{root}' ready to step.",
             name=src_path.name, root=root_name) if root_name else
          tr("Script {name} finished but left no tensor with a grad_fn.", name=src_path.name))
    s.show_code(source.rstrip(), printed.rstrip())
    s.emit("config")
    s.emit("graph")
    s.emit("history")
    return True


def session_json(s: Session) -> str:
    """The session file text: the network and the options, one line per row of numbers."""
    data = {"format": SESSION_FORMAT, "version": SESSION_VERSION,
            "network": config_to_dict(s.live_config),
            "options": {"retain_graph": s.retain_graph, "no_grad": s.no_grad,
                        "detached": sorted(s.detached)}}
    text = json.dumps(data, indent=2)
    return re.sub(r"\[\s+([-+\d.,eE\s]+?)\s+\]",
                  lambda m: "[" + " ".join(m.group(1).split()) + "]", text)


def _write_chunks(f: Any, data: bytes) -> None:
    """Write ``data`` to an open binary file (a seam for the crash-mid-save test)."""
    f.write(data)


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Replace ``path`` by ``text`` so that a crash leaves either the old or the new file."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, tr("This is a folder, not a file"), str(target))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_chunks(f, text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_session_file(path: str | os.PathLike) -> str:
    """The text of a session file, refused (``ConfigError``) before reading if unsuitable."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ConfigError(tr("The file does not exist.")) from None
    except OSError as e:
        raise ConfigError(tr("The file cannot be read ({error}).",
                             error=e.strerror or e)) from None
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(tr("This is a folder, not a session file.")) from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(tr("This is not a regular file.")) from None
    if st.st_size > MAX_FILE_BYTES:
        raise ConfigError(tr("The file is too large to be a JitGrad session ({size} MB; the "
                             "limit is 1 MB).", size=f"{st.st_size / 1e6:.1f}"))
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ConfigError(tr("The file cannot be read ({error}).",
                             error=e.strerror or e)) from None
    if len(raw) > MAX_FILE_BYTES:  # grew after stat()
        raise ConfigError(tr("The file is too large to be a JitGrad session."))
    if b"\0" in raw:
        raise ConfigError(tr("The file holds binary data, not JSON text."))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(tr("The file is not UTF-8 text.")) from None
