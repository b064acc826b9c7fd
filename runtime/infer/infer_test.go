package infer_test

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// tiny is the tiny DeepSeek-V3 compiled for inference (the CPU's
// pipeline) with a random f32 checkpoint.
func tiny(t *testing.T) *infer.Model {
	t.Helper()
	file := filepath.Join("..", "..", "models", "deepseek_v3_tiny.deep")
	m, err := dsl.CompileFile(file, dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := weights.RandomCheckpoint(m, dir, 11, "f32", 1); err != nil {
		t.Fatal(err)
	}
	m, err = dsl.CompileFile(file, dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := passes.ParsePipeline(passes.InferencePipeline)
	if err != nil {
		t.Fatal(err)
	}
	if err := passes.Run(&passes.Context{Options: map[string]string{"moe-block": "1"}}, m, pl); err != nil {
		t.Fatal(err)
	}
	params, err := weights.Load(infer.Stored(m), dir, weights.IgnoreTensors(models.CheckpointCopy))
	if err != nil {
		t.Fatal(err)
	}
	if err := infer.BindDerived(m, params); err != nil {
		t.Fatal(err)
	}
	return &infer.Model{Module: m, Params: params, Opts: cpu.Options{Mode: cpu.FP32, Wide: true}}
}

func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(num / den)
}

// The cache: prefill then decode gives the whole-sequence logits at every
// position (two sequences sharing the cache), and a sequence truncated
// back to a prefix continues as if it had only ever held that prefix.
func TestCacheMatchesForward(t *testing.T) {
	m := tiny(t)
	seqs := [][]int{{5, 9, 200, 17, 3, 44}, {1, 2, 3, 4, 5, 6}}
	want, err := m.Forward(seqs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.NewCache(32)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Prefill(c, []int{0, 1}, [][]int{seqs[0][:3], seqs[1][:2]})
	if err != nil {
		t.Fatal(err)
	}
	rows := [][][]float32{got.Rows[0], got.Rows[1]}
	for p := 3; p < 6; p++ {
		ids, toks := []int{0, 1}, []int{seqs[0][p], seqs[1][p-1]}
		l, err := m.Decode(c, ids, toks)
		if err != nil {
			t.Fatal(err)
		}
		rows[0], rows[1] = append(rows[0], l.Rows[0][0]), append(rows[1], l.Rows[1][0])
	}
	for s := range seqs {
		for p := range rows[s] {
			if e := relErr(rows[s][p], want.Rows[s][p]); e > 1e-5 {
				t.Fatalf("sequence %d position %d: cached logits %.2e off the whole-sequence ones", s, p, e)
			}
		}
	}
	if c.Len(0) != 6 || c.Len(1) != 5 {
		t.Fatalf("cache lengths %d, %d; want 6, 5", c.Len(0), c.Len(1))
	}
	// Truncate sequence 0 to 2 tokens and feed another third token.
	c.Truncate(0, 2)
	alt := []int{5, 9, 77}
	l, err := m.Decode(c, []int{0}, []int{77})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := m.Forward([][]int{alt})
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(l.Rows[0][0], w2.Rows[0][2]); e > 1e-5 {
		t.Fatalf("after Truncate: %.2e off", e)
	}
	c.Release(1)
	if c.Len(1) != 0 {
		t.Fatalf("Release left %d tokens", c.Len(1))
	}
}

// Greedy generation takes the argmax of the model's logits at each step;
// speculative decoding (MTP drafts) emits the same tokens; an EOS stops a
// sequence (and is kept); sampling with a seed is reproducible.
func TestGenerate(t *testing.T) {
	m := tiny(t)
	prompts := [][]int{{5, 9, 200, 17}, {1, 2}}
	gen, _, err := m.Generate(prompts, infer.GenerateOptions{MaxTokens: 4, EOS: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		seq := slices.Clone(p)
		for j, tok := range gen[i] {
			l, err := m.Forward([][]int{seq})
			if err != nil {
				t.Fatal(err)
			}
			if want := infer.Argmax(l.Rows[0][len(seq)-1]); tok != want {
				t.Fatalf("prompt %d token %d: generated %d, argmax %d", i, j, tok, want)
			}
			seq = append(seq, tok)
		}
	}
	spec, _, stats, err := m.GenerateSpeculative(prompts, infer.GenerateOptions{MaxTokens: 4, EOS: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(spec, gen, slices.Equal[[]int]) {
		t.Fatalf("speculative decoding generated %v, plain %v", spec, gen)
	}
	t.Logf("MTP drafts accepted: %.2f", stats.AcceptanceRate())
	eos := gen[0][1]
	stop, _, err := m.Generate(prompts[:1], infer.GenerateOptions{MaxTokens: 4, EOS: eos})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stop[0], gen[0][:2]) {
		t.Fatalf("with EOS %d: %v, want %v", eos, stop[0], gen[0][:2])
	}
	s := infer.Sampling{Temperature: 0.8, TopP: 0.9, Seed: 3}
	a, _, err := m.Generate(prompts, infer.GenerateOptions{MaxTokens: 5, EOS: -1, Sampling: s})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := m.Generate(prompts, infer.GenerateOptions{MaxTokens: 5, EOS: -1, Sampling: s})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(a, b, slices.Equal[[]int]) {
		t.Fatalf("sampling with one seed: %v then %v", a, b)
	}
	if _, _, err := m.Generate([][]int{{}}, infer.GenerateOptions{MaxTokens: 1}); err == nil {
		t.Fatal("an empty prompt was accepted")
	}
}

func TestArgmaxTies(t *testing.T) {
	if got := infer.Argmax([]float32{1, 3, 2, 3}); got != 1 {
		t.Fatalf("Argmax = %d, want the lowest of the tied 1 and 3", got)
	}
}

// PrefillDecode gives the whole-sequence logits at every position, from a
// prefill of any length (0: decode only; all: prefill only), and times one
// decode step per decoded position.
func TestPrefillDecodeMatchesForward(t *testing.T) {
	m := tiny(t)
	seqs := [][]int{{5, 9, 200, 17}, {1, 2, 3, 4}}
	want, err := m.Forward(seqs)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 2, 4} {
		got, pt, err := m.PrefillDecode(seqs, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(pt.Decode) != 4-n || (n > 0) != (pt.Prefill > 0) {
			t.Errorf("prefill %d: %d decode times, prefill time %v", n, len(pt.Decode), pt.Prefill)
		}
		for s := range seqs {
			if len(got.Rows[s]) != 4 {
				t.Fatalf("prefill %d: sequence %d has %d positions", n, s, len(got.Rows[s]))
			}
			for p := range got.Rows[s] {
				if e := relErr(got.Rows[s][p], want.Rows[s][p]); e > 1e-5 {
					t.Fatalf("prefill %d: sequence %d position %d: %.2e off the whole-sequence logits", n, s, p, e)
				}
			}
		}
	}
}

// Options and sizes from input are refused with an error before anything
// is allocated (issue 15: --max-tokens 2^63−1 panicked, 1e8 asked for the
// whole cache up front, NaN temperatures were accepted).
func TestGenerateRefusesBadOptions(t *testing.T) {
	m := tiny(t)
	prompts := [][]int{{1, 2, 3}, {4, 5}}
	for _, c := range []struct {
		o    infer.GenerateOptions
		want string
	}{
		{infer.GenerateOptions{MaxTokens: -5}, "-5 tokens"},
		{infer.GenerateOptions{MaxTokens: math.MaxInt}, "model's 1024 positions"},
		{infer.GenerateOptions{MaxTokens: math.MaxInt / 4}, "model's 1024 positions"},
		{infer.GenerateOptions{MaxTokens: 1 << 40}, "model's 1024 positions"},
		{infer.GenerateOptions{MaxTokens: 1022}, "model's 1024 positions"},
		{infer.GenerateOptions{MaxTokens: 3, Sampling: infer.Sampling{Temperature: math.NaN()}}, "temperature NaN"},
		{infer.GenerateOptions{MaxTokens: 3, Sampling: infer.Sampling{Temperature: -1}}, "temperature -1"},
		{infer.GenerateOptions{MaxTokens: 3, Sampling: infer.Sampling{TopP: math.NaN()}}, "top-p NaN"},
		{infer.GenerateOptions{MaxTokens: 3, Sampling: infer.Sampling{TopP: 1.5}}, "top-p 1.5"},
	} {
		if _, _, err := m.Generate(prompts, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Generate %+v: %v, want an error with %q", c.o, err, c.want)
		}
		if _, _, _, err := m.GenerateSpeculative(prompts, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("GenerateSpeculative %+v: %v, want an error with %q", c.o, err, c.want)
		}
	}
	// Within the positions, the cache is held to the memory budget.
	runtime.SetMemoryBudget(64 << 10)
	_, _, err := m.Generate(prompts, infer.GenerateOptions{MaxTokens: 1000})
	runtime.SetMemoryBudget(0)
	if err == nil || !strings.Contains(err.Error(), "KV cache of 2005 tokens") || !strings.Contains(err.Error(), "memory budget of 64.0 KiB (--max-memory)") {
		t.Errorf("a cache over the budget: %v", err)
	}
	// A long input is held to the budget before the run allocates: the
	// peak of its live values is estimated from the argument sizes.
	long := make([]int, 4096)
	runtime.SetMemoryBudget(16 << 20)
	_, err = m.Forward([][]int{long})
	runtime.SetMemoryBudget(0)
	if err == nil || !strings.Contains(err.Error(), "func @forward with T=4096 needs") || !strings.Contains(err.Error(), "memory budget of 16.0 MiB") {
		t.Errorf("a forward over the budget: %v", err)
	}
	if _, _, err := m.Generate([][]int{{1}, {}}, infer.GenerateOptions{MaxTokens: 2}); err == nil || !strings.Contains(err.Error(), "prompt 2 is empty") {
		t.Errorf("empty prompt: %v", err)
	}
}
