package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/passes"
)

const (
	fullModel = "../../models/deepseek_v3.deep"
	tinyModel = "../../models/deepseek_v3_tiny.deep"
)

// deepc runs the CLI in process and returns its exit status and output.
func deepc(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustDeepc(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := deepc(t, args...)
	if code != 0 {
		t.Fatalf("deepc %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// The parameter counts of docs/model.md §1, computed from the DSL.
func TestStatsDeepSeekV3(t *testing.T) {
	var s struct {
		ParamsTotal     int64 `json:"params_total"`
		ParamsActivated int64 `json:"params_activated"`
		ParamsMTP       int64 `json:"params_mtp"`
		FLOPsPerToken   int64 `json:"flops_per_token"`
	}
	out := mustDeepc(t, "stats", fullModel, "--json")
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("stats --json is not JSON: %v\n%s", err, out)
	}
	if s.ParamsTotal != 671_026_419_200 {
		t.Errorf("params_total = %d, want 671,026,419,200", s.ParamsTotal)
	}
	if s.ParamsActivated != 37_552_297_472 {
		t.Errorf("params_activated = %d, want 37,552,297,472", s.ParamsActivated)
	}
	// docs/model.md §1 gives 11,610,061,056 for one MTP module, counting its
	// shared_head as shared with the main head. The checkpoint (docs/model.md §6,
	// §8) holds a separate model.layers.61.shared_head.norm.weight of [dim]
	// = 7168 values, which the DSL loads, so the unique count is 7168 more.
	if want := int64(11_610_061_056 + 7168); s.ParamsMTP != want {
		t.Errorf("params_mtp = %d, want %d", s.ParamsMTP, want)
	}
	// Forward FLOPs per token are at least 2 per activated weight outside
	// the embedding lookup (926,679,040 embedding values do no multiply).
	if min := 2 * (s.ParamsActivated - 926_679_040); s.FLOPsPerToken < min {
		t.Errorf("flops_per_token = %d, below 2 x activated non-embedding params = %d", s.FLOPsPerToken, min)
	}
}

// compile --emit ir prints IR that opt --passes "" prints back byte for byte.
func TestCompileOptRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"full", []string{fullModel}},
		{"tiny", []string{tinyModel}},
		{"no-mtp-no-qlora", []string{fullModel, "--set", "mtp_depth=0", "--set", "q_lora_rank=0"}},
		{"tiny-no-passes", []string{tinyModel, "--passes", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := mustDeepc(t, append([]string{"compile", "--emit", "ir"}, tc.args...)...)
			path := filepath.Join(t.TempDir(), "m.ir")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			back := mustDeepc(t, "opt", path, "--passes", "")
			if back != text {
				t.Fatalf("opt --passes \"\" changed the IR (%d bytes in, %d out)", len(text), len(back))
			}
			if !strings.Contains(text, "func @forward(") {
				t.Fatalf("no forward function in\n%.500s", text)
			}
		})
	}
}

func TestMTPAndQLoRAVariants(t *testing.T) {
	text := mustDeepc(t, "compile", "--emit", "ir", fullModel, "--set", "mtp_depth=0", "--set", "q_lora_rank=0")
	if strings.Contains(text, "func @mtp(") {
		t.Error("mtp_depth=0 still has an mtp function")
	}
	if strings.Contains(text, "q_a_proj") || !strings.Contains(text, "model.layers.0.self_attn.q_proj.weight") {
		t.Error("q_lora_rank=0 should use a plain q_proj and no q_a_proj")
	}
	tiny := mustDeepc(t, "compile", "--emit", "ir", tinyModel)
	for _, want := range []string{"func @mtp(", "model.layers.4.shared_head.norm.weight", "model.layers.4.eh_proj.weight", "experts.{e}.gate_proj.weight"} {
		if !strings.Contains(tiny, want) {
			t.Errorf("tiny model IR lacks %q", want)
		}
	}
}

func TestCompileErrorExitsOne(t *testing.T) {
	code, _, errOut := deepc(t, "compile", "../../dsl/testdata/errors/unknown_name.deep")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"unknown_name.deep:4:14: unknown name dimm", "return x * dimm", "^"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	code, _, errOut = deepc(t, "stats", fullModel, "--set", "n_layers=0")
	if code != 1 || !strings.Contains(errOut, "n_layers must be positive") {
		t.Errorf("bad --set: exit %d\n%s", code, errOut)
	}
	code, _, errOut = deepc(t, "stats", fullModel, "--set", "dim=\"wide\"")
	if code != 1 || !strings.Contains(errOut, "config dim must be an int") {
		t.Errorf("--set of the wrong kind: exit %d\n%s", code, errOut)
	}
	code, _, errOut = deepc(t, "stats", fullModel, "--set", "dimm=3")
	if code != 1 || !strings.Contains(errOut, "unknown config key dimm (did you mean dim?)") {
		t.Errorf("unknown --set key: exit %d\n%s", code, errOut)
	}
	code, _, errOut = deepc(t, "compile", fullModel, "--passes", "cse,frobnicate")
	if code != 1 || !strings.Contains(errOut, "frobnicate") {
		t.Errorf("unknown pass: exit %d\n%s", code, errOut)
	}
}

func TestSetStructField(t *testing.T) {
	base := mustDeepc(t, "compile", "--emit", "ir", tinyModel)
	changed := mustDeepc(t, "compile", "--emit", "ir", tinyModel, "--set", "rope_scaling.factor=8")
	if base == changed || !strings.Contains(changed, "factor = 8.0") {
		t.Error("--set rope_scaling.factor=8 did not reach the rope ops")
	}
	code, _, errOut := deepc(t, "compile", tinyModel, "--set", "rope_scaling.fator=8")
	if code != 1 || !strings.Contains(errOut, "did you mean factor?") {
		t.Errorf("unknown field: exit %d\n%s", code, errOut)
	}
}

func TestInstrumentFlags(t *testing.T) {
	dir := t.TempDir()
	_, _, errOut := deepc(t, "compile", tinyModel, "--timing", "--dump-ir-dir", dir, "--print-ir-after", "dce")
	for _, want := range []string{"canonicalize", "cse", "dce", "total", "module @deepseek_v3_tiny"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("instrument output lacks %q", want)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ir"))
	if len(files) != 4 {
		t.Errorf("dump dir has %d stages, want 4 (input + 3 passes): %v", len(files), files)
	}
}

func TestHelpAndVersion(t *testing.T) {
	help := mustDeepc(t, "--help")
	for _, cmd := range []string{"compile", "opt", "stats", "passes", "version", "completion"} {
		if !strings.Contains(help, cmd) {
			t.Errorf("--help does not list %s", cmd)
		}
	}
	if v := mustDeepc(t, "version"); !strings.HasPrefix(v, "deepc ") {
		t.Errorf("version printed %q", v)
	}
	list := mustDeepc(t, "passes")
	for _, p := range []string{"canonicalize", "cse", "dce", "stats"} {
		if !strings.Contains(list, p) {
			t.Errorf("deepc passes does not list %s", p)
		}
	}
	if out := mustDeepc(t, "completion", "bash"); !strings.Contains(out, "deepc") {
		t.Error("no bash completion script")
	}
}

// Every model, and its variants, survives the text form after every pass.
func TestModelsRoundTripAfterEveryPass(t *testing.T) {
	pl, err := passes.ParsePipeline(passes.CanonicalPipeline + ",stats")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		sets []string
	}{
		{fullModel, nil},
		{fullModel, []string{"mtp_depth=0", "q_lora_rank=0"}},
		{fullModel, []string{"mtp_depth=2", "score_func=\"softmax\"", "rope_scaling=none"}},
		{tinyModel, nil},
	} {
		m, err := dsl.CompileFile(tc.file, dsl.Options{Sets: tc.sets})
		if err != nil {
			t.Fatal(err)
		}
		ctx := &passes.Context{Instruments: []passes.Instrument{passes.RoundTrip(), passes.CheckChanged()}}
		if err := passes.Run(ctx, m, pl); err != nil {
			t.Errorf("%s %v: %v", tc.file, tc.sets, err)
		}
	}
}

// The binary carries the model files: a path that does not exist on disk
// falls back to the embedded file of the same name.
func TestEmbeddedModels(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	out := mustDeepc(t, "stats", "models/deepseek_v3_tiny.deep", "--json")
	if !strings.Contains(out, `"params_total"`) {
		t.Fatalf("stats of the embedded tiny model printed %s", out)
	}
}

// --cpuprofile writes a pprof profile of any command; a path that cannot
// be created is an error before the command runs.
func TestCPUProfile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stats.prof")
	mustDeepc(t, "stats", tinyModel, "--cpuprofile", p)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b { // pprof profiles are gzipped protobuf
		t.Errorf("profile of %d bytes is not a gzipped pprof profile", len(data))
	}
	code, out, errOut := deepc(t, "stats", tinyModel, "--cpuprofile", filepath.Join(t.TempDir(), "no", "such", "dir", "p"))
	if code != 1 || !strings.Contains(errOut, "--cpuprofile") || out != "" {
		t.Errorf("unwritable profile: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
