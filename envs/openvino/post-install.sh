# Run inside the new environment after its packages are installed (bin/ is on PATH).
# openvino-telemetry treats a missing consent file as consent, and every export then waits on the
# network: opt out.
opt_in_out --opt_out
