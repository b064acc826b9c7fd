package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// FuzzLoadState feeds arbitrary bytes as a checkpoint's train/state.json
// (issue 15: a hash list naming ../../etc/passwd or /dev/zero was read).
// Whatever the input: no panic, nothing read outside the checkpoint, and
// a state that loads has every file verified.
func FuzzLoadState(f *testing.F) {
	files := map[string][]byte{"config.json": []byte("{}"), "model.safetensors": []byte("weights")}
	st, err := weights.Encode([]weights.NamedTensor{{Name: "optim.m", T: runtime.NewTensor(ir.F32, 2, 3)}})
	if err != nil {
		f.Fatal(err)
	}
	files["train/state.safetensors"] = st
	sums := map[string]string{}
	for n, b := range files {
		s := sha256.Sum256(b)
		sums[n] = hex.EncodeToString(s[:])
	}
	good, _ := json.Marshal(State{Step: 3, Seed: 1, SHA256: sums})
	f.Add(good)
	f.Fuzz(func(t *testing.T, state []byte) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "train"), 0o755)
		for n, b := range files {
			os.WriteFile(filepath.Join(dir, n), b, 0o644)
		}
		os.WriteFile(filepath.Join(dir, "train", "state.json"), state, 0o644)
		params, _, err := LoadState(dir)
		if err != nil {
			return
		}
		if len(params) != 1 || params["optim.m"] == nil {
			t.Fatalf("loaded %d params", len(params))
		}
	})
}
