package codegen

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/program"
)

// emitters maps a region kind to the function that writes its kernel;
// internal/opfaces checks that every op's kind has one (EmitterFamily,
// faces.go).
var emitters = map[string]func(*kernelBuilder, *program.Step) error{
	"pointwise": emitPointwise,
	"gemm":      emitGEMM,
	"rows":      emitRows,
	"movement":  emitMovement,
	"rope":      emitRope,
	"routing":   emitRouting,
	"dispatch":  emitDispatch,
	"combine":   emitCombine,
	"attention": emitAttention,
	"optimizer": emitAdamW,
	"scatter":   emitScatterAdd,
	"quantize":  emitQuantize,
}

// phase is one kernel of a region: most regions have one, writing all its
// outputs; some (attention_grad) need two launches with a scratch tensor
// between them.
type phase struct {
	emit    func(*kernelBuilder, *program.Step) error
	outputs func(*Region) []*ir.Value                           // the outputs this kernel writes (nil: all)
	scratch func(*Region, func(*ir.Value) string) []program.Arg // scratch arguments (nil: none)
}

// multiPhase lists the region kinds that may take more than one kernel
// (nil: the region's single emitter).
var multiPhase = map[string]func(*Region) []phase{
	"attention_grad": func(*Region) []phase { return attentionGradPhases },
	"scatter":        scatterPhases,
}

func regionPhases(r *Region) ([]phase, bool) {
	if f, ok := multiPhase[r.Kind]; ok {
		if ps := f(r); ps != nil {
			return ps, true
		}
	}
	emit, ok := emitters[r.Kind]
	return []phase{{emit: emit}}, ok
}

// Regions collects the regions plan-kernels marked in f, in program order.
func Regions(f *ir.Func) ([]*Region, error) {
	byID := map[int64]*Region{}
	var order []*Region
	inRegion := map[*ir.Value]*Region{}
	for _, op := range f.Body {
		id, ok := op.Attrs.Int(passes.KernelAttr)
		if !ok {
			if !passes.IsView(op) {
				return nil, fmt.Errorf("func %s: %s has no kernel region (run plan-kernels)", f.Name, op.Name)
			}
			continue
		}
		r := byID[id]
		if r == nil {
			kind, _ := op.Attrs.Str(passes.KernelKindAttr)
			r = &Region{ID: int(id), Kind: kind}
			byID[id] = r
			order = append(order, r)
		}
		r.Ops = append(r.Ops, op)
		for _, v := range op.Results {
			inRegion[v] = r
		}
	}
	// A region launches where its last op is: its only escaping values
	// come from that op (plan-kernels joins a producer only when every use
	// is in the region), and every op it fuses reads values made before.
	last := map[*Region]int{}
	for i, op := range f.Body {
		if id, ok := op.Attrs.Int(passes.KernelAttr); ok {
			last[byID[id]] = i
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return last[order[i]] < last[order[j]] })
	used := map[*ir.Value]map[*Region]bool{}
	for _, op := range f.Body {
		id, ok := op.Attrs.Int(passes.KernelAttr)
		for _, a := range op.Args {
			if used[a] == nil {
				used[a] = map[*Region]bool{}
			}
			if ok {
				used[a][byID[id]] = true
			} else {
				used[a][nil] = true // a view reads it
			}
		}
	}
	returned := map[*ir.Value]bool{}
	for _, v := range f.Results {
		returned[v] = true
	}
	for _, r := range order {
		seen := map[*ir.Value]bool{}
		for _, op := range r.Ops {
			for _, a := range op.Args {
				if inRegion[a] == r || seen[a] || isConst(a) {
					continue
				}
				seen[a] = true
				r.Inputs = append(r.Inputs, a)
			}
			for _, v := range op.Results {
				outside := returned[v]
				for u := range used[v] {
					outside = outside || u != r
				}
				if outside {
					r.Outputs = append(r.Outputs, v)
				}
			}
		}
	}
	return order, nil
}

func isConst(v *ir.Value) bool { return v.Def.Is(ir.OpConst) }

// Options control Compile.
type Options struct {
	Toolchain *Toolchain
	// Funcs limits compilation to these functions (default: all).
	Funcs []string
	// Workers runs llc/ptxas in parallel (default: GOMAXPROCS).
	Workers int
	// NoPTXAS stops after PTX.
	NoPTXAS bool
	// CacheDir keeps compiled kernels by content (see DefaultCacheDir);
	// empty: no cache.
	CacheDir string
}

// Result is a compiled module: the kernels (unique, sorted by name), each
// function's program of launches, and the regions without an emitter yet.
type Result struct {
	Kernels  []*Kernel
	Programs map[string][]*program.Step
	Missing  map[string][]string // function → region descriptions

	memo map[string]memoEntry // region signature → what its emission gave
}

// noMemo turns the signature memo off (tests compare both ways).
var noMemo = false

type memoEntry struct {
	name    string
	launch  program.Launch
	inPlace [][2]int
	err     error
}

// signature describes everything an emitter reads from a region: its ops
// (names, attributes but the region id, result types), how their operands
// connect (region inputs by position with their types and quantization,
// values of earlier ops, constants), its outputs and scratch. Regions with
// equal signatures emit the same code.
func signature(r *Region, quantOf func(*ir.Value) []int64, scratch []program.Arg) string {
	var b strings.Builder
	b.WriteString(r.Kind + ";")
	ref := map[*ir.Value]string{}
	for i, v := range r.Inputs {
		ref[v] = fmt.Sprintf("in%d", i)
		fmt.Fprintf(&b, "in%d:%s:%v;", i, v.Type, quantOf(v))
	}
	for i, op := range r.Ops {
		for j, v := range op.Results {
			ref[v] = fmt.Sprintf("op%d.%d", i, j)
		}
	}
	for _, op := range r.Ops {
		b.WriteString(op.Name)
		for _, key := range op.Attrs.Keys() {
			if key != passes.KernelAttr {
				fmt.Fprintf(&b, " %s=%s", key, ir.FormatAttr(op.Attrs[key]))
			}
		}
		for _, a := range op.Args {
			if n, ok := ref[a]; ok {
				b.WriteString(" " + n)
			} else if isConst(a) {
				fmt.Fprintf(&b, " const(%s %s)", a.Def.Attrs.String(), a.Type)
			} else {
				b.WriteString(" ?")
			}
		}
		for _, v := range op.Results {
			fmt.Fprintf(&b, " -> %s", v.Type)
		}
		b.WriteByte(';')
	}
	for _, v := range r.Outputs {
		fmt.Fprintf(&b, "out %s:%v;", ref[v], quantOf(v))
	}
	for _, a := range scratch {
		fmt.Fprintf(&b, "scratch %s %v %v;", a.DType, a.Shape, a.Output)
	}
	return b.String()
}

// Kernel finds a kernel by name.
func (r *Result) Kernel(name string) *Kernel {
	i := sort.Search(len(r.Kernels), func(i int) bool { return r.Kernels[i].Name >= name })
	if i < len(r.Kernels) && r.Kernels[i].Name == name {
		return r.Kernels[i]
	}
	return nil
}

// Compile emits every region of the planned module's functions as a
// kernel, merges identical kernels, then runs llc and ptxas on each (in
// parallel).
func Compile(ctx context.Context, m *ir.Module, opts Options) (*Result, error) {
	return CompileUnits(ctx, []Unit{{Module: m, Funcs: opts.Funcs}}, opts)
}

// Unit is a planned module and the functions of it to compile (all when
// Funcs is empty).
type Unit struct {
	Module *ir.Module
	Funcs  []string
}

// CompileUnits compiles several modules' functions into one set of kernels
// (a bundle's inference module and its train module share kernels).
func CompileUnits(ctx context.Context, units []Unit, opts Options) (*Result, error) {
	res := &Result{Programs: map[string][]*program.Step{}, Missing: map[string][]string{}, memo: map[string]memoEntry{}}
	byName := map[string]*Kernel{}
	for _, u := range units {
		if err := res.emit(u, byName); err != nil {
			return nil, err
		}
	}
	return res, res.assemble(ctx, opts)
}

// emit writes the LLVM IR of every region of the unit's functions.
func (res *Result) emit(u Unit, byName map[string]*Kernel) error {
	m := u.Module
	for _, f := range m.Funcs {
		if len(u.Funcs) > 0 && !slices.Contains(u.Funcs, f.Name) {
			continue
		}
		regions, err := Regions(f)
		if err != nil {
			return err
		}
		names := ir.ValueNames(f)
		valueName := func(v *ir.Value) string {
			if v.Def.Is(ir.OpParam) {
				n, _ := v.Def.Attrs.Str("name")
				return "@" + n
			}
			return names[v]
		}
		res.Programs[f.Name] = []*program.Step{}
		for _, r := range regions {
			if len(r.Outputs) == 0 {
				continue // nothing it computes is used
			}
			phases, ok := regionPhases(r)
			if !ok {
				res.Missing[f.Name] = append(res.Missing[f.Name], fmt.Sprintf("%s (%s)", r.Kind, opNames(r)))
				continue
			}
			var steps []*program.Step
			var kerns []*Kernel
			var emitErr error
			for pi, ph := range phases {
				sub := *r
				if ph.outputs != nil {
					sub.Outputs = ph.outputs(r)
				}
				var scratch []program.Arg
				if ph.scratch != nil {
					scratch = ph.scratch(r, valueName)
				}
				quantOf := func(v *ir.Value) []int64 { return quantBlock(m, v) }
				k, step := newKernel(placeholderName, &sub, valueName, quantOf, scratch...)
				// A region like one already emitted (the same layer at
				// another depth) has the same kernel: skip printing it.
				sig := fmt.Sprintf("%d\x00%s", pi, signature(&sub, quantOf, scratch))
				if e, ok := res.memo[sig]; ok && !noMemo {
					if emitErr = e.err; emitErr != nil {
						break
					}
					step.Kernel, step.Launch, step.InPlace = e.name, e.launch, e.inPlace
					steps = append(steps, step)
					continue
				}
				if emitErr = ph.emit(k, step); emitErr != nil {
					res.memo[sig] = memoEntry{err: emitErr}
					break
				}
				code := k.String()
				name := kernelName(r, code)
				step.Kernel = name
				res.memo[sig] = memoEntry{name: name, launch: step.Launch, inPlace: step.InPlace}
				steps = append(steps, step)
				if byName[name] != nil {
					continue
				}
				kern := &Kernel{Name: name, Kind: r.Kind, MMA: k.mma, LLVM: strings.ReplaceAll(code, "@"+placeholderName, "@"+name)}
				for _, op := range r.Ops {
					kern.Ops = append(kern.Ops, op.Name)
				}
				byName[name] = kern
				kerns = append(kerns, kern)
			}
			if emitErr != nil {
				for _, kern := range kerns {
					delete(byName, kern.Name)
				}
				var u unsupportedError
				if errors.As(emitErr, &u) {
					res.Missing[f.Name] = append(res.Missing[f.Name], fmt.Sprintf("%s (%s): %v", r.Kind, opNames(r), emitErr))
					continue
				}
				return fmt.Errorf("func %s, region %d (%s): %w", f.Name, r.ID, opNames(r), emitErr)
			}
			res.Programs[f.Name] = append(res.Programs[f.Name], steps...)
			res.Kernels = append(res.Kernels, kerns...)
		}
	}
	return nil
}

// assemble sorts the kernels and runs llc and ptxas on each, in parallel.
func (res *Result) assemble(ctx context.Context, opts Options) error {
	sort.Slice(res.Kernels, func(i, j int) bool { return res.Kernels[i].Name < res.Kernels[j].Name })
	if opts.Toolchain == nil {
		return nil
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	errs := make([]error, len(res.Kernels))
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for i, kern := range res.Kernels {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var key string
			if opts.CacheDir != "" {
				key = cacheKey(opts.Toolchain.identity(ctx), kern.LLVM, !opts.NoPTXAS)
				if e, ok := cacheGet(opts.CacheDir, key); ok && (opts.NoPTXAS || len(e.Cubin) > 0) {
					kern.PTX, kern.Cubin, kern.Resources = e.PTX, e.Cubin, e.Resources
					return
				}
			}
			ptx, err := opts.Toolchain.PTX(ctx, kern.LLVM)
			if err != nil {
				errs[i] = fmt.Errorf("kernel %s: %w", kern.Name, err)
				return
			}
			kern.PTX = ptx
			if opts.NoPTXAS {
				if key != "" {
					cachePut(opts.CacheDir, key, &cacheEntry{PTX: ptx})
				}
				return
			}
			if kern.Cubin, kern.Resources, err = opts.Toolchain.Cubin(ctx, ptx); err != nil {
				errs[i] = fmt.Errorf("kernel %s: %w", kern.Name, err)
				return
			}
			if key != "" {
				cachePut(opts.CacheDir, key, &cacheEntry{PTX: kern.PTX, Cubin: kern.Cubin, Resources: kern.Resources})
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func opNames(r *Region) string {
	var s []string
	for _, op := range r.Ops {
		s = append(s, op.Name)
	}
	return strings.Join(s, ",")
}

// MissingKinds summarizes Missing: region kind → count, sorted by kind.
func (r *Result) MissingKinds() []string {
	n := map[string]int{}
	for _, l := range r.Missing {
		for _, d := range l {
			kind, _, _ := strings.Cut(d, " ")
			n[kind]++
		}
	}
	var out []string
	for k, c := range n {
		out = append(out, fmt.Sprintf("%s×%d", k, c))
	}
	sort.Strings(out)
	return out
}

// quantBlock is the scale block of a block-quantized weight param, or nil.
func quantBlock(m *ir.Module, v *ir.Value) []int64 {
	if v.Def.Is(ir.OpQuantizeBlocks) {
		b, _ := v.Def.Attrs.Ints("block")
		return b
	}
	if !v.Def.Is(ir.OpParam) {
		return nil
	}
	name, _ := v.Def.Attrs.Str("name")
	p := m.Param(name)
	if p == nil {
		return nil
	}
	q, _ := p.Attrs.Ints("quant")
	return q
}

// unsupportedError marks a region an emitter does not handle yet (a dtype
// or layout variant): Compile lists it as missing instead of failing.
type unsupportedError struct{ msg string }

func (e unsupportedError) Error() string { return e.msg }

func unsupported(format string, args ...any) error {
	return unsupportedError{fmt.Sprintf(format, args...)}
}
