# Run inside the new environment after its packages are installed (bin/ is on PATH).
# Builds stable-diffusion-cpp-python (stable-diffusion.cpp with its vendored ggml) from its source
# distribution for this machine's CPU: GGML_NATIVE compiles ggml with -march=native, so it uses what the
# CPU has (AVX2, AVX-512, VNNI, BF16...). No wheel cache: these flags always take effect, and the build
# is timed. It needs cmake (>= 3.21) and a C++ compiler (ladder doctor --fix installs them).
# How it was built (flags, wall and CPU seconds, ggml's system info) goes to ladder-sdcpp-build.json in
# the environment, which the worker reports.
version=0.4.7
cmake_args="-DGGML_NATIVE=ON"
for tool in cmake g++; do
  command -v "$tool" >/dev/null || { echo "building stable-diffusion.cpp needs $tool: run ladder doctor --fix" >&2; exit 1; }
done
TIMEFORMAT='%R %U %S'
exec 3>&2
# The build is CPU-heavy for minutes: niced, so the machine stays usable.
{ time CMAKE_ARGS="$cmake_args" nice -n 10 pip install --no-cache-dir --no-binary stable-diffusion-cpp-python \
  "stable-diffusion-cpp-python==$version" 2>&3; } 2>"$VIRTUAL_ENV/.sdcpp-build-time"
read -r wall user sys <"$VIRTUAL_ENV/.sdcpp-build-time"
rm "$VIRTUAL_ENV/.sdcpp-build-time"
WALL=$wall CPU=$(python -c "print($user + $sys)") CMAKE_ARGS_USED="$cmake_args" python - <<'EOF'
import json, os, platform, subprocess, sys
import stable_diffusion_cpp as sd

lib = sd.stable_diffusion_cpp
compiler = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
build = {
    "package": "stable-diffusion-cpp-python",
    "version": sd.__version__,
    "sd_version": lib.sd_version().decode(),
    "sd_commit": lib.sd_commit().decode(),
    "cmake_args": os.environ["CMAKE_ARGS_USED"],
    "compiler": compiler,
    "build_wall_s": float(os.environ["WALL"]),
    "build_cpu_s": float(os.environ["CPU"]),
    "cpus": os.cpu_count(),
    "machine": platform.machine(),
    "system_info": lib.sd_get_system_info().decode().strip(),
}
with open(os.path.join(sys.prefix, "ladder-sdcpp-build.json"), "w") as f:
    json.dump(build, f, indent=1)
print(f"stable-diffusion-cpp-python {build['version']} built in {build['build_wall_s']:.0f} s "
      f"({build['build_cpu_s']:.0f} CPU s): {build['system_info']}")
EOF
