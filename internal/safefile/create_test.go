package safefile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// An output replaces only a file of its own kind; a link, a special file
// or another kind of file is refused and left as it was.
func TestCreateReplacesOnlyItsKind(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	victim := write("victim.txt", "my notes")
	os.Symlink(victim, filepath.Join(dir, "link.npy"))
	syscall.Mkfifo(filepath.Join(dir, "fifo.npy"), 0o600)
	old := write("old.npy", "\x93NUMPY old logits")
	for name, want := range map[string]string{
		"victim.txt": "is not a NumPy .npy file",
		"link.npy":   "is a link",
		"fifo.npy":   "FIFO",
	} {
		if f, err := Create(filepath.Join(dir, name), NPY); err == nil || !strings.Contains(err.Error(), want) {
			if f != nil {
				f.Close()
			}
			t.Errorf("Create(%s) = %v, want an error saying %q", name, err, want)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "my notes" {
		t.Errorf("the victim now holds %q", b)
	}
	f, err := Create(old, NPY)
	if err != nil {
		t.Fatalf("replacing an .npy: %v", err)
	}
	f.WriteString("\x93NUMPY new")
	f.Close()
	if b, _ := os.ReadFile(old); string(b) != "\x93NUMPY new" {
		t.Errorf("the replaced .npy holds %q", b)
	}
	if _, err := CheckOutput(write("grads.safetensors", "x"), Safetensor); err == nil {
		t.Error("an existing safetensors file was accepted as an output with no magic")
	}
	fresh := filepath.Join(dir, "new.png")
	if f, err := Create(fresh, PNG); err != nil {
		t.Errorf("a new file: %v", err)
	} else {
		f.Close()
	}
	// Inside a run directory, appends and writes do not follow links.
	os.Symlink(victim, filepath.Join(dir, "metrics.jsonl"))
	if f, err := AppendIn(dir, "metrics.jsonl"); err == nil {
		f.Close()
		t.Error("AppendIn followed a link")
	}
	os.Symlink(victim, filepath.Join(dir, "run.json"))
	if err := WriteIn(dir, "run.json", []byte("{}")); err == nil {
		t.Error("WriteIn followed a link")
	}
	if b, _ := os.ReadFile(victim); string(b) != "my notes" {
		t.Errorf("the victim now holds %q", b)
	}
}
