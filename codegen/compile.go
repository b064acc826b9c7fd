package codegen

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
)

// emitters maps a region kind to the function that writes its kernel. The
// completeness test lists the kinds of passes.KernelKinds without one.
var emitters = map[string]func(*kernelBuilder, *Kernel) error{
	"pointwise": emitPointwise,
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

func isConst(v *ir.Value) bool { return v.Def != nil && v.Def.Name == "const" }

// Options control Compile.
type Options struct {
	Toolchain *Toolchain
	// Funcs limits compilation to these functions (default: all).
	Funcs []string
	// Workers runs llc/ptxas in parallel (default: GOMAXPROCS).
	Workers int
	// NoPTXAS stops after PTX.
	NoPTXAS bool
}

// Result is a compiled module: kernels per function in program order, and
// the regions that have no emitter yet.
type Result struct {
	Kernels map[string][]*Kernel
	Missing map[string][]string // function → region descriptions without an emitter
}

// Compile emits every region of the planned module's functions as a
// kernel, then runs llc and ptxas on each (in parallel).
func Compile(ctx context.Context, m *ir.Module, opts Options) (*Result, error) {
	res := &Result{Kernels: map[string][]*Kernel{}, Missing: map[string][]string{}}
	var all []*Kernel
	for _, f := range m.Funcs {
		if len(opts.Funcs) > 0 && !contains(opts.Funcs, f.Name) {
			continue
		}
		regions, err := Regions(f)
		if err != nil {
			return nil, err
		}
		names := ir.ValueNames(f)
		valueName := func(v *ir.Value) string {
			if v.Def != nil && v.Def.Name == "param" {
				n, _ := v.Def.Attrs.Str("name")
				return "@" + n
			}
			return names[v]
		}
		for _, r := range regions {
			emit, ok := emitters[r.Kind]
			if !ok {
				res.Missing[f.Name] = append(res.Missing[f.Name], fmt.Sprintf("%s (%s)", r.Kind, opNames(r)))
				continue
			}
			k, kern := newKernel(kernelName(f.Name, r), r, valueName)
			if err := emit(k, kern); err != nil {
				return nil, fmt.Errorf("func %s, kernel %s: %w", f.Name, kern.Name, err)
			}
			kern.LLVM = k.String()
			res.Kernels[f.Name] = append(res.Kernels[f.Name], kern)
			all = append(all, kern)
		}
	}
	if opts.Toolchain == nil {
		return res, nil
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for i, kern := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ptx, err := opts.Toolchain.PTX(ctx, kern.LLVM)
			if err != nil {
				errs[i] = fmt.Errorf("kernel %s: %w", kern.Name, err)
				return
			}
			kern.PTX = ptx
			if opts.NoPTXAS {
				return
			}
			if kern.Cubin, kern.Resources, err = opts.Toolchain.Cubin(ctx, ptx); err != nil {
				errs[i] = fmt.Errorf("kernel %s: %w", kern.Name, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

func opNames(r *Region) string {
	var s []string
	for _, op := range r.Ops {
		s = append(s, op.Name)
	}
	return strings.Join(s, ",")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MissingKinds summarizes Missing: region kind → count, sorted by kind.
func (r *Result) MissingKinds() []string {
	n := map[string]int{}
	for _, l := range r.Missing {
		for _, d := range l {
			n[d[:strings.IndexByte(d, ' ')]]++
		}
	}
	var out []string
	for k, c := range n {
		out = append(out, fmt.Sprintf("%s×%d", k, c))
	}
	sort.Strings(out)
	return out
}
