package driver

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/cuda"
	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/deepc-dev/deepc/runtime/emu"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/train"
)

// EmuOptions configure the PTX emulator as a device.
type EmuOptions struct {
	Sanitize bool
	Seed     uint64
	Workers  int
	FP8Bits  int
	// Stats prints, when the device closes, the launches, the warp
	// instructions emulated per second and the slowest kernels.
	Stats bool
}

func (o EmuOptions) String() string {
	san := "sanitizer on"
	if !o.Sanitize {
		san = "sanitizer off"
	}
	s := fmt.Sprintf("%s, seed %d", san, o.Seed)
	if o.FP8Bits > 0 {
		s += fmt.Sprintf(", FP8 accumulators of %d bits", o.FP8Bits)
	}
	return s
}

// opener opens one kind of device for a bundle's graphs (see OpenDevice).
type opener func(dir string, man *bundle.Manifest, need []string, eo EmuOptions, log io.Writer) (device.Backend, func(), error)

// devices are the --device values: cpu (nil: the bundle's IR runs on the
// CPU backend), cuda (the first GPU) and emu (the PTX emulator).
var devices = map[string]opener{
	"cpu": func(string, *bundle.Manifest, []string, EmuOptions, io.Writer) (device.Backend, func(), error) {
		return nil, func() {}, nil
	},
	"cuda": func(dir string, man *bundle.Manifest, need []string, _ EmuOptions, _ io.Writer) (device.Backend, func(), error) {
		gpu, err := OpenGPU(dir, man, need)
		if err != nil {
			return nil, nil, err
		}
		return gpu, func() { gpu.Dev.Close() }, nil
	},
	"emu": openEmu,
}

// OpenDevice opens the backend name for a bundle's graphs. The graphs in
// need must have every kernel. The returned function closes the device;
// log receives the emulator's stats.
func OpenDevice(name, dir string, man *bundle.Manifest, need []string, eo EmuOptions, log io.Writer) (device.Backend, func(), error) {
	open, ok := devices[name]
	if !ok {
		return nil, nil, fmt.Errorf("--device %q: want one of %s", name, strings.Join(slices.Sorted(maps.Keys(devices)), ", "))
	}
	return open(dir, man, need, eo, log)
}

// openEmu loads the bundle's kernels into the PTX emulator.
func openEmu(dir string, man *bundle.Manifest, need []string, eo EmuOptions, log io.Writer) (device.Backend, func(), error) {
	if err := HaveKernels("emu", man, need); err != nil {
		return nil, nil, err
	}
	if eo.FP8Bits < 0 || eo.FP8Bits > 23 {
		return nil, nil, fmt.Errorf("--emu-fp8-bits %d: want 0 (exact) to 23", eo.FP8Bits)
	}
	if eo.Workers < 0 {
		return nil, nil, fmt.Errorf("--emu-workers %d: want 0 (one per core) or more", eo.Workers)
	}
	dev := emu.NewDevice(emu.Options{Sanitize: eo.Sanitize, Seed: eo.Seed, Workers: eo.Workers, FP8AccumBits: eo.FP8Bits})
	start := time.Now()
	if err := dev.LoadBundle(dir, man); err != nil {
		return nil, nil, fmt.Errorf("--device emu: %w", err)
	}
	load := time.Since(start)
	done := func() {}
	if eo.Stats {
		done = func() { emuStats(log, dev, load) }
	}
	return dev, done, nil
}

// Opened is a bundle opened on a device to run its programs.
type Opened struct {
	Dir      string
	Manifest *bundle.Manifest
	// Backend is nil for the cpu device: the bundle's IR runs on the CPU
	// backend.
	Backend  device.Backend
	programs map[string][]program.Step
	Close    func()
}

// openBundle verifies the bundle in dir: its files (bundle.Open) and what
// its manifest says of them (device.CheckManifest).
func openBundle(dir string) (*bundle.Manifest, error) {
	man, err := bundle.Open(dir, "")
	if err != nil {
		return nil, err
	}
	if err := device.CheckManifest(man); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	return man, nil
}

// Open verifies the bundle in dir and opens it on the device name (see
// OpenDevice).
func Open(name, dir string, need []string, eo EmuOptions, log io.Writer) (*Opened, error) {
	man, err := openBundle(dir)
	if err != nil {
		return nil, err
	}
	be, done, err := OpenDevice(name, dir, man, need, eo, log)
	if err != nil {
		return nil, err
	}
	o := &Opened{Dir: dir, Manifest: man, Backend: be, Close: done}
	if be != nil {
		if o.programs, err = device.Programs(man); err != nil {
			done()
			return nil, err
		}
	}
	return o, nil
}

// Runner returns what runs the programs on the device (nil on the CPU)
// and what frees its memory.
func (o *Opened) Runner() (Runner, func() error) {
	if o.Backend == nil {
		return nil, func() error { return nil }
	}
	ex := device.NewExecutor(o.Backend, o.programs)
	return ex.Run, ex.Close
}

// OpenGPU opens the first GPU, checks it is the bundle's target and that
// the graphs in need have every kernel, and loads the kernels.
func OpenGPU(dir string, man *bundle.Manifest, need []string) (*cuda.GPU, error) {
	dev, err := cuda.Open(0)
	if err != nil {
		if errors.Is(err, cuda.ErrNoDriver) {
			return nil, fmt.Errorf("--device cuda: %v; run with --device cpu", err)
		}
		return nil, err
	}
	if want := fmt.Sprintf("sm_%d%d", dev.Major, dev.Minor); !strings.HasPrefix(man.Target, want) {
		dev.Close()
		return nil, fmt.Errorf("--device cuda: %s is %s; the bundle targets %s (rebuild with --target %sa, or run with --device cpu)", dev.Name, want, man.Target, want)
	}
	if err := HaveKernels("cuda", man, need); err != nil {
		dev.Close()
		return nil, err
	}
	gpu, err := cuda.LoadBundle(dev, dir, man)
	if err != nil {
		dev.Close()
		return nil, err
	}
	return gpu, nil
}

// HaveKernels checks that the bundle has the graphs in need, each with a
// kernel for every region.
func HaveKernels(devName string, man *bundle.Manifest, need []string) error {
	for _, g := range need {
		if _, ok := man.Graphs[g]; !ok {
			return fmt.Errorf("--device %s: the bundle has no %s program; compile with --graph %s", devName, g, strings.Join(need, ","))
		}
		if n := len(man.Missing[g]); n > 0 {
			return fmt.Errorf("--device %s: the bundle's %s program has %d regions without GPU kernels (see the manifest's \"missing\"); run with --device cpu", devName, g, n)
		}
	}
	return nil
}

// emuStats prints what the emulator did.
func emuStats(w io.Writer, dev *emu.Device, load time.Duration) {
	var total time.Duration
	type kt struct {
		name string
		t    time.Duration
	}
	var ks []kt
	for n, t := range dev.KernelTime {
		total += t
		ks = append(ks, kt{n, t})
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].t > ks[j].t })
	rate := 0.0
	if total > 0 {
		rate = float64(dev.Instructions) / total.Seconds()
	}
	fmt.Fprintf(w, "emu: bundle parsed in %.2f s; %d launches, %d warp instructions in %.2f s of kernels: %.2f M warp instructions/s (each on up to 32 lanes)\n",
		load.Seconds(), dev.Launches, dev.Instructions, total.Seconds(), rate/1e6)
	for _, k := range ks[:min(5, len(ks))] {
		fmt.Fprintf(w, "emu:   %-48s %7.2f s\n", k.name, k.t.Seconds())
	}
}

// Model loads the bundle's inference module (ir/module.ir) as l says
// (checkpoint, precision, ...; l's File and Module are ignored), its
// programs running on the device. The function returned frees the
// device's memory.
func (o *Opened) Model(l Load) (*infer.Model, func() error, error) {
	module, err := BundleModule(o.Dir, "ir/module.ir")
	if err != nil {
		return nil, nil, err
	}
	l.File, l.Module = "", module
	l.Quantized = true // the bundle's kernels read fp8 weights as they are
	model, err := l.Model()
	if err != nil {
		return nil, nil, err
	}
	run, done := o.Runner()
	return RunOn(model, run), done, nil
}

// Trainer is a trainer over the bundle's train program (ir/train.ir) from
// the checkpoint's weights, its steps running on the device. The function
// returned frees the device's memory.
func (o *Opened) Trainer(checkpoint string) (*train.Trainer, func() error, error) {
	mk, err := BundleTrainer(o.Dir, checkpoint)
	if err != nil {
		return nil, nil, err
	}
	run, done := o.Runner()
	tr, err := mk(run)
	if err != nil {
		done()
		return nil, nil, err
	}
	return tr, done, nil
}
