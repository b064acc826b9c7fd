package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deepc-dev/deepc/internal/testseed"
	"gonum.org/v1/plot/plotutil"
)

// The corpus of the training tests: this repository's Go files.
const testCorpus = "../../**/*.go"

func trainArgs(out string, steps int, extra ...string) []string {
	return append([]string{"train", tinyModel, "--data", testCorpus, "--steps", fmt.Sprint(steps), "--batch", "2", "--seq", "32",
		"--warmup", "2", "--eval-every", "0", "--out", out, "--set", "n_routed_experts=8"}, extra...)
}

func stateOf(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "train", "state.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A run resumed from any of its checkpoints ends with the same weights,
// moments and biases, bit for bit, as the uninterrupted run; metrics are
// JSONL with the fields; the checkpoint loads in deepc forward.
func TestTrainResumeIsBitIdentical(t *testing.T) {
	t.Parallel() // one of the package's slow tests: they overlap at its end
	base := t.TempDir()
	full := filepath.Join(base, "full")
	mustDeepc(t, trainArgs(full, 6, "--save-every", "2")...)
	want := stateOf(t, filepath.Join(full, "step-000006"))
	for _, from := range []string{"step-000002", "step-000004"} {
		out := filepath.Join(base, "from-"+from)
		mustDeepc(t, "train", "--resume", filepath.Join(full, from), "--out", out)
		if !bytes.Equal(stateOf(t, filepath.Join(out, "step-000006")), want) {
			t.Errorf("resumed from %s: the final state differs from the uninterrupted run", from)
		}
	}
	f, err := os.Open(filepath.Join(full, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"step", "loss", "mtp_loss", "balance_loss", "lr", "grad_norm", "tokens_per_s", "expert_load_max_mean"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("metrics line %d lacks %s", lines+1, k)
			}
		}
		lines++
	}
	if lines != 6 {
		t.Errorf("%d metrics lines, want 6", lines)
	}
	latest, _ := os.ReadFile(filepath.Join(full, "latest"))
	if strings.TrimSpace(string(latest)) != "step-000006" {
		t.Errorf("latest = %q", latest)
	}
	runForward(t, filepath.Join(full, "step-000006"), [][]int{{1, 2, 3}})
}

// A damaged checkpoint is refused by --resume.
func TestResumeVerifiesChecksums(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	mustDeepc(t, trainArgs(out, 1)...)
	ck := filepath.Join(out, "step-000001")
	p := filepath.Join(ck, "model.safetensors")
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 1
	os.WriteFile(p, b, 0o644)
	code, _, errOut := deepc(t, "train", "--resume", ck, "--out", out)
	if code != 1 || !strings.Contains(errOut, "model.safetensors has SHA-256") || !strings.Contains(errOut, "damaged") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// Killed at random points (SIGKILL), a run leaves only whole checkpoints,
// and resuming from its latest one ends where the uninterrupted run does.
func TestKillAndResume(t *testing.T) {
	t.Parallel() // one of the package's slow tests: they overlap at its end
	base := t.TempDir()
	full := filepath.Join(base, "full")
	mustDeepc(t, trainArgs(full, 8, "--save-every", "1")...)
	want := stateOf(t, filepath.Join(full, "step-000008"))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(testseed.Seed(t), 3))
	for trial := 0; trial < 2; trial++ {
		out := filepath.Join(base, "killed"+fmt.Sprint(trial))
		cmd := exec.Command(exe, append([]string{"-test.run=^$"}, trainArgs(out, 8, "--save-every", "1")...)...)
		cmd.Env = append(os.Environ(), "DEEPC_TEST_MAIN=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the first checkpoint, then kill at a random moment of
		// the steps and saves that follow.
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(filepath.Join(out, "latest")); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		latest, err := os.ReadFile(filepath.Join(out, "latest"))
		if err != nil {
			t.Fatalf("trial %d: no checkpoint: %v", trial, err)
		}
		ck := filepath.Join(out, strings.TrimSpace(string(latest)))
		t.Logf("trial %d: killed after %s", trial, filepath.Base(ck))
		mustDeepc(t, "train", "--resume", ck, "--out", out)
		if !bytes.Equal(stateOf(t, filepath.Join(out, "step-000008")), want) {
			t.Errorf("trial %d: resumed from %s, the final state differs", trial, ck)
		}
	}
}

func TestPlot(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := 1; i <= 5; i++ {
		lines = append(lines, fmt.Sprintf(`{"step":%d,"loss":%g,"ce":%g,"lr":0.001,"grad_norm":1.5%s}`, i, 6.0/float64(i), 5.0/float64(i), map[bool]string{true: `,"val_loss":3`, false: ""}[i%2 == 0]))
	}
	os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	mustDeepc(t, "plot", dir)
	f, err := os.Open(filepath.Join(dir, "loss.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("loss.png: %v", err)
	}
	// The loss series (the first line of the top panel, in plotutil's first
	// colour) falls from 6 to 1.2: its leftmost pixels are higher up the
	// image than its rightmost.
	want := color.RGBAModel.Convert(plotutil.Color(0)).(color.RGBA)
	bounds := img.Bounds()
	left, right := -1, -1
	var leftY, rightY int
	for x := bounds.Min.X; x < bounds.Max.X; x++ {
		for y := bounds.Min.Y; y < bounds.Min.Y+bounds.Dy()/3; y++ {
			if c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA); c == want {
				if left < 0 {
					left, leftY = x, y
				}
				right, rightY = x, y
			}
		}
	}
	if left < 0 || right-left < bounds.Dx()/2 {
		t.Fatalf("loss.png: the loss curve spans pixels %d..%d of %d", left, right, bounds.Dx())
	}
	if leftY >= rightY {
		t.Fatalf("loss.png: the falling loss is drawn rising (y %d at the left, %d at the right)", leftY, rightY)
	}
	os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte("{\"loss\": 1}\n"), 0o644)
	if code, _, errOut := deepc(t, "plot", dir); code != 1 || !strings.Contains(errOut, "metrics.jsonl:1: no step") {
		t.Errorf("bad metrics: exit %d %s", code, errOut)
	}
}

// Every precision trains (FP8 quantizes the fp8 weights' GEMMs), with and
// without recomputation, all with the same settings but the precision:
// finite losses at every step; each precision gives its own first loss
// (the forward pass differs before any update does); recomputation changes
// no bit of the losses; the checkpoint holds the model's FP8 weights with
// their scales whatever the training precision, and the state the moments
// in the asked dtype.
func TestTrainPrecisions(t *testing.T) {
	t.Parallel() // one of the package's slow tests: they overlap at its end
	losses := map[string][]float64{}
	for _, c := range []struct {
		name  string
		steps int
		extra []string
	}{
		{"fp32", 2, []string{"--precision", "fp32"}},
		// Moments are stored after the update that made them: bf16 ones
		// change the second update, which the third loss sees.
		{"bf16", 3, []string{"--precision", "bf16"}},
		{"bf16-moments", 3, []string{"--precision", "bf16", "--moments", "bf16"}},
		{"fp8", 2, []string{"--precision", "fp8"}},
		{"fp8-recompute", 2, []string{"--precision", "fp8", "--recompute"}},
		// DeepSeek-V3's schedule and losses: another second loss.
		{"fp8-v3-preset", 2, []string{"--precision", "fp8", "--preset", "deepseek-v3"}},
	} {
		out := filepath.Join(t.TempDir(), "run")
		mustDeepc(t, trainArgs(out, c.steps, c.extra...)...)
		b, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m struct {
				Step int      `json:"step"`
				Loss *float64 `json:"loss"`
			}
			if err := json.Unmarshal([]byte(line), &m); err != nil || m.Loss == nil {
				continue
			}
			if math.IsNaN(*m.Loss) || math.IsInf(*m.Loss, 0) || *m.Loss <= 0 {
				t.Fatalf("%s: step %d loss %v", c.name, m.Step, *m.Loss)
			}
			losses[c.name] = append(losses[c.name], *m.Loss)
		}
		if len(losses[c.name]) != c.steps {
			t.Fatalf("%s: %d losses in metrics.jsonl, want %d", c.name, len(losses[c.name]), c.steps)
		}
		ck := filepath.Join(out, fmt.Sprintf("step-%06d", c.steps))
		if header := safetensorsHeader(t, filepath.Join(ck, "model.safetensors")); !strings.Contains(header, `"F8_E4M3"`) || !strings.Contains(header, "weight_scale_inv") {
			t.Errorf("%s: the checkpoint has no FP8 weights with scales", c.name)
		}
		state := safetensorsHeader(t, filepath.Join(ck, "train", "state.safetensors"))
		if moments := strings.Contains(state, `"BF16"`); moments != (c.name == "bf16-moments") {
			t.Errorf("%s: bf16 tensors in the state: %v", c.name, moments)
		}
	}
	if !slices.Equal(losses["fp8"], losses["fp8-recompute"]) {
		t.Errorf("recomputation changed the losses: %v vs %v", losses["fp8-recompute"], losses["fp8"])
	}
	if bf, mo := losses["bf16"], losses["bf16-moments"]; !slices.Equal(bf[:2], mo[:2]) || bf[2] == mo[2] {
		t.Errorf("bf16 moments: losses %v against %v with f32 moments; want the first two the same and the third different", mo, bf)
	}
	if a, b := losses["fp8"], losses["fp8-v3-preset"]; a[1] == b[1] {
		t.Errorf("--preset deepseek-v3 trained to the small preset's losses %v", a)
	}
	for _, pair := range [][2]string{{"fp32", "bf16"}, {"fp32", "fp8"}, {"bf16", "fp8"}} {
		if a, b := losses[pair[0]][0], losses[pair[1]][0]; a == b {
			t.Errorf("%s and %s give the same first loss %v: is a precision ignored?", pair[0], pair[1], a)
		}
	}
	t.Logf("losses: %v", losses)
}

// safetensorsHeader is a safetensors file's JSON header.
func safetensorsHeader(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil || n > 1<<24 {
		t.Fatalf("%s: header length %d: %v", path, n, err)
	}
	h := make([]byte, n)
	if _, err := io.ReadFull(f, h); err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// Hostile train flags stop the run before anything is compiled, with exit
// status 1 and the setting named (issue 15: --seq -5 panicked, --lr NaN
// trained and saved NaN weights with exit 0); nothing is written.
func TestTrainRefusesBadSettings(t *testing.T) {
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--seq", "-5"}, "seq -5"},
		{[]string{"--seq", "0"}, "seq 0"},
		{[]string{"--lr", "NaN"}, "lr NaN"},
		{[]string{"--lr", "-1"}, "lr -1"},
		{[]string{"--steps", "-1"}, "steps -1"},
		{[]string{"--schedule", "zigzag"}, `schedule "zigzag"`},
		{[]string{"--gamma", "NaN"}, "gamma NaN"},
		{[]string{"--batch", "1000000", "--seq", "1000000"}, "batch × seq"},
	} {
		out := filepath.Join(t.TempDir(), "run")
		code, _, errOut := deepc(t, trainArgs(out, 2, c.flags...)...)
		if code != 1 || !strings.Contains(errOut, "train settings") || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit 1 naming %q", c.flags, code, errOut, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: wrote %s", c.flags, out)
		}
	}
}

// train --out refuses a directory of someone else's files before it
// compiles anything, and leaves them as they were.
func TestTrainKeepsUserFiles(t *testing.T) {
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644)
	code, _, errOut := deepc(t, trainArgs(out, 2)...)
	if code != 1 || !strings.Contains(errOut, "no deepc run") {
		t.Errorf("exit %d %q", code, errOut)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 1 {
		t.Errorf("the directory now holds %d entries", len(ents))
	}
}

// A run whose first step is not finite (NaN weights in its checkpoint)
// stops with exit 1 and says no checkpoint was saved, rather than that the
// last one is intact (issue 15).
func TestTrainNaNBeforeAnyCheckpoint(t *testing.T) {
	ck := writeCheckpoint(t, []string{"n_routed_experts=8"}, "f32", 1, 3)
	path := filepath.Join(ck, "model.safetensors")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data := 8 + int(binary.LittleEndian.Uint64(b[:8]))
	for i := data; i < min(len(b), data+1<<16); i++ {
		b[i] = 0xff // f32 NaN bits over the first tensors
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	code, _, errOut := deepc(t, trainArgs(out, 2, "--checkpoint", ck)...)
	if code != 1 || !strings.Contains(errOut, "not finite") || !strings.Contains(errOut, "no checkpoint was saved") {
		t.Errorf("exit %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(out, "latest")); err == nil {
		t.Error("a checkpoint was saved")
	}
}
