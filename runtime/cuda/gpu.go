package cuda

import (
	"encoding/json"
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/device"
)

// GPU is the Backend over the CUDA driver: a device with a bundle's
// kernels loaded (cubins, or PTX for the driver to JIT when a kernel has
// no cubin or the driver refuses it).
type GPU struct {
	Dev *Device
	fns map[string]*Function
	// JIT lists the kernels whose cubin the driver refused, with why; they
	// were loaded from their PTX instead.
	JIT []string
}

// LoadBundle loads every kernel of a verified bundle onto the device.
func LoadBundle(dev *Device, dir string, man *bundle.Manifest) (*GPU, error) {
	var ks []struct {
		Name  string `json:"name"`
		PTX   string `json:"ptx"`
		Cubin string `json:"cubin"`
	}
	if err := json.Unmarshal(man.Kernels, &ks); err != nil {
		return nil, fmt.Errorf("bundle %s: kernels: %v", dir, err)
	}
	g := &GPU{Dev: dev, fns: map[string]*Function{}}
	read := func(file string) ([]byte, error) { return bundle.ReadFile(dir, file) }
	for _, k := range ks {
		mod, refused, err := loadKernel(dev, read, k.Cubin, k.PTX)
		if err != nil {
			return nil, fmt.Errorf("kernel %s: %w", k.Name, err)
		}
		if refused != nil {
			g.JIT = append(g.JIT, fmt.Sprintf("%s (%v)", k.Name, refused))
		}
		if g.fns[k.Name], err = mod.Function(k.Name); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// loadKernel loads a kernel's cubin, or its PTX (files read by read; ""
// when absent) when it has no cubin or the driver refuses the cubin (an
// architecture or driver the ptxas that built it did not foresee);
// refused is the cubin's error then.
func loadKernel(dev *Device, read func(file string) ([]byte, error), cubin, ptx string) (mod *Module, refused, err error) {
	if cubin != "" {
		img, err := read(cubin)
		if err != nil {
			return nil, nil, err
		}
		if mod, err = dev.Load(img); err == nil || ptx == "" {
			return mod, nil, err
		}
		refused = err
	}
	if ptx == "" {
		return nil, nil, fmt.Errorf("neither a cubin nor PTX")
	}
	img, err := read(ptx)
	if err != nil {
		return nil, nil, err
	}
	if mod, err = dev.Load(img); err != nil {
		if refused != nil {
			err = fmt.Errorf("cubin: %v; PTX: %w", refused, err)
		}
		return nil, nil, err
	}
	return mod, refused, nil
}

func (g *GPU) Alloc(size uint64) (device.Buffer, error)   { return g.Dev.Alloc(size) }
func (g *GPU) Free(b device.Buffer) error                 { return g.Dev.Free(b) }
func (g *GPU) Upload(b device.Buffer, data []byte) error  { return g.Dev.Upload(b, data) }
func (g *GPU) Download(dst []byte, b device.Buffer) error { return g.Dev.Download(dst, b) }
func (g *GPU) Copy(dst, src device.Buffer, size uint64) error {
	return g.Dev.CopyDevice(dst, src, size)
}

// Launch runs the step's kernel.
func (g *GPU) Launch(_ *ir.Func, st *program.Step, grid [3]uint32, args []uint64) error {
	f, ok := g.fns[st.Kernel]
	if !ok {
		return fmt.Errorf("kernel %s is not in the bundle", st.Kernel)
	}
	return f.Launch(grid, [3]uint32{uint32(st.Launch.Threads), 1, 1}, uint32(st.Launch.Shared), args)
}
