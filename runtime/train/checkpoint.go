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
	"github.com/deepc-dev/deepc/internal/safefile"
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
// directories start with ".tmp-", are never read, and are removed when a
// run next claims the directory).

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
		if err := WriteSynced(filepath.Join(tmp, name), b); err != nil {
			return err
		}
	}
	for _, d := range []string{filepath.Join(tmp, "train"), tmp} {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	// An older checkpoint of the same name (a resumed run taking the same
	// steps again) is renamed aside and removed only once the new one is
	// in place; the caller has pointed latest elsewhere (see driver).
	aside := ""
	if _, err := os.Lstat(dir); err == nil {
		aside = tmp + "-old"
		if err := os.Rename(dir, aside); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	if err := syncDir(parent); err != nil {
		return err
	}
	if aside != "" {
		return os.RemoveAll(aside)
	}
	return nil
}

// isState reports the trainer-only params (optimizer moments): not part
// of the model checkpoint.
func isState(name string) bool { return strings.HasPrefix(name, "optim.") }

// WriteSynced writes b to path and fsyncs it: what a rename then puts in
// place is whole after a crash.
func WriteSynced(path string, b []byte) error {
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

// checkpointFiles are the files Save hashes into state.json.
var checkpointFiles = []string{"config.json", "model.safetensors", "train/state.safetensors"}

// hashIn is the SHA-256 of the file name inside dir (safefile.OpenIn: no
// link, no FIFO).
func hashIn(dir, name string) (string, error) {
	f, err := safefile.OpenIn(dir, name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return filehash.Of(f)
}

// LoadState reads checkpoint dir's train state, verifying every file's
// SHA-256 first: the params to resume with (as saved) and State.
func LoadState(dir string) (map[string]*runtime.Tensor, State, error) {
	var st State
	js, err := safefile.ReadIn(dir, "train/state.json", safefile.State)
	if err != nil {
		return nil, st, fmt.Errorf("resume: %w (is %s a training checkpoint?)", err, dir)
	}
	if err := json.Unmarshal(js, &st); err != nil {
		return nil, st, fmt.Errorf("resume: %s/train/state.json: %v", dir, err)
	}
	// The hash list names exactly the files Save writes: a name from the
	// file is never used as a path.
	for n := range st.SHA256 {
		if !slices.Contains(checkpointFiles, n) {
			return nil, st, fmt.Errorf("resume: %s/train/state.json lists %q, which is not a checkpoint file (%s)", dir, n, strings.Join(checkpointFiles, ", "))
		}
	}
	for _, n := range checkpointFiles {
		want, ok := st.SHA256[n]
		if !ok {
			return nil, st, fmt.Errorf("resume: %s/train/state.json lists no %s", dir, n)
		}
		got, err := hashIn(dir, n)
		if err != nil {
			return nil, st, fmt.Errorf("resume: %w", err)
		}
		if got != want {
			return nil, st, fmt.Errorf("resume: %s/%s has SHA-256 %s, state.json says %s: the checkpoint is damaged", dir, n, got, want)
		}
	}
	f, err := weights.OpenIn(dir, "train/state.safetensors")
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
