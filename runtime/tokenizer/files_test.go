//go:build unix

package tokenizer

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

// openWithin runs Open(spec) and fails the test if it has not returned
// within a few seconds: a FIFO would block a plain open forever.
func openWithin(t *testing.T, spec string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, err := Open(spec); done <- err }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("Open(%s) hangs", spec)
		return nil
	}
}

// mkfifo makes a FIFO at path. If a regression leaves a reader blocked in
// open, cleanup opens the write end, which lets it go.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
}

// What stands where tokenizer.json or tokenizer_config.json should be is
// refused when it is not a regular file. The device is /dev/null, not
// /dev/zero: a regression would read /dev/zero into memory without end.
func TestSpecialFilesRefused(t *testing.T) {
	for _, name := range []string{"tokenizer.json", "tokenizer_config.json"} {
		for _, kind := range []string{"FIFO", "device"} {
			dir := t.TempDir()
			if name != "tokenizer.json" {
				if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tinyFile(t, nil), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, name)
			if kind == "FIFO" {
				mkfifo(t, path)
			} else if err := os.Symlink("/dev/null", path); err != nil {
				t.Fatal(err)
			}
			for _, spec := range []string{dir, filepath.Join(dir, "tokenizer.json")} {
				// A file of the directory is never a link (the device is
				// reached through one); tokenizer.json named itself is
				// followed to what it is.
				want := kind
				if kind == "device" && (spec == dir || name == "tokenizer_config.json") {
					want = "link"
				}
				err := openWithin(t, spec)
				if !errors.Is(err, safefile.ErrNotRegular) || !strings.Contains(err.Error(), want) {
					t.Errorf("%s as %s, Open(%s): error %v, want one saying %q", kind, name, spec, err, want)
				}
			}
		}
	}
}

// A missing tokenizer_config.json is fine; an oversized tokenizer.json is
// refused before it is read.
func TestConfigOptionalAndSizeLimit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(path, tinyFile(t, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := openWithin(t, dir); err != nil {
		t.Errorf("no tokenizer_config.json: %v", err)
	}
	// A sparse file: its size is over the limit, its blocks are not on disk.
	if err := os.Truncate(path, safefile.Tokenizer.Max+1); err != nil {
		t.Fatal(err)
	}
	if err := openWithin(t, dir); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("a tokenizer.json over the limit: error %v", err)
	}
}
