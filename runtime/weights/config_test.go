package weights

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/models"
)

// TestCheckpointWithConfig is the whole path a user takes: a checkpoint
// directory with config.json and weights; the model comes from
// deepseek_v3.deep with the config's overrides and binds every tensor.
func TestCheckpointWithConfig(t *testing.T) {
	tiny := compileTiny(t)
	for _, format := range []string{FormatFP8, FormatBF16} {
		m := tiny
		if format == FormatBF16 {
			var err error
			m, err = dsl.CompileFile("../../models/deepseek_v3_tiny.deep", dsl.Options{Sets: []string{"weight_dtype=bf16", "weight_quant=none"}})
			if err != nil {
				t.Fatal(err)
			}
		}
		dir := t.TempDir()
		if err := RandomCheckpoint(m, dir, 9, format, 3); err != nil {
			t.Fatal(err)
		}
		cfg, err := models.HFConfigJSON(m)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)

		data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		sets, err := models.SetsFromHFConfig("../../models/deepseek_v3.deep", data)
		if err != nil {
			t.Fatal(err)
		}
		fromCfg, err := dsl.CompileFile("../../models/deepseek_v3.deep", dsl.Options{Sets: sets})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Inspect(fromCfg, dir); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		ts, err := Load(fromCfg, dir)
		if err != nil || len(ts) != len(m.Params) {
			t.Fatalf("%s: %d tensors, %v", format, len(ts), err)
		}
	}
}
