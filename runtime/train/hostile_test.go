package train

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/deepc-dev/deepc/runtime/weights"
)

// A finite loss and gradient with an update that overflows (a learning
// rate of 1e39 is +Inf in f32) must not replace the weights: issue 15,
// "--lr NaN trains, saves NaN weights and exits 0".
func TestNonFiniteUpdateChangesNothing(t *testing.T) {
	tr := tinyTrainer(t, v3)
	before := map[string]float32{}
	for k, v := range tr.Params {
		if len(v.F) > 0 {
			before[k] = v.F[0]
		}
	}
	_, err := tr.TakeStep(batch(), 1e39)
	if !errors.Is(err, ErrNotFinite) || !strings.Contains(err.Error(), "updated") {
		t.Fatalf("err = %v, want ErrNotFinite naming the updated tensor", err)
	}
	for k, v := range tr.Params {
		if len(v.F) > 0 && v.F[0] != before[k] && !(math.IsNaN(float64(v.F[0])) && math.IsNaN(float64(before[k]))) {
			t.Errorf("param %s changed by a refused step", k)
		}
	}
	if tr.Step != 0 {
		t.Errorf("step count %d after a refused step", tr.Step)
	}
}

// LoadState reads only the files a checkpoint has, inside it: a hash list
// naming other paths, a missing entry, a link or a FIFO in place of a
// file are refused (issue 15: a state.json naming ../../etc/passwd or
// /dev/zero was read, or hung).
func TestLoadStateRefusesHostileStates(t *testing.T) {
	tr := tinyTrainer(t, v3)
	good := filepath.Join(t.TempDir(), "step-000000")
	if err := tr.Save(good, []byte("{}"), weights.FormatF32, State{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadState(good); err != nil {
		t.Fatalf("a good checkpoint: %v", err)
	}
	editState := func(f func(st map[string]any)) func(dir string) {
		return func(dir string) {
			p := filepath.Join(dir, "train", "state.json")
			raw, _ := os.ReadFile(p)
			var st map[string]any
			json.Unmarshal(raw, &st)
			f(st)
			raw, _ = json.Marshal(st)
			os.WriteFile(p, raw, 0o644)
		}
	}
	hashes := func(st map[string]any) map[string]any { return st["sha256"].(map[string]any) }
	cases := []struct {
		name  string
		spoil func(dir string)
		want  string
	}{
		{"names /etc/passwd", editState(func(st map[string]any) { hashes(st)["../../../etc/passwd"] = "00" }), "not a checkpoint file"},
		{"names /dev/zero", editState(func(st map[string]any) { hashes(st)["/dev/zero"] = "00" }), "not a checkpoint file"},
		{"lacks a file", editState(func(st map[string]any) { delete(hashes(st), "model.safetensors") }), "lists no model.safetensors"},
		{"no hashes", editState(func(st map[string]any) { delete(st, "sha256") }), "lists no"},
		{"state.json not JSON", func(dir string) { os.WriteFile(filepath.Join(dir, "train", "state.json"), []byte("{"), 0o644) }, "state.json"},
		{"a link to a file outside", func(dir string) {
			p := filepath.Join(dir, "config.json")
			os.Remove(p)
			os.Symlink("/etc/passwd", p)
		}, "link"},
		{"a FIFO", func(dir string) {
			p := filepath.Join(dir, "model.safetensors")
			os.Remove(p)
			syscall.Mkfifo(p, 0o600)
		}, "FIFO"},
		{"state.json a link", func(dir string) {
			p := filepath.Join(dir, "train", "state.json")
			raw, _ := os.ReadFile(p)
			other := filepath.Join(t.TempDir(), "state.json")
			os.WriteFile(other, raw, 0o644)
			os.Remove(p)
			os.Symlink(other, p)
		}, "link"},
		{"a changed file", func(dir string) { os.WriteFile(filepath.Join(dir, "config.json"), []byte("{ }"), 0o644) }, "damaged"},
	}
	for _, c := range cases {
		dir := filepath.Join(t.TempDir(), "step-000000")
		if err := os.CopyFS(dir, os.DirFS(good)); err != nil {
			t.Fatal(err)
		}
		c.spoil(dir)
		if _, _, err := LoadState(dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: LoadState = %v, want an error saying %q", c.name, err, c.want)
		}
	}
}

// Saving a checkpoint over one of the same name replaces it whole and
// leaves no temporary directory.
func TestSaveReplaces(t *testing.T) {
	tr := tinyTrainer(t, v3)
	parent := t.TempDir()
	dir := filepath.Join(parent, "step-000000")
	for seed := range uint64(2) {
		if err := tr.Save(dir, []byte("{}"), weights.FormatF32, State{Seed: seed}); err != nil {
			t.Fatal(err)
		}
	}
	if _, st, err := LoadState(dir); err != nil || st.Seed != 1 {
		t.Fatalf("after saving twice: seed %d, %v", st.Seed, err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		t.Errorf("%d entries beside the checkpoint, want none", len(ents)-1)
	}
}
