package passes

import (
	"fmt"
	"slices"
)

// Order says: if both passes appear in a pipeline, Before must run before
// After. With repeated passes it holds when some Before precedes some After;
// for passes that appear once (the usual case) that is simply their order.
type Order struct{ Before, After string }

// passOrder is Default's ordering table, as the Go compiler's passOrder:
// each entry records a reason one pass's output is another's input.
var passOrder = []Order{
	// canonicalize turns x*1 into x and folds constants, which makes ops
	// that differed only in such noise identical for cse to merge.
	{"canonicalize", "cse"},
	// cse leaves the operands of merged duplicates unused; dce collects them.
	{"cse", "dce"},
	// mla-absorb rewrites the decode function kv-cache creates, and leaves
	// the cache's up-projection unused for dce.
	{"kv-cache", "mla-absorb"},
	{"mla-absorb", "dce"},
	// fuse-siblings must see the unfused linears of the attention pattern
	// that kv-cache matches (it matches linear on the latent by shape).
	{"kv-cache", "fuse-siblings"},
	// moe-lower turns grouped_linear into grouped_gemm, which fuse-siblings
	// does not know: fusing w1 with w3 first makes them one grouped GEMM.
	{"fuse-siblings", "moe-lower"},
	// moe-lower leaves the routing weights' reshape unused.
	{"moe-lower", "dce"},
}

// checkOrder reports the first violated constraint.
func checkOrder(p Pipeline, order []Order) error {
	first := map[string]int{} // first position of each pass
	last := map[string]int{}  // last position of each pass
	for i, ps := range p.passes {
		if _, ok := first[ps.Name()]; !ok {
			first[ps.Name()] = i
		}
		last[ps.Name()] = i
	}
	for _, o := range order {
		b, okb := first[o.Before]
		a, oka := last[o.After]
		if okb && oka && b > a {
			return fmt.Errorf("pipeline %q: pass %s must run before %s", p, o.Before, o.After)
		}
	}
	return nil
}

// checkRequires reports a pass whose required passes do not run before it.
func checkRequires(p Pipeline) error {
	var seen []string
	for _, ps := range p.passes {
		for _, req := range requires(ps) {
			if !slices.Contains(seen, req) {
				return fmt.Errorf("pipeline %q: pass %s requires %s to run before it", p, ps.Name(), req)
			}
		}
		seen = append(seen, ps.Name())
	}
	return nil
}
