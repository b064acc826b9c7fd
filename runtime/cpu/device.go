package cpu

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/device"
)

// Device is a device.Backend whose memory is host memory and whose launches
// run the step's region (the IR ops plan-kernels grouped into the kernel)
// on the CPU backend, reading and writing the device layouts. It checks,
// without a GPU, everything the executor does around the kernels: buffer
// sizes and lifetimes, argument order, symbols, views, in-place updates,
// weight and scale layouts. It is also the reference that gpu-check
// compares each kernel against.
type Device struct {
	Opts     Options
	regions  device.Regions
	mem      map[uint64][]byte
	next     uint64
	Launches int
}

// NewDevice returns an empty backend.
func NewDevice(opts Options) *Device {
	return &Device{Opts: opts, mem: map[uint64][]byte{}, next: 1 << 20}
}

func (c *Device) Alloc(size uint64) (device.Buffer, error) {
	// Sizes come from a bundle's programs and the run's symbols: the
	// "device" is host memory here, held to the memory budget.
	if size > 1<<62 {
		return device.Buffer{}, fmt.Errorf("an allocation of %d bytes", size)
	}
	if err := runtime.CheckBudget("a device allocation", int64(size)); err != nil {
		return device.Buffer{}, err
	}
	p := c.next
	c.next += (max(size, 1) + 255) &^ 255 // 256-byte aligned, as cuMemAlloc
	c.mem[p] = make([]byte, size)
	return device.Buffer{Ptr: p, Size: size}, nil
}

// buf is the memory at p (which may point inside an allocation, as
// arena offsets do), checked to hold size bytes.
func (c *Device) buf(p uint64, size uint64) ([]byte, error) {
	base, ok := c.base(p)
	if !ok {
		return nil, fmt.Errorf("pointer %#x is not in an allocation", p)
	}
	b := c.mem[base][p-base:]
	if uint64(len(b)) < size {
		return nil, fmt.Errorf("pointer %#x (allocation %#x + %d) has %d bytes, %d used", p, base, p-base, len(b), size)
	}
	return b, nil
}

// base finds the allocation holding p.
func (c *Device) base(p uint64) (uint64, bool) {
	if _, ok := c.mem[p]; ok {
		return p, true
	}
	for b, m := range c.mem {
		if p >= b && p < b+uint64(max(len(m), 1)) {
			return b, true
		}
	}
	return 0, false
}

func (c *Device) Free(b device.Buffer) error {
	if _, ok := c.mem[b.Ptr]; !ok {
		return fmt.Errorf("free of %#x: not allocated", b.Ptr)
	}
	delete(c.mem, b.Ptr)
	return nil
}

func (c *Device) Upload(b device.Buffer, data []byte) error {
	m, err := c.buf(b.Ptr, uint64(len(data)))
	if err != nil {
		return err
	}
	copy(m, data)
	return nil
}

func (c *Device) Download(dst []byte, b device.Buffer) error {
	m, err := c.buf(b.Ptr, uint64(len(dst)))
	if err != nil {
		return err
	}
	copy(dst, m)
	return nil
}

func (c *Device) Copy(dst, src device.Buffer, size uint64) error {
	d, err := c.buf(dst.Ptr, size)
	if err != nil {
		return err
	}
	s, err := c.buf(src.Ptr, size)
	if err != nil {
		return err
	}
	copy(d, s[:size])
	return nil
}

// Launch runs the step's region on the CPU.
func (c *Device) Launch(fn *ir.Func, st *program.Step, grid [3]uint32, args []uint64) error {
	c.Launches++
	if len(args) != len(st.Args)+len(st.Symbols) {
		return fmt.Errorf("%d launch arguments for %d tensors and %d symbols", len(args), len(st.Args), len(st.Symbols))
	}
	env := map[string]int64{}
	for i, s := range st.Symbols {
		env[s] = int64(args[len(st.Args)+i])
	}
	rf, inputs, outputs, err := c.regions.Func(fn, st, env)
	if err != nil {
		return err
	}
	// Inputs: symbol-binding dummies, then the region's inputs decoded from
	// their buffers (a quantized input with its scale grid).
	var targs []*runtime.Tensor
	for _, s := range st.Symbols {
		targs = append(targs, runtime.NewTensor(ir.I32, int(env[s])))
	}
	scaleOf := map[string]int{}
	for i, a := range st.Args {
		if a.ScaleOf != "" {
			scaleOf[a.ScaleOf] = i
		}
	}
	for _, in := range inputs {
		a := st.Args[in.Arg]
		t, err := c.read(args[in.Arg], in.V.Type.DType, in.Shape)
		if err != nil {
			return fmt.Errorf("input %s: %w", a.Value, err)
		}
		if si, ok := scaleOf[a.Value]; ok {
			b := st.Args[si].Block
			if len(b) != 2 {
				return fmt.Errorf("scales of %s: no block", a.Value)
			}
			block := [2]int{int(b[0]), int(b[1])}
			grid := runtime.ScaleGrid(in.Shape, block)
			if t.Scale, err = c.read(args[si], ir.F32, grid); err != nil {
				return fmt.Errorf("scales of %s: %w", a.Value, err)
			}
			t.Block = block
		}
		targs = append(targs, t)
	}
	res, err := Run(rf, nil, targs, c.Opts)
	if err != nil {
		return err
	}
	for i, out := range outputs {
		a := st.Args[out.Arg]
		data, err := device.Encode(res[i], out.V.Type.DType)
		if err != nil {
			return fmt.Errorf("output %s: %w", a.Value, err)
		}
		if err := c.Upload(device.Buffer{Ptr: args[out.Arg]}, data); err != nil {
			return fmt.Errorf("output %s: %w", a.Value, err)
		}
		if si, ok := scaleOf[a.Value]; ok && res[i].Scale != nil {
			sd, err := device.Encode(res[i].Scale, ir.F32)
			if err != nil {
				return err
			}
			if err := c.Upload(device.Buffer{Ptr: args[si]}, sd); err != nil {
				return fmt.Errorf("scales of %s: %w", a.Value, err)
			}
		}
	}
	return nil
}

func (c *Device) read(p uint64, dt ir.DType, shape []int) (*runtime.Tensor, error) {
	n := numel(shape) * int(dt.Bytes())
	b, err := c.buf(p, uint64(n))
	if err != nil {
		return nil, err
	}
	return device.Decode(b[:n], dt, shape)
}
