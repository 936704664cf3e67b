#!/bin/sh
# openblas_openmp.sh -- the CPU backend's unit tests on Debian's OpenMP build of OpenBLAS
# (libopenblas0-openmp, loaded through LD_LIBRARY_PATH in place of the pthreads build the
# system uses): its openblas_set_num_threads(1) also set OpenMP's thread count, so every op of
# ours ran on one thread (test_backend_keeps_omp_threads), and every op must still give the
# same figures.  SKIP when that build is not installed.  Run from the repository root.
suite=openblas_openmp
. "$(dirname "$0")/lib.sh"
test_cpu=${BUILD:-build}/tests/test_backend_cpu
need_built "$test_cpu"
arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
dir=/usr/lib/$arch/openblas-openmp
if [ ! -r "$dir/libopenblas.so.0" ]; then
    echo "SKIP $suite: $dir/libopenblas.so.0 absent (Debian's libopenblas0-openmp)"
    exit 0
fi
loaded() { LD_LIBRARY_PATH=$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "$test_cpu" |
           grep -q "$dir/libopenblas.so.0"; }
check "the OpenMP build is the one loaded" loaded
LD_LIBRARY_PATH=$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} OMP_NUM_THREADS=2 "$test_cpu" \
    >"$tmp/out" 2>&1
rc=$?
check "the backend keeps OpenMP's 2 threads" grep -q "^PASS test_backend_keeps_omp_threads" \
    "$tmp/out"
if [ $rc -eq 0 ] && ! grep -q "^FAIL" "$tmp/out"; then ok "test_backend_cpu passes"; else
    bad "test_backend_cpu passes: exit $rc: $(grep -m3 -B3 '^FAIL' "$tmp/out" | tail -c 600)"
fi
