package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFileRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2049), 0o600); err != nil {
		t.Fatal(err)
	}
	small := Kind{"test file", 2048}
	cases := []struct {
		path, want string
	}{
		{fifo, "FIFO"},
		{"/dev/zero", "device"},
		{dir, "directory"},
		{big, "at most 2048"},
		{filepath.Join(dir, "absent"), "no such file"},
	}
	for _, c := range cases {
		done := make(chan error, 1)
		go func() { _, err := ReadFile(c.path, small); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ReadFile(%s) = %v, want an error saying %q", c.path, err, c.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("ReadFile(%s) hangs", c.path)
		}
	}
	// A link the user names is followed to a regular file.
	ok := filepath.Join(dir, "ok")
	os.WriteFile(ok, []byte("x"), 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(ok, link)
	if b, err := ReadFile(link, small); err != nil || string(b) != "x" {
		t.Errorf("ReadFile(link to a file) = %q, %v", b, err)
	}
}

func TestReadInStaysInside(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	os.WriteFile(secret, []byte("secret"), 0o600)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	os.WriteFile(filepath.Join(dir, "sub", "ok"), []byte("ok"), 0o600)
	os.Symlink(secret, filepath.Join(dir, "link"))
	os.Symlink(outside, filepath.Join(dir, "dirlink"))
	k := Kind{"test file", 1 << 10}
	if b, err := ReadIn(dir, "sub/ok", k); err != nil || string(b) != "ok" {
		t.Fatalf("ReadIn(sub/ok) = %q, %v", b, err)
	}
	for _, name := range []string{
		"link", "dirlink/secret", "../" + filepath.Base(outside) + "/secret", secret,
		"sub/../sub/ok", "./sub/ok", "", ".", "sub//ok", "sub\\ok", "a\x00b",
	} {
		b, err := ReadIn(dir, name, k)
		if err == nil {
			t.Errorf("ReadIn(%q) read %q; want a refusal", name, b)
		}
		if err != nil && name == "link" && !errors.Is(err, ErrNotRegular) {
			t.Errorf("ReadIn(link): %v, want ErrNotRegular", err)
		}
	}
}
