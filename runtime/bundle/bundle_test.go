package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeSample(t *testing.T, dir string) *Manifest {
	t.Helper()
	m := &Manifest{Compiler: "deepc test", Target: "sm_90a", Model: "m", ModelHash: "h",
		Graphs: map[string]json.RawMessage{"forward": json.RawMessage(`[]`)}, Kernels: json.RawMessage(`[]`)}
	files := map[string][]byte{"kernels/a.ptx": []byte("ptx a"), "kernels/b.ptx": []byte("ptx b"), "ir/module.ir": []byte("module")}
	if err := Write(dir, m, files, false); err != nil {
		t.Fatal(err)
	}
	return m
}

// Writing is deterministic and what is written opens; its files read back.
func TestWriteOpen(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	writeSample(t, a)
	writeSample(t, b)
	for _, f := range []string{"manifest.json", "kernels/a.ptx", "ir/module.ir"} {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Fatalf("%s differs between two writes of the same bundle", f)
		}
	}
	m, err := Open(a, "sm_90a")
	if err != nil {
		t.Fatal(err)
	}
	if m.Model != "m" || len(m.Files) != 3 || m.FormatVersion != FormatVersion {
		t.Fatalf("manifest read back: %+v", m)
	}
	if got, err := ReadFile(a, "kernels/b.ptx"); err != nil || string(got) != "ptx b" {
		t.Fatalf("ReadFile: %q, %v", got, err)
	}
	// Write refuses paths that leave the bundle.
	for _, p := range []string{"../x", "/abs", "manifest.json", `a\b`, "a/./b", "a//b", ""} {
		if err := Write(filepath.Join(t.TempDir(), "c"), &Manifest{}, map[string][]byte{p: nil}, false); err == nil {
			t.Errorf("Write accepted the path %q", p)
		}
		if _, err := ReadFile(a, p); err == nil {
			t.Errorf("ReadFile accepted the path %q", p)
		}
	}
}

// Write never destroys what it did not make (issue 15: -o over a user's
// file deleted it; a user's <out>.tmp/ was deleted): a file at the output
// path is refused and kept, a directory named like the old temporary is
// left alone, an empty directory is replaced, and nothing temporary is
// left behind.
func TestWriteKeepsWhatItDidNotMake(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	os.WriteFile(file, []byte("user data"), 0o644)
	if err := Write(file, &Manifest{}, map[string][]byte{"x": []byte("1")}, false); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("write over a file: %v", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "user data" {
		t.Errorf("the user's file after a refused write: %q, %v", b, err)
	}
	out := filepath.Join(dir, "out.bundle")
	os.MkdirAll(out+".tmp", 0o755)
	os.WriteFile(filepath.Join(out+".tmp", "keep"), []byte("mine"), 0o644)
	os.Mkdir(out, 0o755) // empty: replaced
	if err := Write(out, &Manifest{}, map[string][]byte{"x": []byte("1")}, false); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out+".tmp", "keep")); err != nil || string(b) != "mine" {
		t.Errorf("the user's out.bundle.tmp/keep: %q, %v", b, err)
	}
	if _, err := Open(out, ""); err != nil {
		t.Errorf("the bundle written into an empty directory: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"f.txt", "out.bundle", "out.bundle.tmp"}; !slices.Equal(names, want) {
		t.Errorf("directory holds %v, want %v (no temporary left)", names, want)
	}
}

// -o over a bundle deepc wrote replaces it; over a bundle with a user's
// file added, an edited bundle, or a directory of other files, Write
// refuses and changes nothing unless force is set.
func TestWriteReplacesOnlyItsOwn(t *testing.T) {
	m2 := func() *Manifest { return &Manifest{Compiler: "deepc test", Model: "second"} }
	a := filepath.Join(t.TempDir(), "a")
	writeSample(t, a)
	if err := Write(a, m2(), map[string][]byte{"x": []byte("2")}, false); err != nil {
		t.Fatalf("write over a bundle deepc wrote: %v", err)
	}
	if m, err := Open(a, ""); err != nil || m.Model != "second" || len(m.Files) != 1 {
		t.Fatalf("after replacing: %+v, %v", m, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(a)); len(ents) != 1 {
		t.Errorf("replacing left %d entries beside the bundle, want none", len(ents)-1)
	}
	for name, spoil := range map[string]func(dir string){
		"a user's file added": func(dir string) { os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644) },
		"a file edited":       func(dir string) { os.WriteFile(filepath.Join(dir, "ir", "module.ir"), []byte("mine"), 0o644) },
		"another compiler": func(dir string) {
			raw, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
			os.WriteFile(filepath.Join(dir, "manifest.json"), bytes.Replace(raw, []byte(`"deepc test"`), []byte(`"tvm"`), 1), 0o644)
		},
		"not a bundle": func(dir string) {
			os.RemoveAll(dir)
			os.MkdirAll(filepath.Join(dir, "src"), 0o755)
			os.WriteFile(filepath.Join(dir, "src", "main.go"), []byte("mine"), 0o644)
		},
	} {
		dir := filepath.Join(t.TempDir(), "b")
		writeSample(t, dir)
		spoil(dir)
		before := treeOf(t, dir)
		err := Write(dir, m2(), map[string][]byte{"x": []byte("2")}, false)
		if err == nil || !strings.Contains(err.Error(), "--force") {
			t.Errorf("%s: Write = %v, want a refusal suggesting --force", name, err)
		}
		if after := treeOf(t, dir); after != before {
			t.Errorf("%s: a refused write changed the directory:\n%s\nnow\n%s", name, before, after)
		}
		if err := Write(dir, m2(), map[string][]byte{"x": []byte("2")}, true); err != nil {
			t.Errorf("%s: --force: %v", name, err)
		} else if m, err := Open(dir, ""); err != nil || m.Model != "second" {
			t.Errorf("%s: after --force: %+v, %v", name, m, err)
		}
	}
}

// treeOf lists every file under dir with its content.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			b.WriteString(p + "=" + string(data) + "\n")
		}
		return nil
	})
	return b.String()
}

// A bundle that is not exactly what its manifest says is refused, with
// the reason and how to rebuild.
func TestOpenRefuses(t *testing.T) {
	for _, c := range []struct {
		name   string
		tamper func(dir string)
		target string
		want   string
	}{
		{"target", func(string) {}, "sm_100a", "built for sm_90a, not sm_100a"},
		{"modified file", func(d string) { os.WriteFile(filepath.Join(d, "kernels/a.ptx"), []byte("evil"), 0o644) }, "", "does not match its SHA-256"},
		{"extra file", func(d string) { os.WriteFile(filepath.Join(d, "kernels/c.ptx"), []byte("x"), 0o644) }, "", "not in the manifest"},
		{"missing file", func(d string) { os.Remove(filepath.Join(d, "ir/module.ir")) }, "", "missing ir/module.ir"},
		{"symlink", func(d string) {
			outside := filepath.Join(filepath.Dir(d), "outside")
			os.WriteFile(outside, []byte("ptx a"), 0o644)
			os.Remove(filepath.Join(d, "kernels/a.ptx"))
			os.Symlink(outside, filepath.Join(d, "kernels/a.ptx"))
		}, "", "not a regular file"},
		{"version", func(d string) { rewrite(d, func(m map[string]any) { m["format_version"] = 99 }) }, "", "format version 99"},
		{"unknown field", func(d string) { rewrite(d, func(m map[string]any) { m["surprise"] = 1 }) }, "", "unknown field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "b")
			writeSample(t, dir)
			c.tamper(dir)
			_, err := Open(dir, c.target)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open: %v, want an error saying %q", err, c.want)
			}
		})
	}
}

func rewrite(dir string, f func(map[string]any)) {
	p := filepath.Join(dir, "manifest.json")
	b, _ := os.ReadFile(p)
	m := map[string]any{}
	json.Unmarshal(b, &m)
	f(m)
	b, _ = json.Marshal(m)
	os.WriteFile(p, b, 0o644)
}

// What a killed Write left beside the output (kill -9 runs no cleanup) is
// removed by the next Write of that output; a live writer's is kept.
func TestWriteRemovesStaleTemporaries(t *testing.T) {
	p := exec.Command("true")
	if err := p.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	dead := p.Process.Pid
	parent := t.TempDir()
	out := filepath.Join(parent, "b")
	stale := []string{fmt.Sprintf(".b.tmp-%d-1", dead), fmt.Sprintf(".b.old-%d-2", dead)}
	kept := []string{fmt.Sprintf(".b.tmp-%d-3", os.Getpid()), ".b.tmp-x-4", ".c.tmp-" + fmt.Sprint(dead) + "-5"}
	for _, d := range append(slices.Clone(stale), kept...) {
		os.MkdirAll(filepath.Join(parent, d, "kernels"), 0o755)
	}
	if err := Write(out, &Manifest{Compiler: "deepc test"}, map[string][]byte{"x": []byte("1")}, false); err != nil {
		t.Fatal(err)
	}
	for _, d := range stale {
		if _, err := os.Stat(filepath.Join(parent, d)); err == nil {
			t.Errorf("%s (its writer is gone) was kept", d)
		}
	}
	for _, d := range kept {
		if _, err := os.Stat(filepath.Join(parent, d)); err != nil {
			t.Errorf("%s was removed: %v", d, err)
		}
	}
}
