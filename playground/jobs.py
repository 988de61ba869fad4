"""Long work as background jobs: a job runs CLI commands (`python -m eval bench ...`, the same code as on the
shell) one after another in its own process group, logging to a file. A job outlives the page that started
it; Stop sends Ctrl-C's signal, and Resume runs the commands again, which pick up where they stopped.

`python -m playground.jobs JOB_DIR` is the runner a job's process executes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from core.run_dir import write_json  # atomic: the app's sessions read job files while the runner writes them

ROOT = Path(__file__).resolve().parents[1]
_children: dict[int, subprocess.Popen] = {}  # jobs this app process started (reaped through poll)
JOB_ID = re.compile(r"^[a-z-]+-[0-9a-f]{10}$")  # what job_id makes: a kind and a digest
_TQDM = re.compile(r"(?P<desc>[^\r\n|]*?):?\s*(?P<pct>\d+)%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)")


@dataclass(frozen=True)
class Job:
    """A job as stored in its directory: what it runs and which run directories it writes."""

    id: str
    kind: str
    title: str
    commands: list[list[str]]
    outs: list[str]
    dir: Path

    @property
    def log(self) -> Path:
        return self.dir / "log.txt"


def job_id(kind: str, commands: list[list[str]]) -> str:
    """The same request gives the same id, so clicking Run again resumes the job instead of starting another."""
    return f"{kind}-{hashlib.sha256(json.dumps(commands).encode()).hexdigest()[:10]}"


def split_list(text: str | list | None) -> list[str]:
    """'de, fr ,zh' or a list -> ['de', 'fr', 'zh']."""
    items = text if isinstance(text, list) else (text or "").split(",")
    return [x.strip() for x in items if x and x.strip()]


def run_dir(runs_dir: Path, kind: str, *parts: str) -> Path:
    """A readable, stable directory for a run: the same request lands in the same place (and resumes)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", parts[0]).strip("-")[:40]
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]
    return runs_dir / kind / f"{slug}-{digest}"


def jobs_dir(runs_dir: Path) -> Path:
    return runs_dir / "jobs"


def load(path: Path) -> Job:
    data = json.loads((path / "job.json").read_text())
    return Job(data["id"], data["kind"], data["title"], data["commands"], data["outs"], path)


def list_jobs(runs_dir: Path, kinds: tuple[str, ...] | None = None) -> list[Job]:
    """Jobs under `runs_dir`, newest first."""
    found = []
    for path in jobs_dir(runs_dir).glob("*/job.json"):
        try:  # a public app's cleanup may delete a visitor's runs while another session lists them
            job, changed = load(path.parent), path.stat().st_mtime
        except FileNotFoundError:
            continue
        if kinds is None or job.kind in kinds:
            found.append((changed, job))
    return [job for _, job in sorted(found, key=lambda x: x[0], reverse=True)]


def _state(job: Job) -> dict:
    path = job.dir / "state.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid in _children:
        return _children[pid].poll() is None
    try:
        os.kill(pid, 0)  # a job started by an earlier app process (not our child: no zombie to reap)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def status(job: Job) -> str:
    """running, done, failed or stopped (a killed app or machine leaves a job stopped: resume it)."""
    state = _state(job)
    if _alive(state.get("pid")) and not state.get("finished"):
        return "running"
    codes = state.get("returncodes", [])
    if state.get("finished") and codes and all(c == 0 for c in codes) and len(codes) == len(job.commands):
        return "done"
    if codes and codes[-1] not in (0, 130, -2):
        return "failed"
    return "stopped"


def start(runs_dir: Path, kind: str, title: str, commands: list[list[str]], outs: list[str],
          env: dict | None = None) -> Job:
    """Start (or resume) the job running `commands`; `env` adds variables (e.g. a key) to its process only,
    never to a file."""
    jid = job_id(kind, commands)
    path = jobs_dir(runs_dir) / jid
    path.mkdir(parents=True, exist_ok=True)
    job = Job(jid, kind, title, commands, outs, path)
    if status(job) == "running":
        raise ConfigError(f"{title} is already running; wait for it, or stop it first.")
    write_json(path / "job.json", {"id": jid, "kind": kind, "title": title, "commands": commands, "outs": outs})
    with job.log.open("a") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} started\n")
        proc = subprocess.Popen([sys.executable, "-m", "playground.jobs", str(path)], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    _children[proc.pid] = proc
    write_json(path / "state.json", {"pid": proc.pid, "returncodes": [], "current": 0})
    return job


def stop(job: Job, wait: float = 30.0) -> str:
    """Ctrl-C the job's process group (the commands write what they finished and exit); kill it if it hangs."""
    pid = _state(job).get("pid")
    if not _alive(pid):
        return status(job)
    os.killpg(pid, signal.SIGINT)
    deadline = time.time() + wait
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
    return status(job)


def progress(job: Job) -> tuple[float, str]:
    """(fraction done, 'command i/n: the last progress bar') read from the log."""
    state = _state(job)
    n = max(1, len(job.commands))
    current = min(state.get("current", 0), n - 1)
    if status(job) == "done":
        return 1.0, "done"
    tail = job.log.read_text(errors="replace")[-4000:] if job.log.is_file() else ""
    bars = list(_TQDM.finditer(tail))
    if not bars:
        return current / n, f"command {current + 1}/{n}: starting (loading data and model) ..."
    last = bars[-1]
    done, total = int(last["n"]), max(1, int(last["total"]))
    return (current + done / total) / n, f"command {current + 1}/{n}: {last['desc'].strip()} {done}/{total}"


def log_tail(job: Job, lines: int = 12) -> str:
    """The end of the job's log, progress-bar redraws collapsed to their last state."""
    if not job.log.is_file():
        return ""
    text = job.log.read_text(errors="replace")[-20000:]
    kept = [line.split("\r")[-1] for line in text.splitlines()]
    return "\n".join(kept[-lines:])


def _run(path: Path) -> int:
    """The runner: each command in turn, stopping at the first that fails or is interrupted."""
    job = load(path)
    # An app started with `&` from a script inherits SIGINT ignored (POSIX shells do that to background jobs),
    # and so would the commands: Stop could not stop them. Ctrl-C is restored here for the runner and them.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    state = {"pid": os.getpid()}  # the runner leads the job's process group: Stop signals this pid's group
    codes: list[int] = []
    for i, command in enumerate(job.commands):
        state |= {"current": i, "returncodes": codes}
        write_json(path / "state.json", state)
        print(f"$ python {' '.join(command)}", flush=True)
        proc = subprocess.Popen([sys.executable, *command], cwd=ROOT)
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:
                pass  # the command got the same signal: let it finish writing and exit by itself
        codes.append(code)
        if code != 0:
            break
    state |= {"returncodes": codes, "finished": True}
    write_json(path / "state.json", state)
    return 0 if codes and codes[-1] == 0 else 1


if __name__ == "__main__":
    sys.exit(_run(Path(sys.argv[1])))
