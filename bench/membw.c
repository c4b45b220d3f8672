/* Single-thread memory read bandwidth: sums a large float array (default 1 GiB) with several
 * independent vector accumulators and prints the best of several passes.
 *
 *   gcc -O2 -march=native -o membw bench/membw.c && ./membw [MiB] [passes]
 *
 * Output (one line, parsed by bench/rank.mjs):
 *   membw: bytes=<n> passes=<p> best_gbps=<x> median_gbps=<y> (checksum <s>)
 * GB/s are 10^9 bytes per second. The array is written once before timing so every page is
 * mapped; the sum is printed so the compiler cannot drop the loop. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float v8sf __attribute__((vector_size(32), aligned(32)));

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float sum_array(const v8sf *v, size_t n) {
  /* Eight accumulators: enough independent adds to keep the loads, not the add latency, the
   * bottleneck, on any x86-64 with AVX (and on SSE2 builds, where each v8sf is two registers). */
  v8sf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 += v[i + 0]; a1 += v[i + 1]; a2 += v[i + 2]; a3 += v[i + 3];
    a4 += v[i + 4]; a5 += v[i + 5]; a6 += v[i + 6]; a7 += v[i + 7];
  }
  for (; i < n; i++) a0 += v[i];
  v8sf s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
  float t = 0;
  for (int j = 0; j < 8; j++) t += s[j];
  return t;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 1024;
  int passes = argc > 2 ? atoi(argv[2]) : 7;
  if (mib == 0 || passes <= 0 || passes > 1000) {
    fprintf(stderr, "usage: %s [MiB > 0] [passes 1..1000]\n", argv[0]);
    return 2;
  }
  size_t bytes = mib << 20;
  size_t n = bytes / sizeof(v8sf);
  v8sf *v = aligned_alloc(64, n * sizeof(v8sf));
  if (!v) {
    fprintf(stderr, "cannot allocate %zu bytes\n", bytes);
    return 1;
  }
  float *f = (float *)v;
  for (size_t i = 0; i < n * 8; i++) f[i] = (float)(i & 1023) * (1.0f / 1024.0f);

  double *gbps = malloc(sizeof(double) * (size_t)passes);
  volatile float sink = 0;
  sink += sum_array(v, n); /* warm-up pass, not timed */
  for (int p = 0; p < passes; p++) {
    double t0 = now_s();
    sink += sum_array(v, n);
    double t1 = now_s();
    gbps[p] = (double)(n * sizeof(v8sf)) / (t1 - t0) / 1e9;
  }
  qsort(gbps, (size_t)passes, sizeof(double), cmp_double);
  printf("membw: bytes=%zu passes=%d best_gbps=%.2f median_gbps=%.2f (checksum %g)\n",
         n * sizeof(v8sf), passes, gbps[passes - 1], gbps[passes / 2], (double)sink);
  free(gbps);
  free(v);
  return 0;
}
