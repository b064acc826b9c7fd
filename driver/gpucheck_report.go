package driver

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/deepc-dev/deepc/runtime/infer"
)

// agreement is the cosine between the changes two training steps made,
// from the same starting values, to the parameters named with prefix
// ("optim.m.": Adam's first moments, which after one step are the
// gradients scaled; ""; the weights, every parameter but the optimizer's
// moments): 1 when they move the same way. Gradients are the well
// conditioned comparison: Adam's first update is ±lr per element, so
// where a gradient is nearly zero its sign — and where routing flips an
// expert, the gate's gradient — differs between two correct
// implementations, FP8 rounding amplifying the smallest differences.
func agreement(before map[string][]float32, ref, dev map[string]*runtime.Tensor, prefix string) float64 {
	var dot, nr, nd float64
	for name, p0 := range before {
		switch {
		case prefix == "" && strings.HasPrefix(name, "optim."), prefix != "" && !strings.HasPrefix(name, prefix):
			continue
		case ref[name] == nil || dev[name] == nil || len(ref[name].F) != len(p0) || len(dev[name].F) != len(p0):
			continue
		}
		for i, x := range p0 {
			r, d := float64(ref[name].F[i])-float64(x), float64(dev[name].F[i])-float64(x)
			dot += r * d
			nr += r * r
			nd += d * d
		}
	}
	if nr == 0 || nd == 0 {
		return 0
	}
	return dot / math.Sqrt(nr*nd)
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**NO**"
}

// manifestKernels are the manifest's kernel kinds and whether each
// multiplies on FP8 tensor cores.
func manifestKernels(man *bundle.Manifest) (kinds map[string]string, fp8 map[string]bool) {
	kinds, fp8 = map[string]string{}, map[string]bool{}
	var ks []struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
		MMA  string `json:"mma"`
	}
	if err := json.Unmarshal(man.Kernels, &ks); err == nil {
		for _, k := range ks {
			fp8[k.Name] = k.MMA == "e4m3"
			kinds[k.Name] = k.Kind
		}
	}
	return kinds, fp8
}

func fp8KernelSet(man *bundle.Manifest) map[string]bool {
	_, fp8 := manifestKernels(man)
	return fp8
}

// kernelTable prints one row per kernel and reports whether any failed.
func kernelTable(out io.Writer, man *bundle.Manifest, res map[string]*device.KernelCheck) bool {
	kinds, fp8 := manifestKernels(man)
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	sort.Strings(names)
	failed := false
	fmt.Fprintf(out, "| kernel | kind | launches | elements | max rel. error | tolerance | int mismatches | ok |\n|---|---|---|---|---|---|---|---|\n")
	for _, n := range names {
		r := res[n]
		tol := kernelTolerance(r, fp8[n])
		if r.Err != "" {
			failed = true
			fmt.Fprintf(out, "| %s | %s | %d | %d | launch failed: %s | %.0e | - | %s |\n", n, kinds[n], r.Launches, r.Elements, r.Err, tol, yes(false))
			continue
		}
		ok := r.Passed(tol)
		failed = failed || !ok
		relErr := fmt.Sprintf("%.2e (%s)", r.RelErr, orDash(r.DType))
		if r.RelErr > tol && !math.IsInf(r.ScaleErr, 1) {
			relErr += fmt.Sprintf("; %.2e of its terms' magnitude", r.ScaleErr)
		}
		fmt.Fprintf(out, "| %s | %s | %d | %d | %s | %.0e | %d | %s |\n", n, kinds[n], r.Launches, r.Elements, relErr, tol, r.Mismatch, yes(ok))
	}
	return failed
}

// kernelTolerance is the relative error allowed for a kernel: by the
// least precise dtype its ops produce, looser for FP8 GEMMs.
func kernelTolerance(r *device.KernelCheck, fp8 bool) float64 {
	p := r.Precision
	if p == "" {
		p = r.DType
	}
	return device.Tolerance(p, fp8)
}

// emuTable prints, per kernel, whether the device's outputs equal the
// emulator's bit for bit. Kernels of exact operations (.rn arithmetic,
// conversions, data movement, integer work) should; those using .approx
// functions or tensor cores (whose internal order and precision the ISA
// leaves open) may differ within the ISA's bounds.
func emuTable(out io.Writer, man *bundle.Manifest, res map[string]*device.KernelCheck) {
	kinds, _ := manifestKernels(man)
	names := make([]string, 0, len(res))
	identical := 0
	for n, r := range res {
		names = append(names, n)
		if r.Differ == 0 && r.Err == "" {
			identical++
		}
	}
	sort.Strings(names)
	fmt.Fprintf(out, "\n%d of %d kernels bit-identical to the emulator\n\n| kernel | kind | launches | elements | differing elements | max rel. error |\n|---|---|---|---|---|---|\n", identical, len(names))
	for _, n := range names {
		r := res[n]
		if r.Err != "" {
			fmt.Fprintf(out, "| %s | %s | %d | %d | launch failed: %s | - |\n", n, kinds[n], r.Launches, r.Elements, r.Err)
			continue
		}
		fmt.Fprintf(out, "| %s | %s | %d | %d | %d | %.2e |\n", n, kinds[n], r.Launches, r.Elements, r.Differ, r.RelErr)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// positionErrors compares logits position by position (relative error of
// each position's row): their median, the worst, and how many exceed tol.
// A kernel or plumbing error shows at most positions; a near tie in MoE
// routing that the last bit of an approximate exp flips shows at one.
func positionErrors(a, b infer.Logits, tol float64) (median, worst float64, over, n int) {
	var errs []float64
	for i := range b.Rows {
		for j := range b.Rows[i] {
			var num, den float64
			bad := false
			for k, y := range b.Rows[i][j] {
				x := float64(a.Rows[i][j][k])
				if math.IsNaN(x) || math.IsInf(x, 0) {
					bad = true
				}
				num += (x - float64(y)) * (x - float64(y))
				den += float64(y) * float64(y)
			}
			e := math.Sqrt(num / max(den, 1e-30))
			if bad {
				e = math.Inf(1)
			}
			errs = append(errs, e)
			if e > tol {
				over++
			}
		}
	}
	if len(errs) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(errs)
	return errs[len(errs)/2], errs[len(errs)-1], over, len(errs)
}
