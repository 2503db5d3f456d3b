"""What the worker really has, read from inside the process: the proof a toggle took effect."""
import importlib.metadata
import os
import platform
import re
import sys

# Allocators we can recognise in /proc/self/maps, by the file name of the mapped library.
ALLOCATOR_PATTERNS = {
    "jemalloc": re.compile(r"libjemalloc[^/]*\.so"),
    "tcmalloc": re.compile(r"libtcmalloc[^/]*\.so"),
    "mimalloc": re.compile(r"libmimalloc[^/]*\.so"),
}

PACKAGES = ("torch", "diffusers", "transformers", "accelerate", "huggingface-hub", "safetensors",
            "optimum", "optimum-intel", "openvino", "nncf", "intel-extension-for-pytorch",
            "numpy", "pyzmq", "msgpack", "psutil")


def mapped_libraries() -> list[str]:
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].strip().startswith("/"):
                libs.add(parts[5].strip())
    return sorted(libs)


def allocator() -> dict:
    libs = mapped_libraries()
    found = {name: path for path in libs for name, pat in ALLOCATOR_PATTERNS.items() if pat.search(os.path.basename(path))}
    name = next(iter(found), "default")  # "default" means glibc malloc: no replacement mapped
    return {
        "name": name,
        "mapped": sorted(found.values()),
        "ld_preload": os.environ.get("LD_PRELOAD", ""),
        "malloc_conf": os.environ.get("MALLOC_CONF", ""),
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
    info = {name: os.environ.get(name) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "KMP_AFFINITY", "OMP_PROC_BIND")}
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
        "env": {k: v for k, v in os.environ.items() if k.startswith(("LADDER_", "OMP_", "KMP_", "MALLOC_", "LD_PRELOAD", "TORCH", "ONEDNN", "DNNL"))},
    }


def peak_rss_bytes() -> int:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
