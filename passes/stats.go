package passes

import (
	"strconv"

	"github.com/deepc-dev/deepc/ir"
)

func init() {
	Register(NewPassWithOptions("stats", "count parameters (total, activated per token, MTP-only), FLOPs per token and weight bytes into ctx.Stats", []Option{
		{Name: "seq-len", Type: TypeInt, Default: strconv.Itoa(DefaultSeqLen), Description: "the sequence length FLOPs per token are counted at"},
	}, runStats))
}

// DefaultSeqLen is the sequence length FLOPs are counted at when the
// "seq-len" option is not given.
const DefaultSeqLen = 4096

// Stats summarises a model module. Only ops that a function's results
// depend on count, so a pipeline gives the same numbers with or without dce.
type Stats struct {
	SeqLen int64 `json:"seq_len"`
	// ParamsTotal is the element count of the params `forward` reads: the
	// main model, as model cards count it (MTP is ParamsMTP). Without a
	// forward function, of every param some function reads.
	ParamsTotal int64 `json:"params_total"`
	// ParamsActivated is the parameters one token of `forward` touches: all
	// of each param it reads, except expert weights read by grouped_linear,
	// of which a token uses k of E experts.
	ParamsActivated int64 `json:"params_activated"`
	// ParamsMTP is the element count of params `mtp` reads and `forward`
	// does not.
	ParamsMTP int64 `json:"params_mtp"`
	// FLOPsPerToken is the FLOPs of `forward` over SeqLen tokens (every
	// symbolic dim of its arguments bound to SeqLen), divided by SeqLen.
	FLOPsPerToken int64 `json:"flops_per_token"`
	// WeightBytes is the storage of every param some function reads (MTP's
	// included), by dtype.
	WeightBytes map[string]int64 `json:"weight_bytes"`
	// OpCounts counts ops by name over all functions.
	OpCounts map[string]int64 `json:"op_counts"`
}

func runStats(ctx *Context, m *ir.Module) (bool, error) {
	seqLen, err := ctx.IntOption("seq-len", DefaultSeqLen)
	if err != nil {
		return false, err
	}
	s := ComputeStats(m, seqLen)
	ctx.Stats = &s
	return false, nil
}

// ComputeStats computes Stats for m with FLOPs counted at seqLen tokens (a
// non-positive seqLen means DefaultSeqLen).
func ComputeStats(m *ir.Module, seqLen int64) Stats {
	if seqLen <= 0 {
		seqLen = DefaultSeqLen
	}
	s := Stats{SeqLen: seqLen, WeightBytes: map[string]int64{}, OpCounts: map[string]int64{}}
	used := map[string]bool{} // params read by any function
	for _, f := range m.Funcs {
		for _, op := range live(f) {
			s.OpCounts[op.Name]++
		}
		for name := range paramsRead(f) {
			used[name] = true
		}
	}
	fwd := m.Func("forward")
	main := used
	if fwd != nil {
		main = paramsRead(fwd)
	}
	for _, p := range m.Params {
		if used[p.Name] {
			s.WeightBytes[p.Type.DType.String()] += numel(p) * p.Type.DType.Bytes()
		}
		if main[p.Name] {
			s.ParamsTotal += numel(p)
		}
	}
	if fwd == nil {
		return s
	}
	s.ParamsActivated = activatedParams(m, fwd)
	s.FLOPsPerToken = flops(fwd, seqLen) / seqLen
	if mtp := m.Func("mtp"); mtp != nil {
		inFwd := paramsRead(fwd)
		for name := range paramsRead(mtp) {
			if p := m.Param(name); p != nil && !inFwd[name] {
				s.ParamsMTP += numel(p)
			}
		}
	}
	return s
}

// live lists f's live ops in body order.
func live(f *ir.Func) []*ir.Op {
	keep := liveOps(f)
	var ops []*ir.Op
	for i, op := range f.Body {
		if keep[i] {
			ops = append(ops, op)
		}
	}
	return ops
}

// paramsRead is the set of param names f's live `param` ops read.
func paramsRead(f *ir.Func) map[string]bool {
	names := map[string]bool{}
	for _, op := range live(f) {
		if op.Is(ir.OpParam) {
			if name, ok := op.Attrs.Str("name"); ok {
				names[name] = true
			}
		}
	}
	return names
}

// numel is a param's element count; params have constant shapes.
func numel(p *ir.Param) int64 {
	n, _ := p.Type.Shape.Eval(nil)
	return n
}

// flops sums the FLOPs of f's live ops with every symbol of f's arguments
// bound to seqLen.
func flops(f *ir.Func, seqLen int64) int64 {
	env := map[string]int64{}
	for _, a := range f.Args {
		for _, sym := range a.Type.Shape.Syms() {
			env[sym] = seqLen
		}
	}
	var total int64
	for _, op := range live(f) {
		total += op.Cost(env).FLOPs
	}
	return total
}
