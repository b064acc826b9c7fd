package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/deepc-dev/deepc/plugins/host"
)

var (
	pluginOnce sync.Once
	pluginDir  string
	pluginErr  error
)

// TestMain removes the plugins the tests built and fails the run if any
// plugin process outlived them.
func TestMain(m *testing.M) {
	// The test binary doubles as deepc for tests that must kill it.
	if os.Getenv("DEEPC_TEST_MAIN") != "" {
		args := os.Args[1:]
		for len(args) > 0 && strings.HasPrefix(args[0], "-test.") {
			args = args[1:]
		}
		os.Exit(run(args, os.Stdin, os.Stdout, os.Stderr))
	}
	code := m.Run()
	host.Cleanup()
	if pluginDir != "" {
		if left := pluginProcesses(pluginDir); len(left) > 0 {
			os.Stderr.WriteString("plugin processes left running: " + strings.Join(left, ", ") + "\n")
			code = 1
		}
		os.RemoveAll(pluginDir)
	}
	os.Exit(code)
}

// plugin builds (once per test binary) the example plugins and the hang,
// echo and misanchored fixtures, and returns the path of the named one.
func plugin(t *testing.T, name string) string {
	t.Helper()
	pluginOnce.Do(func() {
		if pluginDir, pluginErr = os.MkdirTemp("", "deepc-cli-plugins-"); pluginErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", pluginDir+"/",
			"../../plugins/examples/fold-norm-weight", "../../plugins/examples/report-flops",
			"../../plugins/examples/softcap-logits", "../../plugins/host/testdata/hang",
			"../../plugins/host/testdata/echo", "../../plugins/host/testdata/misanchored")
		out, err := cmd.CombinedOutput()
		if err != nil {
			pluginErr = err
			t.Logf("%s", out)
		}
	})
	if pluginErr != nil {
		t.Fatalf("building plugins: %v", pluginErr)
	}
	return filepath.Join(pluginDir, name)
}

// pluginProcesses lists processes whose executable is in dir (Linux /proc).
func pluginProcesses(dir string) []string {
	var out []string
	exes, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range exes {
		if exe, err := os.Readlink(p); err == nil && strings.HasPrefix(exe, dir) {
			out = append(out, filepath.Base(exe))
		}
	}
	return out
}

// The example: the full model with fold-norm-weight, the IR after
// it printed.
func TestPluginFoldNormWeightOnDeepSeekV3(t *testing.T) {
	code, _, errOut := deepc(t, "compile", fullModel, "--plugin", plugin(t, "fold-norm-weight"), "--print-ir-after=fold-norm-weight")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"IR Dump After fold-norm-weight (2/4)",
		// layer 0's input norm: a norm of ones, q_a_proj's fp8 weight
		// dequantised and scaled by the norm weight.
		`%3 = const {dtype = bf16, value = 1.0} : [] bf16`,
		`%5 = reshape %2 {shape = [1, 7168]} : [1, 7168] bf16`,
		`%8 = cast %7 {dtype = bf16} : [1536, 7168] bf16`,
		`%9 = mul %8, %5 : [1536, 7168] bf16`,
		"folded model.layers.0.input_layernorm.weight into 2 linear(s) in @forward",
		"kept   model.layers.3.post_attention_layernorm.weight in @forward: used by cast",
		"plugin fold-norm-weight 1.0.0 sha256 ",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// Folding the norm weights leaves the tiny model's logits as they were,
// within f32 rounding, for the full pass and for prefill + cached decode.
func TestPluginKeepsLogits(t *testing.T) {
	dir := writeCheckpoint(t, nil, "fp8", 1, 41)
	seqs := [][]int{{1, 17, 301, 42, 7, 499}, {3, 3, 250, 9, 120, 64}}
	_, want := runForward(t, dir, seqs)
	fold := plugin(t, "fold-norm-weight")
	for _, extra := range [][]string{{"--plugin", fold}, {"--plugin", fold, "--prefill", "3"}} {
		_, got := runForward(t, dir, seqs, extra...)
		V := len(want) / 12
		var rows [][]float64
		for p := 0; p < 12; p++ {
			row := make([]float64, V)
			for j := range row {
				row[j] = float64(want[p*V+j])
			}
			rows = append(rows, row)
		}
		if e := maxRelErr(got, rows); e > 1e-5 {
			t.Errorf("%v: relative error %.3g against the unfolded model", extra, e)
		} else {
			t.Logf("%v: relative error %.3g", extra, e)
		}
	}
}

func TestPluginsInspectAndPasses(t *testing.T) {
	fold, flops := plugin(t, "fold-norm-weight"), plugin(t, "report-flops")
	out := mustDeepc(t, "plugins", "inspect", fold, flops)
	for _, want := range []string{"plugin   fold-norm-weight", "version  1.0.0", "api      1", "fold-norm-weight  after:canonicalize", "plugin   report-flops", "--pass-option report-flops.tokens=<int>"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %q:\n%s", want, out)
		}
	}
	// Columns widen with the longest pass name: compare words.
	out = mustDeepc(t, "passes", "--plugin", fold, "--plugin", flops)
	words := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"fold-norm-weight plugin fold-norm-weight, after:canonicalize", "report-flops plugin report-flops, after:dce", "cse built-in",
		`--pass-option report-flops.tokens=<int> (default "4096")`} {
		if !strings.Contains(words, want) {
			t.Errorf("passes lacks %q:\n%s", want, out)
		}
	}
}

func TestPluginFlags(t *testing.T) {
	fold, flops, softcap := plugin(t, "fold-norm-weight"), plugin(t, "report-flops"), plugin(t, "softcap-logits")
	// DEEPC_PLUGINS, colon-separated, and a pass named in --passes.
	t.Setenv("DEEPC_PLUGINS", fold+":"+softcap)
	code, out, errOut := deepc(t, "compile", tinyModel, "--passes", "canonicalize,softcap-logits,dce", "--pass-option", "cap=20", "--emit", "ir")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"tanh", `plugins = {"fold-norm-weight" = {sha256 = "`, `"softcap-logits" = {sha256 = "`} {
		if !strings.Contains(out, want) {
			t.Errorf("IR lacks %q", want)
		}
	}
	if !strings.Contains(errOut, "folded model.norm.weight") || !strings.Contains(errOut, "softcap-logits: @forward result 0 capped at 20") {
		t.Errorf("reports missing:\n%s", errOut)
	}
	t.Setenv("DEEPC_PLUGINS", "")
	// A wrong checksum refuses to start the plugin.
	code, _, errOut = deepc(t, "compile", tinyModel, "--plugin", flops, "--plugin-sha256", "report-flops="+strings.Repeat("ab", 32))
	if code != 1 || !strings.Contains(errOut, "SHA-256 is") || !strings.Contains(errOut, "not started") {
		t.Errorf("checksum mismatch: exit %d\n%s", code, errOut)
	}
	code, _, errOut = deepc(t, "compile", tinyModel, "--plugin", flops, "--plugin-sha256", "report-flops=xyz")
	if code != 1 || !strings.Contains(errOut, "want NAME=<64 hex digits>") {
		t.Errorf("bad checksum flag: exit %d\n%s", code, errOut)
	}
	// An anchor outside the pipeline: the pass is left out, with a note.
	code, _, errOut = deepc(t, "compile", tinyModel, "--plugin", flops, "--passes", "canonicalize")
	if code != 0 || !strings.Contains(errOut, "its anchor after:dce is not in the pipeline") {
		t.Errorf("anchor outside: exit %d\n%s", code, errOut)
	}
	// A hanging plugin: exit 1 within the deadline, the process killed.
	code, _, errOut = deepc(t, "compile", tinyModel, "--plugin", plugin(t, "hang"), "--passes", "canonicalize,hang-pass", "--plugin-timeout", "1s")
	if code != 1 || !strings.Contains(errOut, "plugin hang (") || !strings.Contains(errOut, "pass hang-pass: run: no answer within 1s; killed") {
		t.Errorf("hang: exit %d\n%s", code, errOut)
	}
	if left := pluginProcesses(pluginDir); len(left) > 0 {
		t.Errorf("left running: %v", left)
	}
}
