package driver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// RandomCheckpoint is deepc init: the model file compiled with sets, and a
// Hugging Face style checkpoint of it written to dir — config.json and
// deterministic random weights (weights.RandomCheckpoint) in format
// (f32, bf16 or fp8) over shards files. It returns the compiled module.
func RandomCheckpoint(file string, sets []string, dir string, seed int64, format string, shards int, force bool) (*ir.Module, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 && !force {
		return nil, fmt.Errorf("--out %s holds files (a checkpoint there would be overwritten by random weights); choose a new or empty directory, or --force", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--out %s: %w", dir, err)
	}
	m, err := dsl.CompileFile(file, dsl.Options{Sets: sets, ReadFile: models.ReadFile})
	if err != nil {
		return nil, err
	}
	if err := models.CheckSetsWritable(m, sets); err != nil {
		return nil, err
	}
	if err := checkParamMemory(m, 2, "random weights for "+m.Name); err != nil {
		return nil, err
	}
	if shards < 1 || shards > len(m.Params) {
		return nil, fmt.Errorf("--shards %d: want 1 to %d (the model's params)", shards, len(m.Params))
	}
	cfg, err := models.HFConfigJSON(m)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// The weights first: a bad --format leaves no config.json behind.
	if err := weights.RandomCheckpoint(m, dir, seed, format, shards); err != nil {
		return nil, err
	}
	return m, weights.WriteBytes(filepath.Join(dir, "config.json"), cfg)
}
