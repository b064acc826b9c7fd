// A stand-in for libcuda.so.1 that runs on the CPU, for testing the Go
// bindings (argument order, types, pointer passing) without a GPU: device
// memory is host memory, a "launch" records its grid, block and the values
// its parameters point to, and events measure nothing. As in the real
// driver, the current context is per OS thread, and synchronizing takes a
// while (long enough for the Go runtime to move a goroutine that is not
// locked to its thread).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int CUresult;
static __thread int current = 0;

CUresult cuInit(unsigned flags) { return flags == 0 ? 0 : 1; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return 0; }
CUresult cuDeviceGet(int *dev, int ordinal) { if (ordinal != 0) return 101; *dev = 7; return 0; }
CUresult cuDeviceGetName(char *name, int len, int dev) {
	if (dev != 7) return 101;
	strncpy(name, "Fake H200", len);
	return 0;
}
CUresult cuDeviceComputeCapability(int *major, int *minor, int dev) { *major = 9; *minor = 0; return dev == 7 ? 0 : 101; }
CUresult cuDevicePrimaryCtxRetain(uintptr_t *ctx, int dev) { *ctx = 0xC0; return dev == 7 ? 0 : 101; }
CUresult cuDevicePrimaryCtxRelease_v2(int dev) { return dev == 7 ? 0 : 101; }
CUresult cuCtxSetCurrent(uintptr_t ctx) { current = ctx == 0xC0; return current ? 0 : 201; }
CUresult cuCtxSynchronize(void) { usleep(200); return current ? 0 : 201; }
// Images starting "REFUSE" are refused, as a driver refuses a cubin for
// another architecture.
CUresult cuModuleLoadData(uintptr_t *mod, const void *image) {
	if (!current) return 201;
	if (strncmp((const char *)image, "REFUSE", 6) == 0) return 209;
	*mod = (uintptr_t)strdup((const char *)image);
	return 0;
}
CUresult cuModuleGetFunction(uintptr_t *fn, uintptr_t mod, const char *name) { *fn = (uintptr_t)strdup(name); return current ? 0 : 201; }
CUresult cuMemAlloc_v2(uint64_t *p, uint64_t size) { *p = (uint64_t)(uintptr_t)malloc(size); return current ? 0 : 201; }
CUresult cuMemFree_v2(uint64_t p) { free((void *)(uintptr_t)p); return 0; }
CUresult cuMemcpyHtoD_v2(uint64_t dst, const void *src, uint64_t n) { memcpy((void *)(uintptr_t)dst, src, n); return current ? 0 : 201; }
CUresult cuMemcpyDtoH_v2(void *dst, uint64_t src, uint64_t n) { memcpy(dst, (void *)(uintptr_t)src, n); return current ? 0 : 201; }
CUresult cuMemcpyDtoD_v2(uint64_t dst, uint64_t src, uint64_t n) { memcpy((void *)(uintptr_t)dst, (void *)(uintptr_t)src, n); return 0; }
CUresult cuMemsetD8_v2(uint64_t dst, unsigned char v, uint64_t n) { memset((void *)(uintptr_t)dst, v, n); return 0; }
CUresult cuEventCreate(uintptr_t *ev, unsigned flags) { *ev = 1; return 0; }
CUresult cuEventRecord(uintptr_t ev, uintptr_t stream) { return current ? 0 : 201; }
CUresult cuEventSynchronize(uintptr_t ev) { return 0; }
CUresult cuEventElapsedTime(float *ms, uintptr_t a, uintptr_t b) { *ms = 1.5f; return 0; }
CUresult cuEventDestroy_v2(uintptr_t ev) { return 0; }
CUresult cuFuncSetAttribute(uintptr_t fn, int attr, int v) { return 0; }
CUresult cuGetErrorString(CUresult code, const char **s) { *s = code == 201 ? "no current context" : "fake error"; return 0; }

// The last launch, read back by the test through fake_last_launch.
static uint64_t last[32];

// cuLaunchKernel writes the grid, block, shared bytes and the first n
// 8-byte parameters (n is the launch's first parameter's value: the tests
// pass it as arg 0) into the buffer at the second parameter.
CUresult cuLaunchKernel(uintptr_t fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, uintptr_t stream, void **params, void **extra) {
	if (!current) return 201;
	uint64_t n = *(uint64_t *)params[0];
	uint64_t *out = (uint64_t *)(uintptr_t)(*(uint64_t *)params[1]);
	out[0] = gx; out[1] = gy; out[2] = gz; out[3] = bx; out[4] = by; out[5] = bz; out[6] = shared;
	out[7] = strlen((const char *)fn);
	for (uint64_t i = 0; i < n; i++) out[8 + i] = *(uint64_t *)params[i];
	return 0;
}
