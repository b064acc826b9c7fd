package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// deepc run --device emu runs the bundle's PTX on the emulator, sanitizer
// on: the tiny model's logits (whole sequences, and prefill then decode)
// and greedy generation equal the CPU's in the precision the kernels
// compute, and a training step takes the CPU's step to FP8's noise.
func TestRunBundleOnEmulator(t *testing.T) {
	t.Parallel() // one of the package's slow tests: they overlap at its end
	ck := writeCheckpoint(t, nil, "fp8", 1, 7)
	b := compileBundle(t, "forward,prefill,decode,train", "--no-ptxas")
	tokens := "5 9 200 17 3 44,1 2 3 4 5 6"
	for _, extra := range [][]string{nil, {"--prefill", "3"}} {
		logits := map[string][]float32{}
		for _, dev := range []string{"cpu", "emu"} {
			out := filepath.Join(t.TempDir(), dev+".npy")
			mustDeepc(t, append([]string{"run", b, "--checkpoint", ck, "--tokens", tokens, "--out", out, "--device", dev, "--precision", "fp8"}, extra...)...)
			_, logits[dev] = readNPY(t, out)
		}
		// The kernels compute what the CPU does, bit for bit, except that
		// sigmoid and exp go through ex2.approx, whose last bit may differ
		// from the CPU's exp — and a near tie in MoE routing can then pick
		// another expert for a token. So most positions must be identical.
		V := 512
		identical, n := 0, len(logits["cpu"])/V
		for p := 0; p < n; p++ {
			if slices.Equal(logits["emu"][p*V:(p+1)*V], logits["cpu"][p*V:(p+1)*V]) {
				identical++
			}
		}
		if identical*4 < n*3 {
			t.Fatalf("run %v: %d of %d positions' logits equal the CPU's (relative error %g)", extra, identical, n, maxRelErrFlat(logits["emu"], logits["cpu"]))
		}
		t.Logf("run %v: %d of %d positions bit-identical", extra, identical, n)
	}
	gen := map[string]string{}
	for _, dev := range []string{"cpu", "emu"} {
		gen[dev] = mustDeepc(t, "run", b, "--checkpoint", ck, "--tokens", "5 9 200 17", "--generate", "4", "--device", dev, "--precision", "fp8")
	}
	if gen["emu"] != gen["cpu"] {
		t.Fatalf("generated %q on the emulator, %q on the CPU", gen["emu"], gen["cpu"])
	}
	losses := map[string][2]float64{}
	for _, dev := range []string{"cpu", "emu"} {
		out := mustDeepc(t, "run", b, "--checkpoint", ck, "--tokens", "5 9 200 17 3 44 8 1,1 2 3 4 5 6 7 8", "--train-steps", "1", "--device", dev)
		var step int
		var l [2]float64
		if _, err := fmt.Sscanf(strings.TrimSpace(out), "step %d loss %f grad_norm %f", &step, &l[0], &l[1]); err != nil {
			t.Fatalf("%s: train-steps printed %q", dev, out)
		}
		losses[dev] = l
	}
	for i, what := range []string{"loss", "gradient norm"} {
		e, c := losses["emu"][i], losses["cpu"][i]
		if d := (e - c) / c; d > 2e-2 || d < -2e-2 {
			t.Errorf("training step: %s %g on the emulator, %g on the CPU", what, e, c)
		}
	}
	t.Logf("training step: loss and gradient norm %v on the emulator, %v on the CPU", losses["emu"], losses["cpu"])
}

// A defect in a bundle's kernel stops run --device emu with exit status 1
// and the sanitizer's report; --sanitize=false only computes.
func TestRunEmulatorReportsDefects(t *testing.T) {
	ck := writeCheckpoint(t, nil, "fp8", 1, 7)
	b := compileBundle(t, "forward", "--no-ptxas")
	// Drop the barrier between writing and reading a block reduction's
	// warp slots in every kernel that has one, and re-hash the bundle.
	re := regexp.MustCompile(`(st\.shared\.f32\s+\[%rd\d+\], %f\d+;\s*\n\$L__BB0_\d+:[^\n]*\n)\s*bar\.sync\s+0;`)
	man := map[string]any{}
	raw, err := os.ReadFile(filepath.Join(b, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatal(err)
	}
	files := man["files"].(map[string]any)
	changed := 0
	for rel := range files {
		if !strings.HasSuffix(rel, ".ptx") {
			continue
		}
		p := filepath.Join(b, rel)
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		mut := re.ReplaceAll(src, []byte("$1"))
		if string(mut) == string(src) {
			continue
		}
		changed++
		if err := os.WriteFile(p, mut, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(mut)
		files[rel] = hex.EncodeToString(sum[:])
	}
	if changed == 0 {
		t.Fatal("no kernel has the block reduction the test mutates")
	}
	raw, _ = json.MarshalIndent(man, "", "  ")
	if err := os.WriteFile(filepath.Join(b, "manifest.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", b, "--checkpoint", ck, "--tokens", "5 9 200 17", "--out", filepath.Join(t.TempDir(), "l.npy"), "--device", "emu"}
	code, _, errOut := deepc(t, args...)
	if code != 1 || !strings.Contains(errOut, "sanitizer:") || !regexp.MustCompile(`\.ptx:\d+: `).MatchString(errOut) || !strings.Contains(errOut, "of CTA (") {
		t.Fatalf("exit %d, want 1 and a sanitizer report naming the PTX line and the CTA:\n%s", code, errOut)
	}
	t.Logf("the report:\n%s", errOut)
	mustDeepc(t, append(args, "--sanitize=false")...)
}
