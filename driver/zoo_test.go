package driver

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
)

// Published config.json files (testdata/hf, as Hugging Face serves them,
// every key kept) select their model file by architecture and compile, by
// its checkpoint contract, to that file's defaults (the published
// configs) with nothing reported as unread; a contract's fixed key that
// disagrees is refused by name.
func TestPublishedConfigs(t *testing.T) {
	for _, c := range []struct{ file, model string }{
		{"llama3-8b.json", "llama3.deep"},
		{"mixtral-8x7b.json", "mixtral.deep"},
		{"qwen2-7b.json", "qwen2.deep"},
		{"deepseek-v2-lite.json", "deepseek_v2_lite.deep"},
	} {
		t.Run(c.model, func(t *testing.T) {
			dir := t.TempDir()
			data, err := os.ReadFile(filepath.Join("testdata", "hf", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			if f, err := ModelFor("", dir); err != nil || f != filepath.Join("models", c.model) {
				t.Fatalf("ModelFor: %q, %v; want models/%s", f, err, c.model)
			}
			var diag bytes.Buffer
			m, err := CompileWithCheckpoint("", dir, nil, &diag)
			if err != nil {
				t.Fatal(err)
			}
			if diag.Len() > 0 {
				t.Errorf("keys reported: %s", diag.String())
			}
			want, err := dsl.CompileFile(filepath.Join("models", c.model), dsl.Options{ReadFile: models.ReadFile})
			if err != nil {
				t.Fatal(err)
			}
			if ir.Print(m) != ir.Print(want) {
				t.Errorf("%s does not compile to %s's defaults", c.file, c.model)
			}

			// A key outside the contract is reported, not dropped silently;
			// a fixed key that disagrees is an error naming it.
			extra := strings.Replace(string(data), "{", `{"made_up_key": 1,`, 1)
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(extra), 0o644)
			diag.Reset()
			if _, err := CompileWithCheckpoint("", dir, nil, &diag); err != nil || !strings.Contains(diag.String(), "made_up_key is not part of model") {
				t.Errorf("unknown key: error %v, report %q", err, diag.String())
			}
			bad := strings.Replace(string(data), `"hidden_act": "silu"`, `"hidden_act": "gelu"`, 1)
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(bad), 0o644)
			if _, err := CompileWithCheckpoint("", dir, nil, &diag); err == nil || !strings.Contains(err.Error(), `hidden_act is "gelu"`) {
				t.Errorf("hidden_act gelu: %v", err)
			}
		})
	}
	// An architecture no model reads is named with the ones that are.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures": ["GPT2LMHeadModel"]}`), 0o644)
	if _, err := ModelFor("", dir); err == nil || !strings.Contains(err.Error(), "LlamaForCausalLM") {
		t.Errorf("GPT-2: %v", err)
	}
}

// Hostile checkpoints and contracts (a review's findings): init replaces
// a config.json link instead of writing through it; a --set the contract
// cannot write is refused; values that change the computation are checked,
// absent ones reported; a contract that could not be read back is refused.
func TestContractHostile(t *testing.T) {
	root := t.TempDir()
	victim := filepath.Join(root, "victim.txt")
	os.WriteFile(victim, []byte("VICTIM"), 0o644)
	ck := filepath.Join(root, "ck")
	os.MkdirAll(ck, 0o755)
	os.Symlink(victim, filepath.Join(ck, "config.json"))
	if _, err := RandomCheckpoint(filepath.Join("models", "llama3_tiny.deep"), nil, ck, 1, "f32", 1, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "VICTIM" {
		t.Errorf("init --force wrote through a config.json link: %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(ck, "config.json")); err != nil || fi.Mode()&os.ModeSymlink != 0 {
		t.Errorf("config.json is still a link (%v)", err)
	}
	if _, err := RandomCheckpoint(filepath.Join("models", "llama3_tiny.deep"), []string{"sliding_window=1"}, filepath.Join(root, "w"), 1, "f32", 1, false); err == nil ||
		!strings.Contains(err.Error(), "no config.json key for sliding_window") {
		t.Errorf("--set sliding_window=1 on Llama: %v", err)
	}
	if _, err := RandomCheckpoint(filepath.Join("models", "llama3_tiny.deep"), nil, filepath.Join(root, "f"), 1, "bogus", 1, false); err == nil {
		t.Error("--format bogus accepted")
	} else if _, err := os.Stat(filepath.Join(root, "f", "config.json")); err == nil {
		t.Error("--format bogus left a config.json behind")
	}

	data, _ := os.ReadFile(filepath.Join(ck, "config.json"))
	edit := func(from, to string) {
		t.Helper()
		if !strings.Contains(string(data), from) {
			t.Fatalf("config.json lacks %q", from)
		}
		os.WriteFile(filepath.Join(ck, "config.json"), []byte(strings.Replace(string(data), from, to, 1)), 0o644)
	}
	var diag bytes.Buffer
	edit(`"mlp_bias": false`, `"mlp_bias": true`)
	if _, err := CompileWithCheckpoint("", ck, nil, &diag); err == nil || !strings.Contains(err.Error(), "mlp_bias is true") {
		t.Errorf("mlp_bias true: %v", err)
	}
	edit(`"rope_theta": 500000,`, ``)
	if _, err := CompileWithCheckpoint("", ck, nil, &diag); err != nil || !strings.Contains(diag.String(), "rope_theta is missing; model llama3 uses its own rope_theta = 500000") {
		t.Errorf("absent rope_theta: %v, %q", err, diag.String())
	}
	diag.Reset()
	edit(`"architectures": [`, `"Architectures": [`)
	if _, err := CompileWithCheckpoint("", ck, nil, &diag); err == nil || !strings.Contains(diag.String(), "names no architectures; compiling models/deepseek_v3.deep") {
		t.Errorf("Architectures (case): %v, %q", err, diag.String())
	}

	// A valid DeepSeek-V3 checkpoint is no fallback; attention_bias true is
	// refused (DeepSeek's code would add biases deepc does not read).
	v3 := filepath.Join(root, "v3")
	if _, err := RandomCheckpoint(filepath.Join("models", "deepseek_v3_tiny.deep"), nil, v3, 1, "f32", 1, false); err != nil {
		t.Fatal(err)
	}
	diag.Reset()
	if _, err := CompileWithCheckpoint("", v3, nil, &diag); err != nil || diag.Len() > 0 {
		t.Errorf("V3 checkpoint: %v, %q", err, diag.String())
	}
	data, _ = os.ReadFile(filepath.Join(v3, "config.json"))
	ck = v3
	edit(`"attention_bias": false`, `"attention_bias": true`)
	if _, err := CompileWithCheckpoint("", v3, nil, &diag); err == nil || !strings.Contains(err.Error(), "attention_bias is true") {
		t.Errorf("V3 attention_bias true: %v", err)
	}

	// Contracts that could not be read back.
	for _, c := range []struct{ src, want string }{
		{"model m extends \"llama3_tiny.deep\"\ncheckpoint \"M\" { a_layers = n_layers, b_layers = n_layers }\n", "maps both a_layers and b_layers to n_layers"},
		{"model m extends \"llama3_tiny.deep\"\ncheckpoint \"M\" { scaling = rope_scaling }\n", "config.json holds only rope_scaling so"},
	} {
		p := filepath.Join(root, "bad.deep")
		os.WriteFile(p, []byte(c.src), 0o644)
		if _, err := RandomCheckpoint(p, nil, filepath.Join(root, "bad"), 1, "f32", 1, true); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v", c.src, err)
		}
	}
}
