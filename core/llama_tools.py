"""llama.cpp's own programs (`llama-server`, `llama-batched-bench`, `llama-imatrix`, `llama-perplexity`,
`llama-quantize`), built once per machine from the llama.cpp source that the installed llama-cpp-python
vendors, so the served model and the in-process binding run the same llama.cpp; and its HF -> GGUF converter
(`convert_hf_to_gguf.py`), unpacked from the same source.

The build is cached under `$POLYGLOT_HOME/llama.cpp/<key>/bin`, keyed by the sdist's sha256 and the cmake
options, as pip caches wheels. `$POLYGLOT_LLAMA_BIN` names a directory of binaries built elsewhere (a CUDA
build, a distribution's package) and skips the build.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib import metadata
from pathlib import Path

from core.errors import EngineError
from core.models import polyglot_home
from core.readers import file_sha256
from core.run_dir import atomic_dir

TOOLS = ("llama-server", "llama-batched-bench", "llama-imatrix", "llama-perplexity", "llama-quantize")
# Offline and self-contained: no curl/openssl (the server only listens on loopback), no web UI download,
# static libraries so the binaries can be copied, no tests or examples.
BASE_CMAKE = ["-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
              "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_TOOLS=ON", "-DLLAMA_BUILD_SERVER=ON",
              "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_BUILD_APP=OFF",
              "-DCMAKE_BUILD_TYPE=Release"]


def cmake_options() -> list[str]:
    """The cmake options of our build: the fixed ones, then $CMAKE_ARGS (llama-cpp-python's own variable, so
    `CMAKE_ARGS=-DGGML_CUDA=ON` builds both for CUDA); portable code (GGML_NATIVE=OFF) unless it says otherwise."""
    user = shlex.split(os.environ.get("CMAKE_ARGS", ""))
    native = [] if any(a.startswith("-DGGML_NATIVE") for a in user) else ["-DGGML_NATIVE=OFF"]
    return [*BASE_CMAKE, *native, *user]


def binding_version() -> str:
    """The installed llama-cpp-python version (whose vendored llama.cpp we build)."""
    try:
        return metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError as exc:
        raise EngineError("llama-cpp-python is not installed; run `make install` (or pip install -r "
                          "requirements.txt) first.") from exc


def sdist_path() -> Path:
    """llama-cpp-python's source archive: $POLYGLOT_LLAMA_SDIST, else fetched once by pip (from its cache)."""
    given = os.environ.get("POLYGLOT_LLAMA_SDIST")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise EngineError(f"$POLYGLOT_LLAMA_SDIST={given} is not a file; point it at "
                              f"llama_cpp_python-{binding_version()}.tar.gz or unset it.")
        return path
    version = binding_version()
    folder = polyglot_home() / "llama.cpp" / "sdist"
    found = sorted(folder.glob(f"llama_cpp_python-{version}.tar.gz"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--dest", str(folder),
           f"llama-cpp-python=={version}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(folder.glob(f"llama_cpp_python-{version}.tar.gz"))
    if done.returncode or not found:
        raise EngineError(f"Could not fetch the llama-cpp-python {version} source to build llama-server "
                          f"(`{' '.join(cmd[2:])}` said: {done.stderr.strip()[-400:]}). Download "
                          f"llama_cpp_python-{version}.tar.gz yourself and set $POLYGLOT_LLAMA_SDIST to it, "
                          f"or set $POLYGLOT_LLAMA_BIN to a directory holding llama-server.")
    return found[0]


@functools.lru_cache(maxsize=8)
def _sha256_of(path: Path, size: int, mtime: float) -> str:
    return file_sha256(path)


def source_key(sdist: Path) -> str:
    """The source archive's name + sha256, as a short directory name."""
    stat = sdist.stat()  # hashed once per process (76 MB)
    return f"{sdist.name.removesuffix('.tar.gz')}-{_sha256_of(sdist, stat.st_size, stat.st_mtime)[:12]}"


def build_key(sdist: Path) -> str:
    """sha256 of the source archive + the cmake options, as a short directory name."""
    options = hashlib.sha256(" ".join(cmake_options()).encode()).hexdigest()[:8]
    return f"{source_key(sdist)}-{options}"


def tools_dir(build: bool = True) -> Path:
    """The directory holding the built tools; builds them first (minutes, once per machine) if `build`."""
    given = os.environ.get("POLYGLOT_LLAMA_BIN")
    if given:
        path = Path(given).expanduser()
        missing = [t for t in TOOLS[:1] if not (path / t).is_file()]
        if missing:
            raise EngineError(f"$POLYGLOT_LLAMA_BIN={given} has no {missing[0]}; point it at llama.cpp's bin "
                              f"directory or unset it to build one here.")
        return path
    sdist = sdist_path()
    home = polyglot_home() / "llama.cpp" / build_key(sdist)
    if (home / "build.json").is_file():
        return home / "bin"
    if not build:
        raise EngineError("llama.cpp's tools are not built yet; run `python -m core build-llama` (~10 min on "
                          "2 cores, once per machine).")
    with _lock(home.parent / f"{home.name}.lock"):
        if not (home / "build.json").is_file():  # another process may have built it while we waited
            _build(sdist, home)
    return home / "bin"


def tool(name: str) -> Path:
    """Path of one llama.cpp program, building the set first if needed."""
    if name not in TOOLS:
        raise EngineError(f"Unknown llama.cpp tool {name!r}; built ones: {', '.join(TOOLS)}.")
    path = tools_dir() / name
    if not path.is_file():
        raise EngineError(f"{path} is missing; delete {path.parent.parent} and rerun `python -m core build-llama`.")
    return path


@contextlib.contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _build(sdist: Path, home: Path) -> None:
    """Unpack the vendored llama.cpp, configure, build TOOLS, copy them to home/bin, write build.json."""
    if not shutil.which("cmake"):
        raise EngineError("Building llama-server needs cmake and a C++ compiler (apt-get install cmake g++).")
    started = time.perf_counter()
    jobs = str(os.cpu_count() or 2)
    with tempfile.TemporaryDirectory(prefix="llama-build-", dir=home.parent) as tmp:
        print(f"Building llama.cpp's {', '.join(TOOLS)} from {sdist.name} (once per machine, ~10 min on 2 cores)",
              file=sys.stderr, flush=True)
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if "/vendor/llama.cpp/" in m.name + "/"]
            tar.extractall(tmp, members=members, filter="data")
        src = next(Path(tmp).glob("*/vendor/llama.cpp"))
        build = Path(tmp) / "build"
        log = home.parent / f"{home.name}.build.log"
        with log.open("w") as out:
            for cmd in (["cmake", "-S", str(src), "-B", str(build), *cmake_options()],
                        ["cmake", "--build", str(build), "--parallel", jobs, "--target", *TOOLS]):
                if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode:
                    raise EngineError(f"Building llama.cpp failed at `{' '.join(cmd[:4])} ...`; the log {log} ends "
                                      f"with:\n{log.read_text()[-2500:]}")
        with atomic_dir(home) as staged:
            (staged / "bin").mkdir()
            for name in TOOLS:
                shutil.copy2(build / "bin" / name, staged / "bin" / name)
            card = {"sdist": sdist.name, "sdist_sha256": file_sha256(sdist), "cmake": cmake_options(),
                    "seconds": round(time.perf_counter() - started, 1), "jobs": int(jobs), "tools": list(TOOLS),
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
            (staged / "build.json").write_text(json.dumps(card, indent=2))
    print(f"Built llama.cpp tools in {card['seconds']:.0f} s -> {home / 'bin'}", file=sys.stderr, flush=True)


# What convert_hf_to_gguf.py imports or reads from its tree (not models/: 78 MB of test vocabularies).
CONVERTER_PARTS = ("convert_hf_to_gguf.py", "LICENSE", "conversion/", "gguf-py/", "models/templates/")


def converter() -> Path:
    """llama.cpp's `convert_hf_to_gguf.py` with the `conversion/`, `gguf-py/` and chat templates it loads, unpacked
    once from the sdist into `$POLYGLOT_HOME/llama.cpp/convert/<sdist key>/` (apart from the build directory, which
    a rebuild replaces whole; and keyed by the source alone: cmake options do not change a Python script)."""
    sdist = sdist_path()
    home = polyglot_home() / "llama.cpp" / "convert" / source_key(sdist)
    script = home / "convert_hf_to_gguf.py"
    if script.is_file():
        return script
    with _lock(home.parent / f"{home.name}.lock"):
        if script.is_file():  # another process unpacked it while we waited
            return script
        with atomic_dir(home) as staged, tarfile.open(sdist) as tar:
            members = []
            for m in tar.getmembers():  # <top>/vendor/llama.cpp/<rel>, not .git/modules/vendor/llama.cpp/
                top, sep, rel = m.name.partition("/vendor/llama.cpp/")
                if sep and "/" not in top and rel.startswith(CONVERTER_PARTS):
                    members.append(m.replace(name=rel, deep=False))
            tar.extractall(staged, members=members, filter="data")
            if not (staged / "convert_hf_to_gguf.py").is_file():
                raise EngineError(f"{sdist.name} holds no vendor/llama.cpp/convert_hf_to_gguf.py; set $POLYGLOT_LLAMA_"
                                  f"SDIST to a llama-cpp-python source archive that vendors llama.cpp.")
    return script


def build_card() -> dict:
    """build.json of the tools in use (sdist, sha256, cmake options, build seconds), or {} for $POLYGLOT_LLAMA_BIN."""
    card = tools_dir().parent / "build.json"
    return json.loads(card.read_text()) if card.is_file() else {}
