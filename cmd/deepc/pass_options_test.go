package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command that runs a pipeline takes --pass-option and checks it
// before anything else: a misspelt key is an error with the key meant,
// not a flag error and not minutes of loading first.
func TestPassOptionOnEveryCommand(t *testing.T) {
	ir := filepath.Join(t.TempDir(), "m.ir")
	if err := os.WriteFile(ir, []byte(mustDeepc(t, "compile", tinyModel, "--emit", "ir")), 0o644); err != nil {
		t.Fatal(err)
	}
	const bad, want = "moe-lower.moe-blok=4", `--pass-option moe-lower.moe-blok=4: pass moe-lower has no option "moe-blok" (did you mean "moe-block"?); its options: moe-block`
	out := filepath.Join(t.TempDir(), "x.npy")
	for _, args := range [][]string{
		{"compile", tinyModel, "--passes", "moe-lower"},
		{"opt", ir, "--passes", "moe-lower"},
		{"forward", tinyModel, "--checkpoint", "/nonexistent", "--tokens", "1 2", "--out", out},
		{"generate", tinyModel, "--checkpoint", "/nonexistent", "--prompt", "a"},
		{"grad", tinyModel, "--checkpoint", "/nonexistent", "--tokens", "1 2", "--out", filepath.Join(t.TempDir(), "g.safetensors")},
		{"train", tinyModel, "--out", t.TempDir(), "--data", ir},
	} {
		code, _, errOut := deepc(t, append(args, "--pass-option", bad)...)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("deepc %s: exit %d\n%s", args[0], code, errOut)
		}
	}
	// run runs a compiled bundle: no pipeline, so the flags would do
	// nothing; it says where they belong.
	code, _, errOut := deepc(t, "run", "/nonexistent", "--checkpoint", "/nonexistent", "--tokens", "1", "--out", out, "--pass-option", "moe-block=4")
	if code != 1 || !strings.Contains(errOut, "--pass-option act when the bundle is compiled") {
		t.Errorf("deepc run: exit %d\n%s", code, errOut)
	}
	// inspect checks a checkpoint against the model before any pass.
	code, _, errOut = deepc(t, "inspect", tinyModel, "--checkpoint", "/nonexistent", "--pass-option", "moe-block=4")
	if code != 1 || !strings.Contains(errOut, "do nothing here: inspect checks the checkpoint against the model as the DSL builds it") {
		t.Errorf("deepc inspect: exit %d\n%s", code, errOut)
	}
}

func TestPassOptionErrors(t *testing.T) {
	echo := plugin(t, "echo")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--pass-option", "moe-lowr.moe-block=4"}, `unknown pass "moe-lowr" (did you mean "moe-lower"?)`},
		{[]string{"--passes", "moe-lower", "--pass-option", "moe-block=many"}, `--pass-option moe-block=many: pass moe-lower: option moe-block: "many" is not an integer`},
		{[]string{"--pass-option", "blok=1"}, `no pass has an option "blok"; the options: moe-lower.moe-block, stats.seq-len`},
		{[]string{"--pass-option", "moe-block=4"}, `--pass-option: options for pass moe-lower, which the pipeline "canonicalize,cse,dce" does not run`},
		{[]string{"--plugin", echo, "--pass-option", "seq-len=4"}, `option "seq-len" is ambiguous: passes echo, stats take it; write echo.seq-len or stats.seq-len`},
		{[]string{"--plugin", echo, "--pass-option", "echo.level=hihg"}, `option level: "hihg" is not one of low, high (did you mean "high"?)`},
	} {
		code, _, errOut := deepc(t, append([]string{"compile", tinyModel}, c.args...)...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d\n%s\nwant %q", c.args, code, errOut, c.want)
		}
	}
	// Bare keys one pass has keep working; each pass gets only its own.
	code, _, errOut := deepc(t, "compile", tinyModel, "--plugin", echo, "--passes", "canonicalize,moe-lower,stats", "--pass-option", "level=high", "--pass-option", "moe-block=4", "--pass-option", "stats.seq-len=16")
	if code != 0 || !strings.Contains(errOut, `echo: level=high seq-len=8 moe-block=""`) {
		t.Errorf("exit %d\n%s", code, errOut)
	}
	out := mustDeepc(t, "passes", "--plugin", echo)
	words := strings.Join(strings.Fields(out), " ") // columns widen with the longest name
	for _, want := range []string{`--pass-option moe-lower.moe-block=<int> (default "128")`, `--pass-option echo.level=<low|high> (default "low")`, `--pass-option echo.panic=<bool>`} {
		if !strings.Contains(words, want) {
			t.Errorf("deepc passes lacks %q:\n%s", want, out)
		}
	}
}

// Plugin failures say what failed and where.
func TestPluginFailuresSayWhere(t *testing.T) {
	echo, flops := plugin(t, "echo"), plugin(t, "report-flops")
	sum := strings.Repeat("ab", 32)
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"panic", []string{"--plugin", echo, "--pass-option", "echo.panic=true"},
			[]string{"pass echo: panic: assignment to entry in nil map", "main.explode(", "testdata/echo/main.go:"}},
		{"anchor", []string{"--plugin", plugin(t, "misanchored")},
			[]string{"anchor after:canonicalise names no pass (did you mean after:canonicalize?)"}},
		{"pin", []string{"--plugin", flops, "--plugin-sha256", "report-flop=" + sum},
			[]string{`--plugin-sha256 report-flop: no plugin loaded has that path or file name (did you mean "report-flops"?)`}},
		{"pin without plugins", []string{"--plugin-sha256", "report-flops=" + sum},
			[]string{"--plugin-sha256 report-flops: no plugins are loaded"}},
		{"print-ir-after", []string{"--print-ir-after", "cse2"},
			[]string{`unknown pass "cse2" (did you mean "cse"?)`}},
	} {
		code, _, errOut := deepc(t, append([]string{"compile", tinyModel}, c.args...)...)
		if code != 1 {
			t.Errorf("%s: exit %d\n%s", c.name, code, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", c.name, w, errOut)
			}
		}
	}
	// --plugin-log shows what a plugin writes to stderr although its pass
	// succeeds; without it, nothing.
	const line = "echo fixture: running over 87 params"
	if _, _, errOut := deepc(t, "compile", tinyModel, "--plugin", echo, "--plugin-log"); !strings.Contains(errOut, "plugin echo: ") || !strings.Contains(errOut, line) {
		t.Errorf("--plugin-log: stderr lacks the plugin's log:\n%s", errOut)
	}
	if _, _, errOut := deepc(t, "compile", tinyModel, "--plugin", echo); strings.Contains(errOut, line) {
		t.Errorf("without --plugin-log: stderr has the plugin's log:\n%s", errOut)
	}
}

// A plugin pass that renames a param makes the checkpoint not fit; the
// error names the pass.
func TestParamsChangedByPluginPass(t *testing.T) {
	dir := writeCheckpoint(t, nil, "fp8", 1, 41)
	code, _, errOut := deepc(t, "forward", tinyModel, "--checkpoint", dir, "--tokens", "1 2 3", "--out", filepath.Join(t.TempDir(), "l.npy"),
		"--plugin", plugin(t, "echo"), "--pass-option", "echo.rename=model.norm.weight")
	if code != 1 || !strings.Contains(errOut, "model.norm.weight.renamed") || !strings.Contains(errOut, "params changed by pass(es): echo") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
	// Without the rename the same checkpoint loads, and the built-in
	// passes that change params (fuse-siblings) are not blamed.
	code, _, errOut = deepc(t, "forward", tinyModel, "--checkpoint", dir, "--tokens", "1 2 3", "--out", filepath.Join(t.TempDir(), "l.npy"), "--plugin", plugin(t, "echo"))
	if code != 0 || strings.Contains(errOut, "params changed by") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}
