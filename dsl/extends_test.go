package dsl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deepc-dev/deepc/internal/safefile"
)

const secret = "root:x:0:0:TOPSECRET:/root:/bin/bash\n"

const parentModel = `model parent
config {
  d = 4
}
export block forward(x: [T, d] f32) -> [T, d] f32 {
  return x
}
`

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// compileWatched compiles path with the default reader, recording what
// the compile reads.
func compileWatched(path string) (read []string, err error) {
	_, err = CompileFile(path, Options{ReadFile: func(p string) ([]byte, error) {
		read = append(read, p)
		return safefile.ReadFile(p, safefile.Model)
	}})
	return read, err
}

// A target that is not a .deep file is refused before it is read, so no
// line of it can show in an error: `extends "../../etc/passwd"` printed
// the file's first line in its parse error.
func TestExtendsNonModelFile(t *testing.T) {
	dir := t.TempDir()
	secretPath := writeFile(t, dir, "secret.txt", secret)
	writeFile(t, dir, "noext", secret)
	for name, target := range map[string]string{
		"relative":      "../secret.txt",
		"no extension":  "../noext",
		"absolute":      secretPath,
		"absolute /etc": "/etc/passwd",
		"device":        "/dev/zero",
		"directory":     "..",
		"empty":         "",
	} {
		t.Run(name, func(t *testing.T) {
			child := writeFile(t, dir, "models/child.deep", "model child extends \""+target+"\"\n")
			read, err := compileWatched(child)
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Msg, "a model extends only a .deep file") {
				t.Fatalf("want a refusal, got %v", err)
			}
			if e.File != child || e.Line != 1 || e.Col != 13 {
				t.Errorf("error not at the extends clause: %s", err)
			}
			if strings.Contains(err.Error(), "TOPSECRET") || strings.Contains(err.Error(), "root:") {
				t.Errorf("error shows the file's content:\n%s", err)
			}
			if len(read) != 1 {
				t.Errorf("read %v; want only the child", read)
			}
		})
	}
}

// A link named .deep that leads to another kind of file is refused too.
func TestExtendsLinkToNonModel(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "secret.txt", secret)
	if err := os.Symlink("secret.txt", filepath.Join(dir, "evil.deep")); err != nil {
		t.Skip(err)
	}
	child := writeFile(t, dir, "child.deep", "model child extends \"evil.deep\"\n")
	read, err := compileWatched(child)
	if err == nil || !strings.Contains(err.Error(), "not a .deep file") || strings.Contains(err.Error(), "TOPSECRET") {
		t.Fatalf("want a refusal without the content, got %v", err)
	}
	if len(read) != 1 {
		t.Errorf("read %v; want only the child", read)
	}
}

// An absolute path is taken as it is; it used to be joined to the
// child's directory, naming a file that does not exist.
func TestExtendsAbsolute(t *testing.T) {
	parent := writeFile(t, t.TempDir(), "lib/parent.deep", parentModel)
	child := writeFile(t, t.TempDir(), "child.deep", "model child extends \""+parent+"\"\nconfig {\n  d = 8\n}\n")
	read, err := compileWatched(child)
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != 2 || read[1] != parent {
		t.Errorf("read %v; want the child then %s", read, parent)
	}
	// And a relative path with .. still works.
	dir := t.TempDir()
	writeFile(t, dir, "lib/parent.deep", parentModel)
	child = writeFile(t, dir, "models/child.deep", "model child extends \"../lib/parent.deep\"\n")
	if _, err := compileWatched(child); err != nil {
		t.Fatal(err)
	}
}

// A FIFO or a device named as a model is refused by the default reader
// (safefile) instead of blocking the compile forever.
func TestExtendsFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.deep")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	child := writeFile(t, dir, "child.deep", "model child extends \"pipe.deep\"\n")
	for _, path := range []string{child, fifo} {
		done := make(chan error, 1)
		go func() {
			_, err := CompileFile(path, Options{})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s: want a refusal, got %v", path, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: compile blocked on a FIFO", path)
		}
	}
}

func TestExtendsCycle(t *testing.T) {
	dir := t.TempDir()
	self := writeFile(t, dir, "self.deep", "model self extends \"self.deep\"\n")
	a := writeFile(t, dir, "a.deep", "model a extends \"b.deep\"\n")
	writeFile(t, dir, "b.deep", "model b extends \"sub/../a.deep\"\n")
	abs := writeFile(t, dir, "c.deep", "model c extends \""+filepath.Join(dir, "c.deep")+"\"\n")
	for _, p := range []string{self, a, abs} {
		_, err := CompileFile(p, Options{})
		if err == nil || !strings.Contains(err.Error(), "extends cycle") {
			t.Errorf("%s: want a cycle, got %v", p, err)
		}
	}
	// A chain longer than maxExtends files.
	for i := 0; i < 20; i++ {
		writeFile(t, dir, "chain"+string(rune('a'+i))+".deep", "model m extends \"chain"+string(rune('a'+i+1))+".deep\"\n")
	}
	_, err := CompileFile(filepath.Join(dir, "chaina.deep"), Options{})
	if err == nil || !strings.Contains(err.Error(), "extends chain longer than 16 files") {
		t.Errorf("want the chain limit, got %v", err)
	}
}
