package device

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
)

// hostMem is a Backend over host memory whose one kernel updates its
// output in place, as an in-place GPU kernel does: out[0] = 7, the rest
// left as it was.
type hostMem struct {
	mem  map[uint64][]byte
	next uint64
}

func newHostMem() *hostMem { return &hostMem{mem: map[uint64][]byte{}, next: 1 << 12} }

func (h *hostMem) Alloc(size uint64) (Buffer, error) {
	p := h.next
	h.next += (size + 255) &^ 255
	h.mem[p] = make([]byte, size)
	return Buffer{Ptr: p, Size: size}, nil
}
func (h *hostMem) Free(b Buffer) error                { delete(h.mem, b.Ptr); return nil }
func (h *hostMem) Upload(b Buffer, data []byte) error { copy(h.mem[b.Ptr], data); return nil }
func (h *hostMem) Download(dst []byte, b Buffer) error {
	copy(dst, h.mem[b.Ptr])
	return nil
}
func (h *hostMem) Copy(dst, src Buffer, size uint64) error {
	copy(h.mem[dst.Ptr][:size], h.mem[src.Ptr])
	return nil
}
func (h *hostMem) Launch(_ *ir.Func, _ *program.Step, _ [3]uint32, args []uint64) error {
	binary.LittleEndian.PutUint32(h.mem[args[1]], math.Float32bits(7))
	return nil
}

// An in-place kernel's output holds the copy of its input it updates, so
// the comparison does not poison it: a kernel that writes only what
// changes compares equal.
func TestCompareInPlace(t *testing.T) {
	cmp := NewCompareBackend(newHostMem(), newHostMem())
	in, _ := cmp.Alloc(16)
	out, _ := cmp.Alloc(16)
	data := make([]byte, 16)
	for i := range 4 {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i+1)))
	}
	if err := cmp.Upload(in, data); err != nil {
		t.Fatal(err)
	}
	if err := cmp.Copy(out, in, 16); err != nil { // what the executor does for in-place steps
		t.Fatal(err)
	}
	st := &program.Step{Kernel: "kv_write", Args: []program.Arg{
		{Value: "%in", DType: "f32", Shape: []string{"4"}},
		{Value: "%out", DType: "f32", Shape: []string{"4"}, Output: true},
	}, InPlace: [][2]int{{0, 0}}}
	if err := cmp.Launch(nil, st, [3]uint32{1, 1, 1}, []uint64{in.Ptr, out.Ptr}); err != nil {
		t.Fatal(err)
	}
	if r := cmp.Results["kv_write"]; r.RelErr != 0 || r.Err != "" {
		t.Errorf("in-place kernel: %+v", *r)
	}
	got := make([]byte, 16)
	if err := cmp.Download(got, out); err != nil {
		t.Fatal(err)
	}
	if v := math.Float32frombits(binary.LittleEndian.Uint32(got[4:])); v != 2 {
		t.Errorf("out[1] = %v, want the input's 2", v)
	}
	// Without InPlace the same output is poisoned first: the untouched
	// elements stay NaN and the kernel is flagged.
	st.InPlace = nil
	if err := cmp.Launch(nil, st, [3]uint32{1, 1, 1}, []uint64{in.Ptr, out.Ptr}); err != nil {
		t.Fatal(err)
	}
	if r := cmp.Results["kv_write"]; !math.IsInf(r.RelErr, 1) {
		t.Errorf("a partial write went unnoticed: %+v", *r)
	}
}
