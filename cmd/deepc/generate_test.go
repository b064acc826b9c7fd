package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/infer"
)

func loadTiny(t *testing.T, dir string) *infer.Model {
	t.Helper()
	l := driver.Load{File: tinyModel, Checkpoint: dir, Mode: cpu.FP32, Pipeline: passes.InferencePipeline}
	m, err := l.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Greedy decoding over the cache picks, at every step, the argmax of a full
// forward pass over the prompt and what was generated so far.
func TestGreedyGenerationMatchesForward(t *testing.T) {
	m := loadTiny(t, writeCheckpoint(t, nil, "fp8", 1, 21))
	prompts := [][]int{{1, 2, 3}, {40, 41, 42, 43, 44}}
	gen, st, err := m.Generate(prompts, infer.GenerateOptions{MaxTokens: 6, EOS: -1})
	if err != nil {
		t.Fatal(err)
	}
	if st.PrefillTokens != 8 || st.DecodeTokens != 10 {
		t.Errorf("stats %+v, want 8 prefill and 10 decode tokens", st)
	}
	for i, p := range prompts {
		seq := slices.Clone(p)
		for step, id := range gen[i] {
			l, err := m.Forward([][]int{seq})
			if err != nil {
				t.Fatal(err)
			}
			last := l.Rows[0][len(seq)-1]
			if want := infer.Argmax(last); id != want {
				t.Fatalf("prompt %d step %d: generated %d, forward's argmax is %d", i, step, id, want)
			}
			seq = append(seq, id)
		}
	}
	// The same prompt alone gives the same tokens as in the batch.
	alone, _, err := m.Generate(prompts[1:], infer.GenerateOptions{MaxTokens: 6, EOS: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(alone[0], gen[1]) {
		t.Errorf("batched %v, alone %v", gen[1], alone[0])
	}
}

func TestSamplingAndStop(t *testing.T) {
	m := loadTiny(t, writeCheckpoint(t, nil, "bf16", 1, 22))
	p := [][]int{{5, 6, 7}}
	run := func(s infer.Sampling, eos int) []int {
		g, _, err := m.Generate(p, infer.GenerateOptions{MaxTokens: 12, Sampling: s, EOS: eos})
		if err != nil {
			t.Fatal(err)
		}
		return g[0]
	}
	a := run(infer.Sampling{Temperature: 1, Seed: 9}, -1)
	b := run(infer.Sampling{Temperature: 1, Seed: 9}, -1)
	c := run(infer.Sampling{Temperature: 1, Seed: 10}, -1)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different tokens: %v vs %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 9 and 10 gave the same 12 tokens %v", a)
	}
	// A tiny top-p keeps only the most likely token: greedy.
	if g, n := run(infer.Sampling{Temperature: 1, TopP: 1e-9, Seed: 1}, -1), run(infer.Sampling{}, -1); !slices.Equal(g, n) {
		t.Errorf("top-p 1e-9 %v differs from greedy %v", g, n)
	}
	// Generation stops at EOS, which is kept.
	greedy := run(infer.Sampling{}, -1)
	stop := run(infer.Sampling{}, greedy[3])
	if i := slices.Index(greedy, greedy[3]); len(stop) != i+1 || stop[i] != greedy[3] {
		t.Errorf("with EOS %d: %v (greedy %v)", greedy[3], stop, greedy)
	}
}

func TestGenerateCLI(t *testing.T) {
	dir := t.TempDir()
	mustDeepc(t, "init", tinyModel, "--out", dir, "--seed", "4")
	code, out, errOut := deepc(t, "generate", tinyModel, "--checkpoint", dir, "--prompt", "hi", "--max-tokens", "5")
	if code != 0 || !strings.HasPrefix(out, "hi") || !strings.Contains(errOut, "decode:") || !strings.Contains(errOut, "tokens/s") {
		t.Fatalf("exit %d\nstdout %q\nstderr %s", code, out, errOut)
	}
	_, out, _ = deepc(t, "generate", tinyModel, "--checkpoint", dir, "--prompt", "a", "--prompt", "b", "--max-tokens", "3")
	if !strings.Contains(out, "[1] a") || !strings.Contains(out, "[2] b") {
		t.Errorf("batched output %q", out)
	}
	if code, _, errOut := deepc(t, "generate", tinyModel, "--checkpoint", dir, "--prompt", "a", "--top-p", "2"); code != 1 || !strings.Contains(errOut, "top-p") {
		t.Errorf("bad --top-p: exit %d %s", code, errOut)
	}
	// Hostile sizes and numbers (issue 15): an error, not a panic or an
	// allocation of the whole machine.
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--max-tokens", "9223372036854775807"}, "more than the model's 1024 positions"},
		{[]string{"--max-tokens", "100000000000"}, "more than the model's 1024 positions"},
		{[]string{"--max-tokens", "-3"}, "-3 tokens"},
		{[]string{"--temperature", "NaN"}, "temperature NaN"},
		{[]string{"--top-p", "NaN"}, "top-p NaN"},
	} {
		code, _, errOut := deepc(t, append([]string{"generate", tinyModel, "--checkpoint", dir, "--prompt", "a"}, c.flags...)...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q, want exit 1 naming %q", c.flags, code, errOut, c.want)
		}
	}
}

// MTP speculative decoding emits exactly what plain greedy decoding does
// (every token is the main model's choice), with drafts counted.
func TestSpeculativeGreedyEqualsGreedy(t *testing.T) {
	m := loadTiny(t, writeCheckpoint(t, nil, "fp8", 1, 23))
	prompts := [][]int{{1, 2, 3}, {40, 41, 42, 43, 44}, {9}}
	o := infer.GenerateOptions{MaxTokens: 9, EOS: -1}
	want, _, err := m.Generate(prompts, o)
	if err != nil {
		t.Fatal(err)
	}
	got, st, sp, err := m.GenerateSpeculative(prompts, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range prompts {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("prompt %d: speculative %v, greedy %v", i, got[i], want[i])
		}
	}
	if sp.Drafted == 0 || sp.Accepted > sp.Drafted || st.DecodeTokens != 3*9-3 {
		t.Errorf("speculation %+v, decode tokens %d", sp, st.DecodeTokens)
	}
	t.Logf("random weights: %d of %d drafts accepted", sp.Accepted, sp.Drafted)
	// An EOS stops the sequence, inside an accepted pair or not.
	eos := want[1][4]
	o.EOS = eos
	gotEOS, _, _, err := m.GenerateSpeculative(prompts[1:2], o)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.Index(want[1], eos); !slices.Equal(gotEOS[0], want[1][:i+1]) {
		t.Errorf("with EOS %d: %v, want %v", eos, gotEOS[0], want[1][:i+1])
	}
}

// With the final norms zeroed, main model and MTP both always choose token
// 0: every draft is accepted and each main step yields two tokens.
func TestSpeculativeAllAccepted(t *testing.T) {
	m := loadTiny(t, writeCheckpoint(t, nil, "f32", 1, 24))
	for _, name := range []string{"model.norm.weight", "model.layers.4.shared_head.norm.weight"} {
		p, ok := m.Params[name]
		if !ok {
			t.Fatalf("no param %s", name)
		}
		clear(p.F)
	}
	o := infer.GenerateOptions{MaxTokens: 7, EOS: -1}
	got, _, sp, err := m.GenerateSpeculative([][]int{{3, 4}}, o)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[0], []int{0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("generated %v, want seven 0s", got[0])
	}
	// 1 token from prefill, then 3 steps of 2.
	if sp.Drafted != 3 || sp.Accepted != 3 {
		t.Errorf("speculation %+v, want 3 of 3 accepted", sp)
	}
}

// run's counts are checked before the bundle is opened (issue 15:
// --generate -5 panicked).
func TestRunRefusesNegativeCounts(t *testing.T) {
	for _, flag := range []string{"--generate", "--train-steps", "--prefill"} {
		code, _, errOut := deepc(t, "run", t.TempDir(), "--checkpoint", t.TempDir(), "--tokens", "1 2", flag, "-5")
		if code != 1 || !strings.Contains(errOut, flag+" -5: want 0 or more") {
			t.Errorf("%s -5: exit %d %q", flag, code, errOut)
		}
	}
}
