"""What the worker really has, read from inside the process: the proof a toggle took effect."""

import ctypes
import importlib.metadata
import os
import platform
import re
import sys

from .protocol import MEASURED_ENV, shared_file

# Allocators we can recognise in /proc/self/maps, by the file name of the mapped library: those a rung
# can preload and those we only name (protocol/allocators.json, shared with the launcher).
_ALLOCATORS = shared_file("allocators.json", "LADDER_ALLOCATORS")
# How each allocator's options are read back as proof (jemalloc: opt.* through mallctl).
READBACK = {name: spec["conf_readback"] for name, spec in _ALLOCATORS["allocators"].items()}
ALLOCATOR_PATTERNS = {
    **{name: re.compile(spec["mapped"]) for name, spec in _ALLOCATORS["allocators"].items()},
    **{name: re.compile(pattern) for name, pattern in _ALLOCATORS["recognised_only"].items()},
}

PACKAGES = (
    "torch",
    "diffusers",
    "transformers",
    "accelerate",
    "huggingface-hub",
    "safetensors",
    "optimum",
    "optimum-intel",
    "openvino",
    "nncf",
    "intel-extension-for-pytorch",
    "numpy",
    "pyzmq",
    "msgpack",
    "psutil",
)


def mapped_libraries() -> list[str]:
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].strip().startswith("/"):
                libs.add(parts[5].strip())
    return sorted(libs)


# jemalloc options read back through mallctl, and their C types: proof MALLOC_CONF was applied.
JEMALLOC_OPTS = {
    "oversize_threshold": ctypes.c_size_t,
    "background_thread": ctypes.c_bool,
    "metadata_thp": ctypes.c_char_p,
    "dirty_decay_ms": ctypes.c_ssize_t,
    "muzzy_decay_ms": ctypes.c_ssize_t,
}


def jemalloc_opts(path: str) -> dict:
    try:
        lib = ctypes.CDLL(path)  # already mapped: this only looks up its symbols
        mallctl = lib.mallctl
    except (OSError, AttributeError):
        return {}
    out = {}
    for name, ctype in JEMALLOC_OPTS.items():
        value, size = ctype(), ctypes.c_size_t(ctypes.sizeof(ctype))
        if mallctl(f"opt.{name}".encode(), ctypes.byref(value), ctypes.byref(size), None, 0) == 0:
            v = value.value
            out[name] = v.decode() if isinstance(v, bytes) else (str(v).lower() if isinstance(v, bool) else str(v))
    return out


def allocator() -> dict:
    libs = mapped_libraries()
    found = {
        name: path for path in libs for name, pat in ALLOCATOR_PATTERNS.items() if pat.search(os.path.basename(path))
    }
    name = next(iter(found), "default")  # "default" means glibc malloc: no replacement mapped
    return {
        "name": name,
        "mapped": sorted(found.values()),
        "ld_preload": os.environ.get("LD_PRELOAD", ""),
        "malloc_conf": os.environ.get("MALLOC_CONF", ""),
        "opts": jemalloc_opts(found[name]) if READBACK.get(name) == "mallctl" else {},
    }


def cpu() -> dict:
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    isa = {name: name in flags for name in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")}
    return {"model": model, "logical_cpus": os.cpu_count(), "affinity": sorted(os.sched_getaffinity(0)), "isa": isa}


def packages() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def threads() -> dict:
    info = {
        name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "KMP_AFFINITY", "OMP_PROC_BIND")
    }
    info = {k: v for k, v in info.items() if v is not None}
    if "torch" in sys.modules:  # only report torch's view once torch is imported anyway
        import torch

        info["torch_intra_op"] = torch.get_num_threads()
        info["torch_inter_op"] = torch.get_num_interop_threads()
    return info


def hello_fields(rung: str) -> dict:
    return {
        "pid": os.getpid(),
        "rung": rung,
        "python": platform.python_version(),
        "packages": packages(),
        "cpu": cpu(),
        "threads": threads(),
        "allocator": allocator(),
        "env": measured_env(),
    }


def measured_env() -> dict:
    """Every variable of this process's environment that changes what is measured (wire.json `measured_env`)."""
    return {k: v for k, v in sorted(os.environ.items()) if MEASURED_ENV.fullmatch(k)}


def peak_rss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# Threads of the worker that are not the computation: its socket thread (named by channel.py) and
# libzmq's own ("ZMQbg/IO/0", "ZMQbg/Reaper"). What they run while passes are timed is the worker's cost.
SERVICE_THREADS = ("ladder-io", "ZMQbg")


def name_this_thread(name: str) -> None:
    """Sets this thread's name as the kernel shows it (top -H, /proc/self/task/*/comm)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def service_cpu_s() -> float | None:
    """CPU seconds the worker's service threads (SERVICE_THREADS) have run so far: schedstat's
    nanoseconds where the kernel keeps them, else utime + stime in clock ticks. None off Linux."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return None
    for tid in tids:
        base = f"/proc/self/task/{tid}"
        try:
            with open(f"{base}/comm") as f:
                if not f.read().startswith(SERVICE_THREADS):
                    continue
            try:
                with open(f"{base}/schedstat") as f:
                    total += int(f.read().split()[0]) / 1e9
            except OSError:
                with open(f"{base}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return total
