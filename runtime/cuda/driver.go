// Package cuda is deepc's CUDA backend: the driver API (libcuda.so.1)
// called through purego, so that deepc stays a CGO_ENABLED=0 binary — no
// cgo, no C compiler, no CUDA headers; dynamically linked against ld.so,
// libc and libdl only, so that it can dlopen the driver (docs/design.md §8
// says static; docs/ARCHITECTURE.md says why not) — that runs on a GPU
// machine without a Go toolchain.
//
// What is here: loading the driver, a context on a device, modules from
// cubin or PTX, device memory, copies, launches and synchronization; GPU,
// the device.Backend over them, on which runtime/device's executor runs a
// bundle's steps.
package cuda

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/ebitengine/purego"
)

// driver holds the resolved entry points.
type driver struct {
	cuInit                    func(flags uint32) int32
	cuDeviceGetCount          func(n *int32) int32
	cuDeviceGet               func(dev *int32, ordinal int32) int32
	cuDeviceGetName           func(name *byte, n int32, dev int32) int32
	cuDeviceComputeCap        func(major, minor *int32, dev int32) int32
	cuCtxSynchronize          func() int32
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) int32
	cuDevicePrimaryCtxRelease func(dev int32) int32
	cuCtxSetCurrent           func(ctx uintptr) int32
	cuModuleLoadData          func(mod *uintptr, image unsafe.Pointer) int32
	cuModuleGetFunction       func(fn *uintptr, mod uintptr, name *byte) int32
	cuMemAlloc                func(ptr *uint64, size uint64) int32
	cuMemFree                 func(ptr uint64) int32
	cuMemcpyHtoD              func(dst uint64, src unsafe.Pointer, size uint64) int32
	cuMemcpyDtoH              func(dst unsafe.Pointer, src uint64, size uint64) int32
	cuMemcpyDtoD              func(dst, src uint64, size uint64) int32
	cuMemsetD8                func(dst uint64, v uint8, n uint64) int32
	cuEventCreate             func(ev *uintptr, flags uint32) int32
	cuEventRecord             func(ev uintptr, stream uintptr) int32
	cuEventSynchronize        func(ev uintptr) int32
	cuEventElapsedTime        func(ms *float32, start, end uintptr) int32
	cuEventDestroy            func(ev uintptr) int32
	cuLaunchKernel            func(f uintptr, gx, gy, gz, bx, by, bz, smem uint32, stream uintptr, params unsafe.Pointer, extra unsafe.Pointer) int32
	cuFuncSetAttribute        func(f uintptr, attr int32, value int32) int32
	cuGetErrorString          func(code int32, s **byte) int32
}

var (
	loadOnce sync.Once
	drv      *driver
	loadErr  error
)

// ErrNoDriver means libcuda could not be loaded: no NVIDIA driver here.
var ErrNoDriver = errors.New("no CUDA driver")

func load() (*driver, error) {
	loadOnce.Do(func() {
		if runtime.GOOS != "linux" {
			loadErr = fmt.Errorf("%w: the CUDA backend runs on Linux", ErrNoDriver)
			return
		}
		name := "libcuda.so.1"
		if p := os.Getenv("DEEPC_LIBCUDA"); p != "" {
			name = p // a driver outside the loader's search path
		}
		lib, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			loadErr = fmt.Errorf("%w (%s: %v)", ErrNoDriver, name, err)
			return
		}
		d := &driver{}
		syms := []struct {
			fn   any
			name string
		}{
			{&d.cuInit, "cuInit"}, {&d.cuDeviceGetCount, "cuDeviceGetCount"}, {&d.cuDeviceGet, "cuDeviceGet"},
			{&d.cuDeviceGetName, "cuDeviceGetName"}, {&d.cuDeviceComputeCap, "cuDeviceComputeCapability"},
			{&d.cuCtxSynchronize, "cuCtxSynchronize"},
			{&d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"}, {&d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"},
			{&d.cuCtxSetCurrent, "cuCtxSetCurrent"},
			{&d.cuModuleLoadData, "cuModuleLoadData"}, {&d.cuModuleGetFunction, "cuModuleGetFunction"},
			{&d.cuMemAlloc, "cuMemAlloc_v2"}, {&d.cuMemFree, "cuMemFree_v2"},
			{&d.cuMemcpyHtoD, "cuMemcpyHtoD_v2"}, {&d.cuMemcpyDtoH, "cuMemcpyDtoH_v2"},
			{&d.cuMemcpyDtoD, "cuMemcpyDtoD_v2"}, {&d.cuMemsetD8, "cuMemsetD8_v2"},
			{&d.cuEventCreate, "cuEventCreate"}, {&d.cuEventRecord, "cuEventRecord"},
			{&d.cuEventSynchronize, "cuEventSynchronize"}, {&d.cuEventElapsedTime, "cuEventElapsedTime"},
			{&d.cuEventDestroy, "cuEventDestroy_v2"},
			{&d.cuLaunchKernel, "cuLaunchKernel"}, {&d.cuFuncSetAttribute, "cuFuncSetAttribute"},
			{&d.cuGetErrorString, "cuGetErrorString"},
		}
		for _, s := range syms {
			addr, err := purego.Dlsym(lib, s.name)
			if err != nil {
				loadErr = fmt.Errorf("%w: libcuda.so.1 lacks %s: %v", ErrNoDriver, s.name, err)
				return
			}
			purego.RegisterFunc(s.fn, addr)
		}
		drv = d
	})
	return drv, loadErr
}

func (d *driver) check(what string, code int32) error {
	if code == 0 {
		return nil
	}
	var s *byte
	msg := "unknown error"
	if d.cuGetErrorString(code, &s) == 0 && s != nil {
		msg = cString(s)
	}
	return fmt.Errorf("cuda: %s: %s (%d)", what, msg, code)
}

func cString(p *byte) string {
	var b []byte
	for q := p; *q != 0; q = (*byte)(unsafe.Add(unsafe.Pointer(q), 1)) {
		b = append(b, *q)
	}
	return string(b)
}

// Device is an initialized GPU and its primary context. A CUDA context is
// current per OS thread and goroutines move between threads, so every
// method makes the context current and keeps its goroutine on that thread
// until its driver calls are done (bind).
type Device struct {
	d            *driver
	ctx          uintptr
	dev          int32
	Name         string
	Major, Minor int
}

// bind locks the calling goroutine to its OS thread and makes the
// device's context current there; release undoes the lock. Without the
// lock the goroutine could move to a thread without the context between
// cuCtxSetCurrent and the call that needs it. Locks nest (Time's callback
// binds again inside Time's own).
func (g *Device) bind() (release func(), err error) {
	runtime.LockOSThread()
	if err := g.d.check("cuCtxSetCurrent", g.d.cuCtxSetCurrent(g.ctx)); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	return runtime.UnlockOSThread, nil
}

// Open initializes the driver and creates a context on device ordinal.
func Open(ordinal int) (*Device, error) {
	d, err := load()
	if err != nil {
		return nil, err
	}
	if err := d.check("cuInit", d.cuInit(0)); err != nil {
		return nil, err
	}
	var n int32
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&n)); err != nil {
		return nil, err
	}
	if int(n) <= ordinal {
		return nil, fmt.Errorf("cuda: device %d requested, %d present", ordinal, n)
	}
	var dev int32
	if err := d.check("cuDeviceGet", d.cuDeviceGet(&dev, int32(ordinal))); err != nil {
		return nil, err
	}
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", d.cuDeviceGetName(&name[0], int32(len(name)), dev)); err != nil {
		return nil, err
	}
	var major, minor int32
	if err := d.check("cuDeviceComputeCapability", d.cuDeviceComputeCap(&major, &minor, dev)); err != nil {
		return nil, err
	}
	var ctx uintptr
	if err := d.check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain(&ctx, dev)); err != nil {
		return nil, err
	}
	g := &Device{d: d, ctx: ctx, dev: dev, Name: cString(&name[0]), Major: int(major), Minor: int(minor)}
	release, err := g.bind()
	if err != nil {
		d.cuDevicePrimaryCtxRelease(dev)
		return nil, err
	}
	release()
	return g, nil
}

// Close releases the primary context.
func (g *Device) Close() error {
	return g.d.check("cuDevicePrimaryCtxRelease", g.d.cuDevicePrimaryCtxRelease(g.dev))
}

// Sync waits for all work on the context.
func (g *Device) Sync() error {
	release, err := g.bind()
	if err != nil {
		return err
	}
	defer release()
	return g.d.check("cuCtxSynchronize", g.d.cuCtxSynchronize())
}

// Module is a loaded cubin or PTX image.
type Module struct {
	g   *Device
	mod uintptr
}

// Load loads a cubin, or PTX text (NUL-terminated here) the driver JITs.
func (g *Device) Load(image []byte) (*Module, error) {
	release, err := g.bind()
	if err != nil {
		return nil, err
	}
	defer release()
	img := append(append([]byte(nil), image...), 0)
	var m uintptr
	if err := g.d.check("cuModuleLoadData", g.d.cuModuleLoadData(&m, unsafe.Pointer(&img[0]))); err != nil {
		return nil, err
	}
	runtime.KeepAlive(img)
	return &Module{g: g, mod: m}, nil
}

// Function is a kernel entry point.
type Function struct {
	g  *Device
	fn uintptr
}

// Function finds a kernel by name.
func (m *Module) Function(name string) (*Function, error) {
	release, err := m.g.bind()
	if err != nil {
		return nil, err
	}
	defer release()
	n := append([]byte(name), 0)
	var f uintptr
	if err := m.g.d.check("cuModuleGetFunction "+name, m.g.d.cuModuleGetFunction(&f, m.mod, &n[0])); err != nil {
		return nil, err
	}
	return &Function{g: m.g, fn: f}, nil
}

// Alloc allocates device memory.
func (g *Device) Alloc(size uint64) (device.Buffer, error) {
	release, err := g.bind()
	if err != nil {
		return device.Buffer{}, err
	}
	defer release()
	var p uint64
	err = g.d.check("cuMemAlloc", g.d.cuMemAlloc(&p, max(size, 1)))
	return device.Buffer{Ptr: p, Size: size}, err
}

// Free releases device memory.
func (g *Device) Free(b device.Buffer) error {
	release, err := g.bind()
	if err != nil {
		return err
	}
	defer release()
	return g.d.check("cuMemFree", g.d.cuMemFree(b.Ptr))
}

// Upload copies host bytes to the buffer.
func (g *Device) Upload(b device.Buffer, data []byte) error {
	release, err := g.bind()
	if err != nil {
		return err
	}
	defer release()
	if uint64(len(data)) > b.Size {
		return fmt.Errorf("cuda: upload of %d bytes into a %d-byte buffer", len(data), b.Size)
	}
	if len(data) == 0 {
		return nil
	}
	return g.d.check("cuMemcpyHtoD", g.d.cuMemcpyHtoD(b.Ptr, unsafe.Pointer(&data[0]), uint64(len(data))))
}

// Download copies the buffer's first len(dst) bytes to the host.
func (g *Device) Download(dst []byte, b device.Buffer) error {
	release, err := g.bind()
	if err != nil {
		return err
	}
	defer release()
	if uint64(len(dst)) > b.Size {
		return fmt.Errorf("cuda: download of %d bytes from a %d-byte buffer", len(dst), b.Size)
	}
	if len(dst) == 0 {
		return nil
	}
	return g.d.check("cuMemcpyDtoH", g.d.cuMemcpyDtoH(unsafe.Pointer(&dst[0]), b.Ptr, uint64(len(dst))))
}

// Launch runs f on a grid; args are device pointers (uint64) and i64
// symbols, in the kernel's parameter order.
func (f *Function) Launch(grid, block [3]uint32, shared uint32, args []uint64) error {
	release, err := f.g.bind()
	if err != nil {
		return err
	}
	defer release()
	vals := append([]uint64(nil), args...)
	ptrs := make([]unsafe.Pointer, len(vals))
	// ptrs, passed to C, holds Go pointers: what they point to is pinned
	// (the cgo rule purego's calls follow).
	var pin runtime.Pinner
	defer pin.Unpin()
	for i := range vals {
		ptrs[i] = unsafe.Pointer(&vals[i])
	}
	if len(vals) > 0 {
		pin.Pin(&vals[0])
	}
	var pp unsafe.Pointer
	if len(ptrs) > 0 {
		pp = unsafe.Pointer(&ptrs[0])
	}
	err = f.g.d.check("cuLaunchKernel", f.g.d.cuLaunchKernel(f.fn, grid[0], grid[1], grid[2], block[0], block[1], block[2], shared, 0, pp, nil))
	runtime.KeepAlive(vals)
	runtime.KeepAlive(ptrs)
	return err
}

// CopyDevice copies size bytes between device buffers.
func (g *Device) CopyDevice(dst, src device.Buffer, size uint64) error {
	release, err := g.bind()
	if err != nil {
		return err
	}
	defer release()
	return g.d.check("cuMemcpyDtoD", g.d.cuMemcpyDtoD(dst.Ptr, src.Ptr, size))
}

// Fill sets every byte of b to v (NaN poisoning uses 0xFF).
func (g *Device) Fill(b device.Buffer, v uint8) error {
	release, err := g.bind()
	if err != nil {
		return err
	}
	defer release()
	return g.d.check("cuMemsetD8", g.d.cuMemsetD8(b.Ptr, v, b.Size))
}

// Time runs fn between two events and returns the GPU time in ms.
func (g *Device) Time(fn func() error) (float64, error) {
	release, err := g.bind()
	if err != nil {
		return 0, err
	}
	defer release()
	var start, end uintptr
	if err := g.d.check("cuEventCreate", g.d.cuEventCreate(&start, 0)); err != nil {
		return 0, err
	}
	defer g.d.cuEventDestroy(start)
	if err := g.d.check("cuEventCreate", g.d.cuEventCreate(&end, 0)); err != nil {
		return 0, err
	}
	defer g.d.cuEventDestroy(end)
	if err := g.d.check("cuEventRecord", g.d.cuEventRecord(start, 0)); err != nil {
		return 0, err
	}
	if err := fn(); err != nil {
		return 0, err
	}
	if err := g.d.check("cuEventRecord", g.d.cuEventRecord(end, 0)); err != nil {
		return 0, err
	}
	if err := g.d.check("cuEventSynchronize", g.d.cuEventSynchronize(end)); err != nil {
		return 0, err
	}
	var ms float32
	err = g.d.check("cuEventElapsedTime", g.d.cuEventElapsedTime(&ms, start, end))
	return float64(ms), err
}
