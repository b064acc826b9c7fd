package emu

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/device"
)

// Device is a virtual Hopper GPU: device memory, loaded PTX modules and
// kernel launches, behind the same device.Backend interface as the CUDA
// driver. Its methods are called from one goroutine (a launch runs its
// CTAs in parallel inside).
type Device struct {
	Opts    Options
	mem     memory
	kernels map[string]*loaded
	// Launches and Instructions count the work done; KernelTime the host
	// time spent emulating each kernel.
	Launches     int
	Instructions uint64
	KernelTime   map[string]time.Duration
	// Profile counts warp instructions per opcode (Options.Profile).
	Profile map[string]uint64
}

// loaded is a kernel of a module on the device (its globals allocated).
type loaded struct {
	k       *Kernel
	globals map[string]uint64
	regs    int // registers per thread from the bundle's manifest (0: unknown)
}

// NewDevice returns an empty device.
func NewDevice(opts Options) *Device {
	return &Device{Opts: opts, kernels: map[string]*loaded{}, KernelTime: map[string]time.Duration{}, Profile: map[string]uint64{}}
}

// LoadPTX parses a PTX module and makes its kernels launchable; its
// module-scope globals are allocated with their initial values.
func (d *Device) LoadPTX(src string) (*Module, error) {
	m, err := Parse(src)
	if err != nil {
		return nil, err
	}
	globals := map[string]uint64{}
	for _, g := range m.Globals {
		a, err := d.mem.alloc(uint64(g.Size), "module global "+g.Name)
		if err != nil {
			return nil, err
		}
		a.module = true
		copy(a.data, g.Init)
		for i := range a.init { // globals start zeroed when not initialised
			a.init[i] = 1
		}
		globals[g.Name] = a.base
	}
	for _, name := range m.Order {
		d.kernels[name] = &loaded{k: m.Kernels[name], globals: globals}
	}
	return m, nil
}

// LoadBundle loads every kernel of a verified bundle from its PTX.
func (d *Device) LoadBundle(dir string, man *bundle.Manifest) error {
	var ks []struct {
		Name      string `json:"name"`
		PTX       string `json:"ptx"`
		Resources struct {
			Registers int `json:"registers"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(man.Kernels, &ks); err != nil {
		return fmt.Errorf("bundle %s: kernels: %v", dir, err)
	}
	for _, k := range ks {
		if k.PTX == "" {
			return fmt.Errorf("kernel %s has no PTX in the bundle", k.Name)
		}
		src, err := bundle.ReadFile(dir, k.PTX)
		if err != nil {
			return err
		}
		if _, err := d.LoadPTX(string(src)); err != nil {
			return fmt.Errorf("kernel %s (%s): %w", k.Name, k.PTX, err)
		}
		l, ok := d.kernels[k.Name]
		if !ok {
			return fmt.Errorf("%s does not define kernel %s", k.PTX, k.Name)
		}
		l.regs = k.Resources.Registers
	}
	return nil
}

// Kernel returns a loaded kernel by name.
func (d *Device) Kernel(name string) (*Kernel, bool) {
	l, ok := d.kernels[name]
	if !ok {
		return nil, false
	}
	return l.k, true
}

func (d *Device) Alloc(size uint64) (device.Buffer, error) {
	a, err := d.mem.alloc(size, "a buffer")
	if err != nil {
		return device.Buffer{}, err
	}
	return device.Buffer{Ptr: a.base, Size: size}, nil
}

func (d *Device) Free(b device.Buffer) error { return d.mem.free(b.Ptr) }

// Upload writes host bytes (they count as initialised).
func (d *Device) Upload(b device.Buffer, data []byte) error {
	m, a, err := d.mem.span(b.Ptr, uint64(len(data)))
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	copy(m, data)
	off := b.Ptr - a.base
	for i := range data {
		a.init[off+uint64(i)] = 1
	}
	return nil
}

func (d *Device) Download(dst []byte, b device.Buffer) error {
	m, _, err := d.mem.span(b.Ptr, uint64(len(dst)))
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	copy(dst, m)
	return nil
}

// Copy copies bytes and their initialisation state.
func (d *Device) Copy(dst, src device.Buffer, size uint64) error {
	dm, da, err := d.mem.span(dst.Ptr, size)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	sm, sa, err := d.mem.span(src.Ptr, size)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	copy(dm, sm)
	copy(da.init[dst.Ptr-da.base:dst.Ptr-da.base+size], sa.init[src.Ptr-sa.base:src.Ptr-sa.base+size])
	return nil
}

// Run launches a kernel by name.
func (d *Device) Run(name string, cfg LaunchConfig) (Stats, error) {
	ld, ok := d.kernels[name]
	if !ok {
		return Stats{}, fmt.Errorf("kernel %s is not loaded", name)
	}
	k := ld.k
	if err := k.checkConfig(&cfg); err != nil {
		return Stats{}, fmt.Errorf("launch of %s: %w", name, err)
	}
	threads := int(cfg.Block[0] * cfg.Block[1] * cfg.Block[2])
	if ld.regs > maxRegsPerThread {
		return Stats{}, fmt.Errorf("launch of %s: %d registers per thread exceed Hopper's %d", name, ld.regs, maxRegsPerThread)
	}
	if ld.regs*threads > 65536 {
		return Stats{}, fmt.Errorf("launch of %s: %d threads × %d registers exceed the SM's 65536 registers", name, threads, ld.regs)
	}
	params, err := k.paramBytes(cfg.Args, cfg.RawArgs)
	if err != nil {
		return Stats{}, fmt.Errorf("launch of %s: %w", name, err)
	}
	l := &launch{
		k: k, mem: &d.mem, grid: cfg.Grid, block: cfg.Block,
		shared:   k.DynOffset + cfg.DynShared,
		params:   params,
		globals:  ld.globals,
		sanitize: d.Opts.Sanitize,
		seed:     d.Opts.Seed,
		fp8Bits:  d.Opts.FP8AccumBits,
		maxSteps: d.Opts.MaxSteps,
		profile:  d.Opts.Profile,
	}
	if l.profile {
		l.counts = make([]uint64, len(k.code.insts))
	}
	if l.maxSteps == 0 {
		l.maxSteps = 1 << 32
	}
	l.rep.limit = d.Opts.MaxFindings
	if l.rep.limit <= 0 {
		l.rep.limit = 50
	}
	for _, v := range cfg.Views {
		l.views = append(l.views, view{lo: v.Ptr, hi: v.Ptr + v.Size, write: v.Write, name: v.Name})
	}
	start := time.Now()
	st := l.run(d.Opts.Workers)
	d.KernelTime[name] += time.Since(start)
	d.Launches++
	d.Instructions += st.Instructions
	for i, n := range l.counts {
		d.Profile[k.code.insts[i].op] += n
	}
	if r := l.rep.report(name); r != nil {
		return st, r
	}
	return st, nil
}

// Launch runs one step of a bundle program: the kernel on the grid with
// the step's threads and shared memory; each tensor argument is a view
// the kernel may touch (outputs writable).
func (d *Device) Launch(_ *ir.Func, st *program.Step, grid [3]uint32, args []uint64) error {
	if len(args) != len(st.Args)+len(st.Symbols) {
		return fmt.Errorf("%d launch arguments for %d tensors and %d symbols", len(args), len(st.Args), len(st.Symbols))
	}
	views, err := stepViews(st, args)
	if err != nil {
		return err
	}
	_, err = d.Run(st.Kernel, LaunchConfig{
		Grid:      grid,
		Block:     [3]uint32{uint32(st.Launch.Threads), 1, 1},
		DynShared: st.Launch.Shared,
		Args:      args,
		Views:     views,
	})
	return err
}

// stepViews computes each tensor argument's bytes from its shape under
// the step's symbols. Outputs are writable, and so is a scratch tensor:
// the kernels of a multi-kernel region share it, each updating it.
func stepViews(st *program.Step, args []uint64) ([]View, error) {
	env := map[string]int64{}
	for i, s := range st.Symbols {
		env[s] = int64(args[len(st.Args)+i])
	}
	var views []View
	for i, a := range st.Args {
		dt, shape, err := device.ArgType(a, st, env)
		if err != nil {
			return nil, err
		}
		n := uint64(dt.Bytes())
		for _, x := range shape {
			n *= uint64(x)
		}
		name := "input " + a.Value
		if a.Output {
			name = "output " + a.Value
		}
		views = append(views, View{Ptr: args[i], Size: n, Write: a.Output || a.Scratch, Name: name})
	}
	return views, nil
}
