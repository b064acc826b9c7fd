package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/device"
)

// compileBundle writes the tiny model's bundle for sm_90a (every kernel
// through llc and ptxas, or from the kernel cache).
func compileBundle(t *testing.T, graphs string, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "tiny.bundle")
	mustDeepc(t, append([]string{"compile", tinyModel, "--target", "sm_90a", "--graph", graphs, "-o", out}, extra...)...)
	return out
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[rel], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestBundleIsDeterministicAndVerified(t *testing.T) {
	t.Parallel() // one of the package's slow tests: they overlap at its end
	// One compile runs the tools on every kernel, the other may take them
	// from the kernel cache: the bundles are the same bytes.
	a, b := compileBundle(t, "prefill,decode", "--no-cache"), compileBundle(t, "prefill,decode")
	fa, fb := readTree(t, a), readTree(t, b)
	if len(fa) < 10 {
		t.Fatalf("bundle has %d files", len(fa))
	}
	for p, data := range fa {
		if !bytes.Equal(data, fb[p]) {
			t.Errorf("%s differs between two compiles", p)
		}
	}
	var cubins int
	for p := range fa {
		if strings.HasSuffix(p, ".cubin") {
			cubins++
		}
	}
	if cubins == 0 {
		t.Fatal("no cubins in the bundle")
	}
	if out := mustDeepc(t, "bundle", "verify", a, "--target", "sm_90a"); !strings.Contains(out, "ok") {
		t.Fatalf("verify: %s", out)
	}
	list := mustDeepc(t, "kernels", a)
	for _, want := range []string{"gemm", "pointwise", "rows", "movement", "REGS"} {
		if !strings.Contains(list, want) {
			t.Errorf("deepc kernels lacks %q:\n%s", want, list)
		}
	}

	// Every kind of tampering is refused before anything loads.
	var ptx string
	for p := range fa {
		if strings.HasSuffix(p, ".ptx") {
			ptx = p
			break
		}
	}
	cases := []struct {
		name, want string
		edit       func(dir string)
	}{
		{"modified kernel", "SHA-256", func(d string) {
			os.WriteFile(filepath.Join(d, ptx), append(fa[ptx], ' '), 0o644)
		}},
		{"missing kernel", "missing", func(d string) { os.Remove(filepath.Join(d, ptx)) }},
		{"extra file", "not in the manifest", func(d string) { os.WriteFile(filepath.Join(d, "kernels", "evil.ptx"), []byte("x"), 0o644) }},
		{"format version", "format version", func(d string) {
			m := bytes.Replace(fa["manifest.json"], []byte(`"format_version": 1`), []byte(`"format_version": 99`), 1)
			os.WriteFile(filepath.Join(d, "manifest.json"), m, 0o644)
		}},
		{"target", "built for sm_80", func(d string) {
			m := bytes.Replace(fa["manifest.json"], []byte(`"target": "sm_90a"`), []byte(`"target": "sm_80"`), 1)
			os.WriteFile(filepath.Join(d, "manifest.json"), m, 0o644)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "b")
			for p, data := range fa {
				os.MkdirAll(filepath.Dir(filepath.Join(d, p)), 0o755)
				os.WriteFile(filepath.Join(d, p), data, 0o644)
			}
			tc.edit(d)
			cmds := [][]string{{"bundle", "verify", d, "--target", "sm_90a"}}
			if tc.name != "target" { // a bundle for another GPU is still readable
				cmds = append(cmds, []string{"kernels", d}, []string{"run", d, "--checkpoint", d, "--tokens", "1 2", "--out", filepath.Join(d, "x.npy")})
			}
			for _, args := range cmds {
				code, _, errOut := deepc(t, args...)
				if code != 1 || !strings.Contains(errOut, tc.want) {
					t.Errorf("%v: exit %d, stderr %q (want %q)", args, code, errOut, tc.want)
				}
			}
		})
	}
}

func TestRunBundleOnCPUMatchesForward(t *testing.T) {
	ck := writeCheckpoint(t, nil, "fp8", 1, 7)
	b := compileBundle(t, "prefill,decode")
	seqs := [][]int{{5, 9, 200, 17, 3, 44}, {1, 2, 3, 4, 5, 6}}
	for _, extra := range [][]string{nil, {"--prefill", "3"}} {
		_, want := runForward(t, ck, seqs, append([]string{"--precision", "bf16"}, extra...)...)
		out := filepath.Join(t.TempDir(), "run.npy")
		args := append([]string{"run", b, "--checkpoint", ck, "--tokens", "5 9 200 17 3 44,1 2 3 4 5 6", "--out", out, "--precision", "bf16"}, extra...)
		mustDeepc(t, args...)
		_, got := readNPY(t, out)
		if !slices.Equal(got, want) {
			t.Fatalf("run %v: logits differ from forward's (relative error %g)", extra, maxRelErrFlat(got, want))
		}
	}
	code, _, errOut := deepc(t, "run", b, "--checkpoint", ck, "--tokens", "1 2", "--out", filepath.Join(t.TempDir(), "x.npy"), "--device", "cuda")
	if code != 1 || !strings.Contains(errOut, "--device cpu") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Fatalf("--device cuda without a GPU: exit %d, %q (want one line suggesting --device cpu)", code, errOut)
	}
}

func maxRelErrFlat(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(num / max(den, 1e-30))
}

// gpu-check's harness, run with the CPU backend in the GPU's place: every
// kernel row and both model rows pass, and the table lists every kind.
func TestGPUCheckHarnessOnCPU(t *testing.T) {
	t.Parallel() // one of the package's slow tests: they overlap at its end
	ck := writeCheckpoint(t, nil, "fp8", 1, 11)
	out := filepath.Join(t.TempDir(), "b")
	mustDeepc(t, "compile", tinyModel, "--target", "sm_90a", "--graph", "forward,prefill,decode,train", "-o", out, "--no-ptxas")
	table := mustDeepc(t, "gpu-check", out, "--checkpoint", ck, "--device", "cpu", "--batch", "1", "--seq", "6")
	if strings.Contains(table, "**NO**") {
		t.Fatalf("gpu-check flagged a kernel with the CPU standing in for the GPU:\n%s", table)
	}
	for _, kind := range []string{"| gemm |", "| attention |", "| dispatch |", "| combine |", "| routing |", "| rope |", "| rows |", "| movement |", "| pointwise |", "| optimizer |", "| quantize |", "| attention_grad |", "forward logits", "decode", "training step"} {
		if !strings.Contains(table, kind) {
			t.Errorf("table lacks %q:\n%s", kind, table)
		}
	}

	// A kernel whose launch fails (a fault on the GPU) stops its phase,
	// which still prints the rows it has, the failing kernel's marked.
	programs := bundlePrograms(t, out)
	fwd := programs["forward"]
	victim := fwd[len(fwd)/2].Kernel
	code, table, errOut := deepc(t, "gpu-check", out, "--checkpoint", ck, "--device", "cpu", "--batch", "1", "--seq", "6", "--phases", "forward", "--fail-kernel", victim)
	if code != 1 || !strings.Contains(errOut, "forward (checked)") || !strings.Contains(errOut, "CUDA_ERROR_ILLEGAL_ADDRESS") {
		t.Errorf("failing kernel: exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(table, "| "+victim+" |") || !strings.Contains(table, "launch failed: CUDA_ERROR_ILLEGAL_ADDRESS") || !strings.Contains(table, "| yes |") {
		t.Errorf("the table of a stopped phase lacks the failing kernel %s or the ones before it:\n%s", victim, table)
	}
	// Phases run alone: the model check has no kernel table.
	table = mustDeepc(t, "gpu-check", out, "--checkpoint", ck, "--device", "cpu", "--batch", "1", "--seq", "6", "--phases", "model")
	if strings.Contains(table, "| kernel |") || !strings.Contains(table, "forward logits") || !strings.Contains(table, "training step") {
		t.Errorf("--phases model:\n%s", table)
	}
	if code, _, errOut := deepc(t, "gpu-check", out, "--checkpoint", ck, "--device", "cpu", "--phases", "kernels"); code != 1 || !strings.Contains(errOut, `unknown phase "kernels"`) {
		t.Errorf("unknown phase: exit %d, %q", code, errOut)
	}
}

// run --generate is greedy decoding over the bundle's prefill/decode
// programs: each generated token is the argmax of the logits the bundle's
// forward program gives for the sequence so far; run --train-steps trains
// from the checkpoint (the loss on a repeated batch falls).
func TestRunGenerateAndTrain(t *testing.T) {
	ck := writeCheckpoint(t, nil, "fp8", 1, 5)
	b := compileBundle(t, "forward,prefill,decode,train", "--no-ptxas")
	prompt := []int{5, 9, 200, 17}
	out := mustDeepc(t, "run", b, "--checkpoint", ck, "--tokens", strings.Trim(fmt.Sprint(prompt), "[]"), "--generate", "3", "--precision", "fp32")
	var gen []int
	for _, f := range strings.Fields(out) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("generate printed %q", out)
		}
		gen = append(gen, n)
	}
	if len(gen) != 3 {
		t.Fatalf("generated %v, want 3 tokens", gen)
	}
	seq := append(append([]int(nil), prompt...), gen[:2]...)
	npyOut := filepath.Join(t.TempDir(), "l.npy")
	mustDeepc(t, "run", b, "--checkpoint", ck, "--tokens", strings.Trim(fmt.Sprint(seq), "[]"), "--out", npyOut, "--precision", "fp32")
	shape, logits := readNPY(t, npyOut)
	V := shape[2]
	for j := 0; j < 3; j++ {
		row := logits[(len(prompt)-1+j)*V:][:V]
		best := 0
		for i, v := range row {
			if v > row[best] {
				best = i
			}
		}
		if best != gen[j] {
			t.Fatalf("token %d: generated %d, forward's argmax %d", j, gen[j], best)
		}
	}

	steps := mustDeepc(t, "run", b, "--checkpoint", ck, "--tokens", "5 9 200 17 3 44 8 1,1 2 3 4 5 6 7 8", "--train-steps", "3", "--lr", "3e-3")
	var losses []float64
	for _, line := range strings.Split(strings.TrimSpace(steps), "\n") {
		var step int
		var loss, norm float64
		if _, err := fmt.Sscanf(line, "step %d loss %f grad_norm %f", &step, &loss, &norm); err != nil {
			t.Fatalf("train-steps printed %q", line)
		}
		losses = append(losses, loss)
	}
	if len(losses) != 3 || !(losses[2] < losses[0]) {
		t.Fatalf("losses %v: want 3 falling", losses)
	}
}

// bundlePrograms opens a bundle and reads its programs.
func bundlePrograms(t *testing.T, dir string) map[string][]program.Step {
	t.Helper()
	man, err := bundle.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	programs, err := device.Programs(man)
	if err != nil {
		t.Fatal(err)
	}
	return programs
}

func TestCompileTargetErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--target", "sm_80", "-o", filepath.Join(t.TempDir(), "b")}, "need sm_90a"},
		{[]string{"--target", "sm_90a"}, "needs -o DIR"},
		{[]string{"--target", "sm_90a", "--graph", "nope", "-o", filepath.Join(t.TempDir(), "b")}, "--graph nope: no such function"},
	} {
		code, _, errOut := deepc(t, append([]string{"compile", tinyModel}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q (want %q)", tc.args, code, errOut, tc.want)
		}
	}
}
