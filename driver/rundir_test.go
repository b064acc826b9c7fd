package driver

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/runtime"
)

// A run's directory is new, empty, or its own run being resumed; a user's
// files and another run are refused and kept, and a second writer is
// locked out (issue 15: train --out over another run replaced its
// checkpoints; two runs into one directory interleaved).
// A resume state missing a tensor the program needs is refused, naming it
// (issue 15: a missing optimizer moment restarted at zero silently).
func TestResumeHoldsAll(t *testing.T) {
	m, err := dsl.CompileFile("../models/deepseek_v3_tiny.deep", dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]*runtime.Tensor{}
	for _, p := range m.Params {
		params[p.Name] = &runtime.Tensor{}
	}
	if err := resumeHoldsAll(m, params, "ck"); err != nil {
		t.Fatalf("every param present: %v", err)
	}
	gone := m.Params[len(m.Params)/2].Name
	delete(params, gone)
	if err := resumeHoldsAll(m, params, "ck"); err == nil || !strings.Contains(err.Error(), gone) {
		t.Errorf("without %s: %v", gone, err)
	}
}

func TestClaimRunDir(t *testing.T) {
	base := t.TempDir()
	fresh := filepath.Join(base, "new")
	unlock, err := claimRunDir(fresh, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := claimRunDir(fresh, ""); err == nil || !strings.Contains(err.Error(), "another deepc train") {
		t.Errorf("a second claim while the first holds the lock: %v", err)
	}
	os.WriteFile(filepath.Join(fresh, "run.json"), []byte("{}"), 0o644)
	os.Mkdir(filepath.Join(fresh, "step-000002"), 0o755)
	unlock()

	if _, err := claimRunDir(fresh, ""); err == nil || !strings.Contains(err.Error(), "holds another run") {
		t.Errorf("a directory holding a run, not resumed: %v", err)
	}
	other := filepath.Join(base, "other", "step-000002")
	os.MkdirAll(other, 0o755)
	if _, err := claimRunDir(fresh, other); err == nil || !strings.Contains(err.Error(), "holds another run") {
		t.Errorf("a directory holding a run, resumed from another: %v", err)
	}
	// What a killed run left (temporary checkpoints, a half-written
	// latest) goes when a run claims the directory; nothing else does.
	os.MkdirAll(filepath.Join(fresh, ".tmp-step-000004-123", "train"), 0o755)
	os.WriteFile(filepath.Join(fresh, ".tmp-latest"), []byte("step-0"), 0o644)
	os.WriteFile(filepath.Join(fresh, "metrics.jsonl"), []byte("{}\n"), 0o644)
	unlock, err = claimRunDir(fresh, filepath.Join(fresh, "step-000002"))
	if err != nil {
		t.Errorf("resuming into the run's own directory: %v", err)
	} else {
		unlock()
	}
	var left []string
	ents, _ := os.ReadDir(fresh)
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if want := []string{lockName, "metrics.jsonl", "run.json", "step-000002"}; !slices.Equal(left, want) {
		t.Errorf("after claiming: %v, want %v", left, want)
	}

	user := filepath.Join(base, "user")
	os.Mkdir(user, 0o755)
	os.WriteFile(filepath.Join(user, "notes.txt"), []byte("mine"), 0o644)
	if _, err := claimRunDir(user, ""); err == nil || !strings.Contains(err.Error(), "no deepc run") {
		t.Errorf("a directory of user files: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(user, "notes.txt")); string(b) != "mine" {
		t.Errorf("the user's file: %q", b)
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, []byte("mine"), 0o644)
	if _, err := claimRunDir(file, ""); err == nil {
		t.Error("a file as the run directory was accepted")
	}
	if b, _ := os.ReadFile(file); string(b) != "mine" {
		t.Errorf("the user's file in the way: %q", b)
	}
	empty := filepath.Join(base, "empty")
	os.Mkdir(empty, 0o755)
	if unlock, err := claimRunDir(empty, ""); err != nil {
		t.Errorf("an empty directory: %v", err)
	} else {
		unlock()
	}
}
