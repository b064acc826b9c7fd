package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/internal/filehash"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// A checkpoint is a directory:
//
//	config.json             the model's Hugging Face config
//	model.safetensors       the weights in the model's dtypes (fp8 with
//	                        scales): what deepc forward/generate load
//	train/state.safetensors f32 master weights, optimizer moments, routing
//	                        biases: exactly what the trainer holds
//	train/state.json        step, seed, data cursor, run settings and the
//	                        SHA-256 of every file above
//
// It is written into a temporary sibling directory, every file and the
// directory fsynced, then renamed into place and the parent fsynced: a
// killed run leaves either the whole checkpoint or none (temporary
// directories start with ".tmp-" and are never read).

// State is a checkpoint's train/state.json.
type State struct {
	Step     int               `json:"step"`
	Seed     uint64            `json:"seed"`
	Cursor   Cursor            `json:"cursor"`
	Settings json.RawMessage   `json:"settings,omitempty"` // the run's settings, for --resume
	SHA256   map[string]string `json:"sha256"`
}

// Save writes the trainer's state as checkpoint dir. config is the
// model's config.json; format the model.safetensors format
// (weights.FormatFP8 for the model's own dtypes).
func (t *Trainer) Save(dir string, config []byte, format string, st State) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dir)+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := os.MkdirAll(filepath.Join(tmp, "train"), 0o755); err != nil {
		return err
	}
	files := map[string][]byte{"config.json": config}
	model, err := weights.StoredTensors(t.Module, t.Params, format, isState)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if files["model.safetensors"], err = weights.Encode(model); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	var state []weights.NamedTensor
	for _, p := range t.Module.Params {
		if v, ok := t.Params[p.Name]; ok {
			state = append(state, weights.NamedTensor{Name: p.Name, T: v})
		}
	}
	if files["train/state.safetensors"], err = weights.Encode(state); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	st.Step = t.Step
	st.SHA256 = map[string]string{}
	for name, b := range files {
		sum := sha256.Sum256(b)
		st.SHA256[name] = hex.EncodeToString(sum[:])
	}
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	files["train/state.json"] = append(js, '\n')
	for name, b := range files {
		if err := writeSynced(filepath.Join(tmp, name), b); err != nil {
			return err
		}
	}
	for _, d := range []string{filepath.Join(tmp, "train"), tmp} {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return syncDir(parent)
}

// isState reports the trainer-only params (optimizer moments): not part
// of the model checkpoint.
func isState(name string) bool { return strings.HasPrefix(name, "optim.") }

func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// LoadState reads checkpoint dir's train state, verifying every file's
// SHA-256 first: the params to resume with (as saved) and State.
func LoadState(dir string) (map[string]*runtime.Tensor, State, error) {
	var st State
	js, err := os.ReadFile(filepath.Join(dir, "train", "state.json"))
	if err != nil {
		return nil, st, fmt.Errorf("resume: %w (is %s a training checkpoint?)", err, dir)
	}
	if err := json.Unmarshal(js, &st); err != nil {
		return nil, st, fmt.Errorf("resume: %s/train/state.json: %v", dir, err)
	}
	names := make([]string, 0, len(st.SHA256))
	for n := range st.SHA256 {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		got, err := filehash.SHA256(filepath.Join(dir, n))
		if err != nil {
			return nil, st, fmt.Errorf("resume: %w", err)
		}
		if got != st.SHA256[n] {
			return nil, st, fmt.Errorf("resume: %s/%s has SHA-256 %s, state.json says %s: the checkpoint is damaged", dir, n, got, st.SHA256[n])
		}
	}
	if st.SHA256["train/state.safetensors"] == "" {
		return nil, st, fmt.Errorf("resume: %s/train/state.json lists no train/state.safetensors", dir)
	}
	f, err := weights.Open(filepath.Join(dir, "train", "state.safetensors"))
	if err != nil {
		return nil, st, fmt.Errorf("resume: %w", err)
	}
	defer f.Close()
	params := map[string]*runtime.Tensor{}
	for _, info := range f.Tensors() {
		t, err := f.Tensor(info.Name)
		if err != nil {
			return nil, st, fmt.Errorf("resume: %w", err)
		}
		if t.DType != ir.F32 && t.DType.IsFloat() {
			t.DType = ir.F32 // stored values are exact in their dtype
		}
		params[info.Name] = t
	}
	return params, st, nil
}
