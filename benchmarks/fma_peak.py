"""The machine's float64 fused-multiply-add peak, measured (the denominator of the engine's "share of peak").

A peak quoted from a data sheet or from another machine is easy to get wrong by a factor of two (issue 19
stated 259 GFLOP/s for this machine's two cores; what its cores execute is measured here): on AMD Zen 4
a 512-bit FMA runs as two 256-bit halves, so AVX-512 and AVX2 code reach the same float64 rate, while a
core with two full-width 512-bit FMA units reaches twice that.

Method: a small C program (compiled here with the system's ``cc``; numba's code for a register-resident
FMA loop comes out scalar, so it cannot measure this) runs ``CHAINS`` independent chains
``a ← a·b + c`` on 512-bit and on 256-bit registers, in one thread and in one thread per core
(OpenMP), long enough to take about a second; flops = 2 per lane per FMA.  The chains are independent
and more numerous than FMA latency × FMA units, so the loop is bound by FMA throughput alone.

Run::

    python benchmarks/fma_peak.py          # prints JSON: GFLOP/s per width, one thread and all cores

Used by ``benchmarks/engine.py`` (``kernel``) for the kernel's share of the peak.  Needs a C compiler
with OpenMP (``cc -fopenmp``, Debian's gcc); without one it raises, it does not guess.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

#: Independent FMA chains per thread: more than latency (4 cycles) × FMA units (2) on current x86 cores.
CHAINS = 12

_SOURCE = r"""
#include <immintrin.h>
#include <stdio.h>
#include <omp.h>
#include <time.h>
#define CH %(chains)d
/* CH independent chains a <- a*b + c on one register width (VT vectors of LANES doubles, intrinsics P). */
#define CHAINS_OF(NAME, VT, P, LANES)                                                    \
  static double NAME(long n) {                                                           \
    VT a[CH]; VT b = P##_set1_pd(0.999999), c = P##_set1_pd(1e-7);                      \
    for (int i = 0; i < CH; i++) a[i] = P##_set1_pd(1.0 + i);                            \
    for (long k = 0; k < n; k++)                                                         \
      for (int i = 0; i < CH; i++) a[i] = P##_fmadd_pd(a[i], b, c);                      \
    double s = 0, t[LANES];                                                              \
    for (int i = 0; i < CH; i++) { P##_storeu_pd(t, a[i]); s += t[0]; }                 \
    return s;                                                                            \
  }
CHAINS_OF(zmm, __m512d, _mm512, 8)
CHAINS_OF(ymm, __m256d, _mm256, 4)
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  int threads = atoi(argv[2]);
  omp_set_num_threads(threads);
  for (int w = 0; w < 2; w++) {
    double s = 0, cpu = 0, t0 = omp_get_wtime();
#pragma omp parallel reduction(+ : s, cpu)
    {
      struct timespec a, b;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
      s += w ? ymm(n) : zmm(n);
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
      cpu += (b.tv_sec - a.tv_sec) + 1e-9 * (b.tv_nsec - a.tv_nsec);
    }
    double t = omp_get_wtime() - t0;
    printf("%%s %%d %%.6f %%.6f %%.17g %%g\n", w ? "ymm" : "zmm", threads, t, cpu, 2.0 * (w ? 4 : 8) * CH * (double)n * threads, s);
  }
  return 0;
}
"""


def _build(folder: Path) -> Path:
    src, exe = folder / "fma_peak.c", folder / "fma_peak"
    src.write_text("#include <stdlib.h>\n" + _SOURCE % {"chains": CHAINS})
    subprocess.run(["cc", "-O2", "-funroll-loops", "-mavx512f", "-mfma", "-fopenmp", str(src), "-o", str(exe)], check=True, capture_output=True)
    return exe


def measure(iterations: int = 100_000_000, threads: int | None = None) -> dict[str, float | int]:
    """GFLOP/s of float64 FMA on 512-bit (``zmm``) and 256-bit (``ymm``) registers, one thread and
    ``threads`` threads (default: every core), best of two runs each: per second of wall time
    (``gflops_*``) and per CPU-second of the threads (``gflops_per_cpu_s_*``, what a core does while it
    runs, insensitive to other jobs); ``gflops_peak_all`` = cores × the better per-CPU-second width."""
    threads = threads or os.cpu_count() or 1
    out: dict[str, float | int] = {"chains": CHAINS, "threads_all": threads}
    with tempfile.TemporaryDirectory() as tmp:
        exe = _build(Path(tmp))
        for th, tag in ((1, "one"), (threads, "all")):
            for _ in range(2):
                lines = subprocess.run([str(exe), str(iterations), str(th)], check=True, capture_output=True, text=True).stdout.split("\n")
                for line in filter(None, lines):
                    width, _, secs, cpu, flops, _ = line.split()
                    for key, v in ((f"gflops_{width}_{tag}", float(flops) / float(secs)), (f"gflops_per_cpu_s_{width}_{tag}", float(flops) / float(cpu))):
                        out[key] = max(float(out.get(key, 0.0)), v / 1e9)
    # the peak of all cores: per CPU-second of each thread (insensitive to other jobs) times the cores
    out["gflops_peak_all"] = threads * max(float(out["gflops_per_cpu_s_zmm_all"]), float(out["gflops_per_cpu_s_ymm_all"]))
    return out


if __name__ == "__main__":
    print(json.dumps({"loadavg": os.getloadavg(), **measure()}, indent=1))
