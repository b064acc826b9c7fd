package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// swigluFuse builds the swiglu-fuse example plugin into a test directory.
func swigluFuse(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "swiglu-fuse")
	if out, err := exec.Command("go", "build", "-o", bin, "../../plugins/examples/swiglu-fuse").CombinedOutput(); err != nil {
		t.Fatalf("building swiglu-fuse: %v\n%s", err, out)
	}
	return bin
}

// A composite op from a plugin, end to end: the compiled IR declares it,
// the CPU runs it (full pass and prefill + cached decode) with logits equal
// to the bit, the gradients through it equal the unfused model's to the
// bit, and a GPU bundle builds with it (planned as one region, then
// inlined for codegen).
func TestCompositeFromPlugin(t *testing.T) {
	sw := swigluFuse(t)
	ir := mustDeepc(t, "compile", tinyModel, "--plugin", sw, "--emit", "ir")
	for _, want := range []string{"composite @swiglu_bf16_2d(%g: [D0, D1] bf16", "composite @swiglu_bf16_3d(", "= swiglu_bf16_3d "} {
		if !strings.Contains(ir, want) {
			t.Errorf("compiled IR lacks %q", want)
		}
	}
	dir := writeCheckpoint(t, nil, "fp8", 1, 43)
	seqs := [][]int{{1, 17, 301, 42, 7, 499}, {3, 3, 250, 9, 120, 64}}
	for _, extra := range [][]string{nil, {"--prefill", "3"}} {
		_, want := runForward(t, dir, seqs, extra...)
		_, got := runForward(t, dir, seqs, append([]string{"--plugin", sw}, extra...)...)
		if !slices.Equal(got, want) {
			t.Errorf("%v: logits with swiglu-fuse differ from the model's (relative %.3g)", extra, maxRelErrFlat(got, want))
		}
	}
	grads := func(extra ...string) []byte {
		out := filepath.Join(t.TempDir(), "g.safetensors")
		mustDeepc(t, append([]string{"grad", tinyModel, "--checkpoint", dir, "--tokens", "1 17 301 42 7 499", "--out", out}, extra...)...)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(grads("--plugin", sw), grads()) {
		t.Error("gradients with swiglu-fuse differ from the model's")
	}
	compileBundle(t, "prefill,decode", "--plugin", sw)
}
