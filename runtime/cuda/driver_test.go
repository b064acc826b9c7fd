package cuda

import (
	"encoding/binary"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/deepc-dev/deepc/runtime/device"
)

// The Go bindings against a stand-in driver built from testdata/fakecuda.c
// (gcc, which the Go toolchain's cgo uses too): every entry point is
// called with its arguments in the right order and types — device
// queries, context, memory round trips, module and function lookup, a
// launch's grid, block and parameter values, events.
func TestDriverBindings(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("gcc not found (make deps installs the build tools): %v", err)
	}
	lib := filepath.Join(t.TempDir(), "libcuda.so.1")
	if out, err := exec.Command(gcc, "-shared", "-fPIC", "-O1", "-o", lib, "testdata/fakecuda.c").CombinedOutput(); err != nil {
		t.Fatalf("building the fake driver: %v\n%s", err, out)
	}
	t.Setenv("DEEPC_LIBCUDA", lib)
	dev, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if dev.Name != "Fake H200" || dev.Major != 9 || dev.Minor != 0 {
		t.Fatalf("device %q sm_%d%d", dev.Name, dev.Major, dev.Minor)
	}
	if _, err := Open(1); err == nil {
		t.Fatal("device 1 of 1 opened")
	}

	// Memory: upload, device copy, fill, download.
	a, err := dev.Alloc(64)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := dev.Alloc(64)
	data := make([]byte, 64)
	for i := range data {
		data[i] = byte(i)
	}
	if err := dev.Upload(a, data); err != nil {
		t.Fatal(err)
	}
	if err := dev.CopyDevice(b, a, 64); err != nil {
		t.Fatal(err)
	}
	if err := dev.Fill(device.Buffer{Ptr: a.Ptr, Size: 8}, 0xFF); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 64)
	if err := dev.Download(got, b); err != nil || got[63] != 63 || got[0] != 0 {
		t.Fatalf("copy round trip: %v %v", got, err)
	}
	if err := dev.Download(got, a); err != nil || got[7] != 0xFF || got[8] != 8 {
		t.Fatalf("fill: %v %v", got[:9], err)
	}
	if err := dev.Upload(a, make([]byte, 65)); err == nil {
		t.Fatal("an upload larger than the buffer was accepted")
	}

	// A launch: the fake writes what it received into the buffer whose
	// address is the second parameter.
	mod, err := dev.Load([]byte("fake image"))
	if err != nil {
		t.Fatal(err)
	}
	fn, err := mod.Function("kernel_name")
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := dev.Alloc(8 * 32)
	args := []uint64{3, rec.Ptr, 0xDEADBEEFCAFE}
	if err := fn.Launch([3]uint32{5, 6, 7}, [3]uint32{128, 1, 1}, 4096, args); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 8*32)
	if err := dev.Download(raw, rec); err != nil {
		t.Fatal(err)
	}
	word := func(i int) uint64 { return binary.LittleEndian.Uint64(raw[8*i:]) }
	want := []uint64{5, 6, 7, 128, 1, 1, 4096, uint64(len("kernel_name")), 3, rec.Ptr, 0xDEADBEEFCAFE}
	for i, w := range want {
		if word(i) != w {
			t.Fatalf("launch record word %d = %#x, want %#x", i, word(i), w)
		}
	}
	ms, err := dev.Time(func() error { return nil })
	if err != nil || ms != 1.5 {
		t.Fatalf("events: %v ms, %v", ms, err)
	}
	for _, buf := range []device.Buffer{a, b, rec} {
		if err := dev.Free(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := dev.Sync(); err != nil {
		t.Fatal(err)
	}

	// A refused cubin falls back to the kernel's PTX; both refused is an
	// error naming both.
	img := func(file string) ([]byte, error) { return []byte(file), nil } // a file's contents are its name
	if _, refused, err := loadKernel(dev, img, "REFUSE cubin", "ptx text"); err != nil || refused == nil {
		t.Errorf("cubin refused, PTX loads: refused %v, err %v", refused, err)
	}
	if _, refused, err := loadKernel(dev, img, "cubin", "ptx text"); err != nil || refused != nil {
		t.Errorf("cubin loads: refused %v, err %v", refused, err)
	}
	if _, _, err := loadKernel(dev, img, "REFUSE cubin", "REFUSE ptx"); err == nil || !strings.Contains(err.Error(), "cubin: ") || !strings.Contains(err.Error(), "PTX: ") {
		t.Errorf("both refused: %v", err)
	}
	if _, refused, err := loadKernel(dev, img, "", "ptx text"); err != nil || refused != nil {
		t.Errorf("PTX only: refused %v, err %v", refused, err)
	}

	// The context is current per OS thread: goroutines that block in the
	// driver (Sync) while others keep every P busy get moved between
	// threads, and each call must still find the context.
	stop := make(chan struct{})
	defer close(stop)
	for range runtime.GOMAXPROCS(0) {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if _, err := dev.Time(dev.Sync); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
