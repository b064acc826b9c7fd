package driver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run's directory is new, empty, or its own run being resumed; a user's
// files and another run are refused and kept, and a second writer is
// locked out (issue 15: train --out over another run replaced its
// checkpoints; two runs into one directory interleaved).
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
	unlock, err = claimRunDir(fresh, filepath.Join(fresh, "step-000002"))
	if err != nil {
		t.Errorf("resuming into the run's own directory: %v", err)
	} else {
		unlock()
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
