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
