// Package pythonpasses tests the Python example plugin (py_passes.py)
// through deepc: built with build.sh from the protocol's current .proto,
// started by deepc plugins inspect, compile and forward.
package pythonpasses

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

const tinyModel = "../../../models/deepseek_v3_tiny.deep"

// requirePython skips the test where the plugin cannot run: the Debian
// packages scripts/deps.sh installs are missing. CI installs them, so
// there their absence is a failure.
func requirePython(t *testing.T) {
	t.Helper()
	var missing []string
	out, err := exec.Command("/usr/bin/python3", "-c", "import grpc, google.protobuf, cryptography").CombinedOutput()
	if err != nil {
		missing = append(missing, fmt.Sprintf("/usr/bin/python3 with grpc, protobuf and cryptography (%v: %s)", err, bytes.TrimSpace(out)))
	}
	if _, err := exec.LookPath("protoc"); err != nil {
		missing = append(missing, "protoc")
	}
	if len(missing) == 0 {
		return
	}
	msg := "missing " + strings.Join(missing, " and ") + " (scripts/deps.sh installs what is missing)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// setup builds deepc and installs the plugin with build.sh, as the docs
// tell a user to; it returns their paths.
func setup(t *testing.T) (deepc, plugin string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds deepc: not in -short")
	}
	requirePython(t)
	dir := t.TempDir()
	deepc = filepath.Join(dir, "deepc")
	if out, err := exec.Command("go", "build", "-o", deepc, "../../../cmd/deepc").CombinedOutput(); err != nil {
		t.Fatalf("building deepc: %v\n%s", err, out)
	}
	if out, err := exec.Command("bash", "build.sh", filepath.Join(dir, "py")).CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	return deepc, filepath.Join(dir, "py", "py-passes")
}

// run runs deepc and returns its exit status, stdout and stderr.
func run(t *testing.T, deepc string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(deepc, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("deepc %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

func mustRun(t *testing.T, deepc string, args ...string) (string, string) {
	t.Helper()
	code, out, errOut := run(t, deepc, args...)
	if code != 0 {
		t.Fatalf("deepc %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out, errOut
}

func TestPythonPlugin(t *testing.T) {
	deepc, plugin := setup(t)
	t.Cleanup(func() {
		if left := processesOf(plugin); len(left) > 0 {
			t.Errorf("plugin processes left running: %v", left)
		}
	})

	t.Run("inspect", func(t *testing.T) {
		out, _ := mustRun(t, deepc, "plugins", "inspect", plugin)
		for _, want := range []string{
			"plugin   py-passes", "version  0.1.0", "api      1",
			"py-count-ops", "after:dce", "py-set-norm-eps", "after:canonicalize", "the new epsilon", "1e-05",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("inspect lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("compile", func(t *testing.T) {
		dir := t.TempDir()
		plain, _ := mustRun(t, deepc, "compile", tinyModel, "--emit", "ir")
		norms := strings.Count(plain, "= rms_norm %")
		if norms == 0 || strings.Count(plain, "{eps = 1e-06}") != norms {
			t.Fatalf("the tiny model has %d norms, %d with eps 1e-06", norms, strings.Count(plain, "{eps = 1e-06}"))
		}
		outIR := filepath.Join(dir, "out.ir")
		_, report := mustRun(t, deepc, "compile", tinyModel, "--plugin", plugin, "--pass-option", "py-set-norm-eps.eps=0.001", "--emit", "ir", "-o", outIR)
		b, err := os.ReadFile(outIR)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		// The transform: every norm, and nothing else.
		if got := strings.Count(text, "{eps = 0.001}"); got != norms || strings.Contains(text, "{eps = 1e-06}") {
			t.Errorf("%d of %d norms have eps 0.001 after the pass", got, norms)
		}
		if want := fmt.Sprintf("py-set-norm-eps: %d norms now use eps = 0.001\n", norms); !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
		if !strings.Contains(report, "plugin py-passes 0.1.0 sha256 ") {
			t.Errorf("deepc did not name the plugin:\n%s", report)
		}
		// The analysis: its counts are those of the module deepc wrote
		// (py-count-ops runs last, after dce).
		m, err := ir.Parse(outIR, text)
		if err != nil {
			t.Fatal(err)
		}
		counted := opCounts(t, report)
		if len(counted) != len(m.Funcs) {
			t.Errorf("py-count-ops reported %d functions, the module has %d:\n%s", len(counted), len(m.Funcs), report)
		}
		for _, f := range m.Funcs {
			want := map[string]int{}
			for _, op := range f.Body {
				want[op.Name]++
			}
			if got := fmt.Sprint(counted[f.Name]); got != fmt.Sprint(want) {
				t.Errorf("@%s: py-count-ops counted %s, the module has %s", f.Name, got, fmt.Sprint(want))
			}
		}
	})

	t.Run("bad-option", func(t *testing.T) {
		code, _, errOut := run(t, deepc, "compile", tinyModel, "--plugin", plugin, "--pass-option", "py-set-norm-eps.eps=-1", "--emit", "ir")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		for _, want := range []string{"plugin py-passes", "pass py-set-norm-eps", "option eps must be positive, got -1"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("error lacks %q:\n%s", want, errOut)
			}
		}
	})

	// The pass changes what the model computes, and only through eps: at
	// the model's own eps the logits are those of the model without it.
	t.Run("forward", func(t *testing.T) {
		dir := t.TempDir()
		ckpt := filepath.Join(dir, "ckpt")
		mustRun(t, deepc, "init", tinyModel, "--out", ckpt)
		logits := func(name string, extra ...string) []byte {
			t.Helper()
			path := filepath.Join(dir, name+".npy")
			args := append([]string{"forward", tinyModel, "--checkpoint", ckpt, "--tokens", "1 2 3 4", "--out", path}, extra...)
			_, errOut := mustRun(t, deepc, args...)
			if len(extra) > 0 && !strings.Contains(errOut, "py-count-ops: @forward has ") {
				t.Errorf("%s: the plugin's report is missing:\n%s", name, errOut)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		base := logits("base")
		same := logits("same-eps", "--plugin", plugin, "--pass-option", "py-set-norm-eps.eps=1e-06")
		other := logits("other-eps", "--plugin", plugin, "--pass-option", "py-set-norm-eps.eps=0.01")
		if !bytes.Equal(base, same) {
			t.Error("at the model's own eps the plugin changed the logits")
		}
		if bytes.Equal(base, other) {
			t.Error("eps = 0.01 left the logits as they were")
		}
	})
}

var countLine = regexp.MustCompile(`(?m)^py-count-ops: @(\S+) has (\d+) ops: (.*)$`)

// opCounts reads py-count-ops's report: op counts by function, checking
// that each line's total is the sum of its counts.
func opCounts(t *testing.T, report string) map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]int{}
	for _, l := range countLine.FindAllStringSubmatch(report, -1) {
		counts, sum := map[string]int{}, 0
		for _, kv := range strings.Split(l[3], ", ") {
			name, n, ok := strings.Cut(kv, " ")
			c, err := strconv.Atoi(n)
			if !ok || err != nil {
				t.Fatalf("bad count %q in %q", kv, l[0])
			}
			counts[name] = c
			sum += c
		}
		if total, _ := strconv.Atoi(l[2]); total != sum {
			t.Errorf("%q: the counts add up to %d", l[0], sum)
		}
		out[l[1]] = counts
	}
	return out
}

// processesOf lists the processes running script (its path on their
// command line: the executable is the interpreter).
func processesOf(script string) []string {
	var out []string
	files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && slices.Contains(strings.Split(string(b), "\x00"), script) {
			out = append(out, filepath.Base(filepath.Dir(f)))
		}
	}
	return out
}
