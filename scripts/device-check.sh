#!/bin/sh
# device-check.sh -- check the CUDA backend on a GPU machine and benchmark it, in one go.
#
#   scripts/device-check.sh prepare   on the development machine (network, no GPU needed):
#       builds the CUDA test and benchmark binaries for sm_90 into build/device/bin and
#       downloads the Debian packages they (and a rebuild) need into build/device/debs with
#       `apt-get download`.  Carry build/device to the GPU machine.
#   scripts/device-check.sh [run]     on the GPU machine, from the repository root: writes
#       everything under $OUT (default out/device-check):
#         env.txt          nvidia-smi, nvcc, driver/cuBLAS libraries found, ldd of the binaries
#         test-cuda.txt    tests/cuda: every op and the tests/ref models, CUDA vs CPU
#         bench-cuda.jsonl GPT-2 124M training tokens/s + MFU, generation tokens/s
#         bench-torch.jsonl the same GPT-2 shape in PyTorch (when torch is installed)
#         summary.txt      pass/fail counts and the headline numbers
#
# The GPU machine may lack Debian's libjansson/libopenblas/libcurl: the carried .deb files are
# unpacked with dpkg -x into a private prefix and LD_LIBRARY_PATH points at it.  When the
# prebuilt binaries cannot load there (another CUDA major version, say) and nvcc is present,
# they are rebuilt from source against that prefix (headers from the -dev packages).
# Environment: CUDA_ARCH (rebuild, default sm_90), BENCH_QUICK=1, BENCH_B="8 16 32",
# FULL_TESTS=1 also runs the whole CPU suite (tests/run.sh) with the rebuilt tree.
set -u
mode=${1:-run}
DEV=build/device
ARCH90="-gencode arch=compute_90,code=sm_90"
RUNTIME_DEBS="libjansson4 libopenblas0-pthread libgfortran5 libquadmath0 libgomp1 zlib1g"
DEV_DEBS="libjansson-dev libopenblas-pthread-dev libopenblas-dev zlib1g-dev libcurl4-openssl-dev
          libcurl4"
BINS="tests/test_backend_ops tests/test_model_cuda bench/bench_cuda"

if [ "$mode" = prepare ]; then
    set -e
    make -j2 BUILD=$DEV/build CUDA=1 CUDA_ARCH="$ARCH90" \
        $(for b in $BINS; do printf '%s ' "$DEV/build/$b"; done)
    mkdir -p $DEV/bin $DEV/debs
    for b in $BINS; do cp "$DEV/build/$b" $DEV/bin/; done
    (cd $DEV/debs && apt-get download $RUNTIME_DEBS $DEV_DEBS)
    rm -rf $DEV/build # objects: the carry limit is 64 MiB
    du -sh $DEV
    exit 0
fi

OUT=${OUT:-out/device-check}
mkdir -p "$OUT"
log() { echo "device-check: $*" | tee -a "$OUT/summary.txt" >&2; }
: >"$OUT/summary.txt"

# --- a private prefix with the carried packages ------------------------------------------------
PRIV=${TMPDIR:-/tmp}/srl-prefix
mkdir -p "$PRIV"
for d in $DEV/debs/*.deb; do [ -f "$d" ] && dpkg -x "$d" "$PRIV"; done
ML=$PRIV/usr/lib/x86_64-linux-gnu
NVCC=$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)
CUDA_HOME=${CUDA_HOME:-$(dirname "$(dirname "$NVCC")")}
OLD_LD=${LD_LIBRARY_PATH:-}
LD_LIBRARY_PATH="$ML:$ML/openblas-pthread:$PRIV/lib/x86_64-linux-gnu:$CUDA_HOME/lib64"
export LD_LIBRARY_PATH="$LD_LIBRARY_PATH${OLD_LD:+:$OLD_LD}"

# --- what this machine has ---------------------------------------------------------------------
{
    echo "== date"; date -u
    echo "== nvidia-smi"; nvidia-smi 2>&1
    echo "== nvcc"; "$CUDA_HOME/bin/nvcc" --version 2>&1
    echo "== cuBLAS / cudart libraries"
    ldconfig -p 2>/dev/null | grep -E 'libcublas|libcudart'
    ls "$CUDA_HOME/lib64" 2>&1 | grep -E 'cublas|cudart'
    echo "== python torch"
    python3 -c 'import torch; print(torch.__version__, torch.version.cuda)' 2>&1
    echo "== LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    for b in $BINS; do
        echo "== ldd $DEV/bin/${b#*/}"; ldd "$DEV/bin/${b#*/}" 2>&1
    done
} >"$OUT/env.txt" 2>&1

# --- binaries: the prebuilt ones if they load and see the GPU, else a rebuild here ------------
# (a CUDA 13 build on an older driver loads but finds no device: its tests would all SKIP)
usable() {
    [ -x "$1/test_backend_ops" ] && ! ldd "$1/test_backend_ops" 2>&1 | grep -q 'not found' &&
        "$1/test_backend_ops" >"$OUT/probe.txt" 2>&1 && ! grep -q '^SKIP ' "$OUT/probe.txt"
}
BIN=$DEV/bin
if ! usable "$BIN"; then
    log "prebuilt binaries do not run here: $(head -c 200 "$OUT/probe.txt" 2>/dev/null)"
    log "rebuilding from source"
    if [ ! -x "$CUDA_HOME/bin/nvcc" ]; then log "no nvcc: cannot rebuild"; exit 1; fi
    # pkg-config against the private prefix only (Debian keeps openblas.pc beside the library)
    export PKG_CONFIG_SYSROOT_DIR=$PRIV
    export PKG_CONFIG_LIBDIR="$ML/pkgconfig:$ML/openblas-pthread/pkgconfig:$PRIV/usr/share/pkgconfig"
    B=build/device-rebuild
    make -j"$(nproc)" BUILD=$B CUDA=1 NVCC="$CUDA_HOME/bin/nvcc" \
        CUDA_ARCH="${CUDA_ARCH:-$ARCH90}" $(for b in $BINS; do printf '%s ' "$B/$b"; done) \
        >"$OUT/build.txt" 2>&1 || { log "build failed"; tail -30 "$OUT/build.txt"; exit 1; }
    mkdir -p $B/run-bin && for b in $BINS; do cp "$B/$b" $B/run-bin/; done
    BIN=$B/run-bin
    for b in $BINS; do echo "== ldd $BIN/${b#*/}"; ldd "$BIN/${b#*/}"; done >>"$OUT/env.txt" 2>&1
fi
log "binaries: $BIN"

# --- make test-cuda ----------------------------------------------------------------------------
rc=0
: >"$OUT/test-cuda.txt"
for t in test_backend_ops test_model_cuda; do
    echo "== $t" >>"$OUT/test-cuda.txt"
    "$BIN/$t" >>"$OUT/test-cuda.txt" 2>&1 || rc=1
done
count() { grep -c "^$1 " "$OUT/test-cuda.txt"; }
log "test-cuda: $(count PASS) passed, $(count FAIL) failed, $(count SKIP) skipped (exit $rc)"
grep '^FAIL ' "$OUT/test-cuda.txt" | tee -a "$OUT/summary.txt" >&2
if [ "${FULL_TESTS:-0}" = 1 ] && [ -d build/device-rebuild ]; then
    make -j"$(nproc)" BUILD=build/device-rebuild CUDA=1 >>"$OUT/build.txt" 2>&1 &&
        tests/run.sh build/device-rebuild >"$OUT/tests-all.txt" 2>&1
    log "all tests: $(tail -1 "$OUT/tests-all.txt")"
fi

# --- benchmarks --------------------------------------------------------------------------------
"$BIN/bench_cuda" >"$OUT/bench-cuda.jsonl" 2>"$OUT/bench-cuda.err"
log "bench_cuda exit $?:"
cat "$OUT/bench-cuda.jsonl" | tee -a "$OUT/summary.txt" >&2
if python3 -c 'import torch' 2>/dev/null; then
    python3 scripts/bench_torch.py >"$OUT/bench-torch.jsonl" 2>"$OUT/bench-torch.err"
    log "bench_torch exit $?:"
    cat "$OUT/bench-torch.jsonl" | tee -a "$OUT/summary.txt" >&2
else
    log "no torch: bench_torch.py skipped"
fi
exit $rc
