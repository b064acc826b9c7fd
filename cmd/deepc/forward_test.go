package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/internal/reference"
	"github.com/deepc-dev/deepc/runtime/npy"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// writeCheckpoint compiles the tiny model with sets, and writes its
// config.json and random weights in the given format and shard count.
func writeCheckpoint(t *testing.T, sets []string, format string, shards int, seed int64) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := driver.RandomCheckpoint(tinyModel, sets, dir, seed, format, shards, false); err != nil {
		t.Fatal(err)
	}
	return dir
}

// referenceWeights reads every checkpoint tensor as float64, dequantising
// FP8 tensors with their weight_scale_inv, for the float64 oracle.
func referenceWeights(t *testing.T, dir string) (reference.Config, reference.Weights) {
	t.Helper()
	cfgJSON, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := reference.ConfigFromHF(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, rawWeights(t, dir)
}

// rawWeights reads every checkpoint tensor as float64 (FP8 dequantised).
func rawWeights(t *testing.T, dir string) reference.Weights {
	t.Helper()
	c, err := weights.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := reference.Weights{}
	names := map[string]bool{}
	for _, n := range c.Names() {
		names[n] = true
	}
	for n := range names {
		if strings.HasSuffix(n, "_scale_inv") {
			continue
		}
		x, err := c.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]float64, len(x.F))
		for i, v := range x.F {
			vals[i] = float64(v)
		}
		if names[n+"_scale_inv"] {
			s, err := c.Tensor(n + "_scale_inv")
			if err != nil {
				t.Fatal(err)
			}
			sc := make([]float64, len(s.F))
			for i, v := range s.F {
				sc[i] = float64(v)
			}
			vals = reference.Dequant(vals, sc, x.Shape[0], x.Shape[1])
		}
		w[n] = &reference.Tensor{Shape: x.Shape, Data: vals}
	}
	return w
}

// runForward runs deepc forward and returns the logits [batch][seq][vocab].
func runForward(t *testing.T, dir string, seqs [][]int, extra ...string) ([]int, []float32) {
	t.Helper()
	var parts []string
	for _, s := range seqs {
		parts = append(parts, strings.Trim(fmt.Sprint(s), "[]"))
	}
	out := filepath.Join(t.TempDir(), "logits.npy")
	args := append([]string{"forward", tinyModel, "--checkpoint", dir, "--tokens", strings.Join(parts, ","), "--out", out}, extra...)
	mustDeepc(t, args...)
	return readNPY(t, out)
}

// readNPY reads a float32 .npy file the CLI wrote.
func readNPY(t *testing.T, path string) ([]int, []float32) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	shape, data, err := npy.ReadFloat32(fh)
	if err != nil {
		t.Fatal(err)
	}
	return shape, data
}

// maxRelErr is the largest per-position relative error ‖a−b‖/‖b‖.
func maxRelErr(got []float32, want [][]float64) float64 {
	worst := 0.0
	V := len(want[0])
	for p, row := range want {
		var num, den float64
		for j, w := range row {
			d := float64(got[p*V+j]) - w
			num += d * d
			den += w * w
		}
		worst = max(worst, math.Sqrt(num/den))
	}
	return worst
}

// The whole forward pass against the independent float64 implementation
// of docs/model.md, in fp32 mode: YaRN on, q_lora_rank > 0 and = 0, group-limited
// routing with bias, partial FP8 blocks (kv_a 80 rows, kv_b 64 columns), a
// vocabulary that is not a multiple of 128; F32, BF16 and FP8 checkpoints,
// single-file and sharded. --prefill N must give the same logits.
func TestForwardMatchesReference(t *testing.T) {
	seqs := [][]int{{1, 17, 301, 42, 7, 499}, {3, 3, 250, 9, 120, 64}}
	for _, tc := range []struct {
		name   string
		sets   []string
		format string
		shards int
	}{
		{"fp8-sharded", []string{"vocab_size=500"}, "fp8", 3},
		{"bf16", []string{"vocab_size=500"}, "bf16", 1},
		{"f32-no-qlora", []string{"vocab_size=500", "q_lora_rank=0"}, "f32", 1},
		{"fp8-no-qlora-sharded", []string{"vocab_size=500", "q_lora_rank=0"}, "fp8", 2},
		// YaRN with mscale != mscale_all_dim (docs/model.md §3): g(0.707)²
		// on the softmax, the rotated parts times g(1.0)/g(0.707).
		{"f32-yarn-mscale", []string{"vocab_size=500", `rope_scaling={type = "yarn", factor = 4.0, original_max_position_embeddings = 256, ` +
			`beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 0.707}`}, "f32", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeCheckpoint(t, tc.sets, tc.format, tc.shards, 7)
			cfg, w := referenceWeights(t, dir)
			if cfg.Yarn == nil || cfg.Vocab%128 == 0 || cfg.NGroups < 2 {
				t.Fatalf("the test config must have YaRN, a vocab not a multiple of 128 and grouped routing: %+v", cfg)
			}
			var toks, pos, seq []int
			for i, s := range seqs {
				for j, id := range s {
					toks, pos, seq = append(toks, id), append(pos, j), append(seq, i)
				}
			}
			want, _, err := reference.Forward(cfg, w, toks, pos, seq)
			if err != nil {
				t.Fatal(err)
			}
			shape, got := runForward(t, dir, seqs)
			if fmt.Sprint(shape) != fmt.Sprint([]int{2, 6, 500}) {
				t.Fatalf("logits shape %v", shape)
			}
			if e := maxRelErr(got, want); e > 1e-5 {
				t.Errorf("full pass: max per-position relative error %.3g > 1e-5", e)
			} else {
				t.Logf("full pass: max per-position relative error %.3g", e)
			}
			for _, n := range []string{"0", "1", "4"} {
				_, cached := runForward(t, dir, seqs, "--prefill", n)
				if e := maxRelErr(cached, want); e > 1e-5 {
					t.Errorf("--prefill %s: max per-position relative error %.3g > 1e-5", n, e)
				}
			}
		})
	}
}

// Lower precisions stay close to the float64 reference. All layers are
// dense here: with random weights a rounding difference can flip an
// expert choice, which no tolerance describes.
func TestForwardPrecisions(t *testing.T) {
	dir := writeCheckpoint(t, []string{"n_dense_layers=4"}, "fp8", 1, 11)
	cfg, w := referenceWeights(t, dir)
	seqs := [][]int{{5, 6, 7, 8, 9, 10, 11, 12}}
	want, _, err := reference.Forward(cfg, w, seqs[0], []int{0, 1, 2, 3, 4, 5, 6, 7}, make([]int, 8))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode string
		tol  float64
	}{
		// bf16: ~1e-2 per op (docs/design.md §6), a few of them in series.
		{"bf16", 5e-2},
		// fp8: activations keep 3 mantissa bits (~3e-2 per GEMM) through
		// about 20 GEMMs in series; the fp8 kernels themselves are checked
		// bit for bit against a scalar emulation in runtime/cpu.
		{"fp8", 2.5e-1},
	} {
		_, got := runForward(t, dir, seqs, "--precision", tc.mode)
		e := maxRelErr(got, want)
		t.Logf("%s: max per-position relative error %.3g", tc.mode, e)
		if e > tc.tol || e == 0 {
			t.Errorf("%s: relative error %.3g, want in (0, %g]", tc.mode, e, tc.tol)
		}
	}
}

func TestForwardErrors(t *testing.T) {
	dir := writeCheckpoint(t, nil, "f32", 1, 3)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tokens", "1 2,3", "--out", "x.npy"}, "sequences must have equal length"},
		{[]string{"--tokens", "1 x", "--out", "x.npy"}, `"x" is not a token id`},
		{[]string{"--tokens", "1 2", "--out", "x.npy", "--precision", "fp16"}, "fp16"},
		{[]string{"--tokens", "1 2", "--out", "x.npy", "--prefill", "3"}, "--prefill 3"},
	} {
		code, _, errOut := deepc(t, append([]string{"forward", tinyModel, "--checkpoint", dir}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
	code, _, errOut := deepc(t, "forward", tinyModel, "--checkpoint", t.TempDir(), "--tokens", "1", "--out", "x.npy")
	if code != 1 || !strings.Contains(errOut, "config.json") {
		t.Errorf("empty checkpoint dir: exit %d, %q", code, errOut)
	}
}

func TestInspect(t *testing.T) {
	dir := writeCheckpoint(t, nil, "fp8", 2, 5)
	out := mustDeepc(t, "inspect", tinyModel, "--checkpoint", dir)
	if !strings.Contains(out, "OK: every param binds") {
		t.Errorf("inspect of a good checkpoint:\n%s", out)
	}
	// A model that wants a wider MoE than the checkpoint holds.
	code, out, _ := deepc(t, "inspect", tinyModel, "--checkpoint", dir, "--set", "moe_inter_dim=256")
	if code != 1 || !strings.Contains(out, "experts.0.gate_proj.weight") || !strings.Contains(out, "shape") {
		t.Errorf("inspect of a mismatched checkpoint: exit %d\n%s", code, out)
	}
}
