package main

import (
	"math"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/infer"
)

// Lowering the experts to dispatch → grouped GEMMs → combine changes no bit
// of the logits, whatever the padding, in every precision mode: forward,
// prefill and cached decode (absorbed MLA), and the MTP functions.
func TestMoELoweringIsExact(t *testing.T) {
	t.Parallel() // one of the package's slow tests: they overlap at its end
	unlowered := strings.Replace(passes.InferencePipeline, "moe-lower,", "", 1)
	if unlowered == passes.InferencePipeline {
		t.Fatalf("the inference pipeline %q has no moe-lower", unlowered)
	}
	seqs := [][]int{{1, 17, 301, 42, 7, 499, 3}, {3, 3, 250, 9, 120, 64, 5}}
	for _, tc := range []struct{ format, precision string }{{"f32", "fp32"}, {"bf16", "bf16"}, {"fp8", "fp8"}, {"fp8", "fp32"}} {
		dir := writeCheckpoint(t, nil, tc.format, 1, 31)
		load := func(pipeline string, block int) *infer.Model {
			mode, err := cpu.ParseMode(tc.precision)
			if err != nil {
				t.Fatal(err)
			}
			l := driver.Load{File: tinyModel, Checkpoint: dir, Mode: mode, Pipeline: pipeline, MoEBlock: block}
			m, err := l.Model()
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		want := logitsOf(t, load(unlowered, 1), seqs)
		for _, block := range []int{1, 3, 128} {
			m := load(passes.InferencePipeline, block)
			if !hasOp(m, "grouped_gemm") || hasOp(m, "grouped_linear") {
				t.Fatalf("block %d: the inference pipeline did not lower the experts", block)
			}
			got := logitsOf(t, m, seqs)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s/%s, block %d: logit %d is %v lowered, %v not", tc.format, tc.precision, block, i, got[i], want[i])
				}
			}
		}
	}
}

func hasOp(m *infer.Model, name string) bool {
	for _, f := range m.Module.Funcs {
		for _, op := range f.Body {
			if op.Name == name {
				return true
			}
		}
	}
	return false
}

// logitsOf concatenates the full forward pass's logits, those of a prefill
// of all but the last three tokens followed by three decode steps, and the
// tokens and acceptance counts of an MTP speculative run (whose drafts come
// from the lowered mtp_prefill/mtp_decode).
func logitsOf(t *testing.T, m *infer.Model, seqs [][]int) []float32 {
	t.Helper()
	var out []float32
	add := func(l infer.Logits) {
		for _, s := range l.Rows {
			for _, r := range s {
				out = append(out, r...)
			}
		}
	}
	l, err := m.Forward(seqs)
	if err != nil {
		t.Fatal(err)
	}
	add(l)
	c, err := m.NewCache(64)
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{0, 1}
	n := len(seqs[0]) - 3
	var heads [][]int
	for _, s := range seqs {
		heads = append(heads, s[:n])
	}
	if l, err = m.Prefill(c, ids, heads); err != nil {
		t.Fatal(err)
	}
	add(l)
	for j := n; j < len(seqs[0]); j++ {
		if l, err = m.Decode(c, ids, []int{seqs[0][j], seqs[1][j]}); err != nil {
			t.Fatal(err)
		}
		add(l)
	}
	gen, _, spec, err := m.GenerateSpeculative(seqs, infer.GenerateOptions{MaxTokens: 5, EOS: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gen {
		for _, id := range g {
			out = append(out, float32(id))
		}
	}
	out = append(out, float32(spec.Accepted), float32(spec.Drafted))
	return out
}
