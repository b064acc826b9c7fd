package bundle

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen feeds arbitrary bytes as a bundle's manifest.json beside one
// file, ir/module.ir (issue 15). Whatever the input: no panic, and a
// manifest that opens lists exactly the files there with their hashes.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "good")
	if err := Write(good, &Manifest{Compiler: "deepc fuzz", Target: "sm_90a"}, map[string][]byte{"ir/module.ir": []byte("module")}, false); err != nil {
		f.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(good, "manifest.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Fuzz(func(t *testing.T, manifest []byte) {
		b := t.TempDir()
		os.MkdirAll(filepath.Join(b, "ir"), 0o755)
		os.WriteFile(filepath.Join(b, "ir", "module.ir"), []byte("module"), 0o644)
		os.WriteFile(filepath.Join(b, "manifest.json"), manifest, 0o644)
		m, err := Open(b, "")
		if err != nil {
			return
		}
		if len(m.Files) != 1 {
			t.Fatalf("opened with files %v; the bundle holds one", m.Files)
		}
		if _, err := ReadFile(b, "ir/module.ir"); err != nil {
			t.Fatalf("opened, then its file does not read: %v", err)
		}
	})
}
