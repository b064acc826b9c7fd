package safefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// An Output is a kind of file deepc writes, known by how it begins: an
// existing file is replaced only when it is one (deepc, or something
// like it, wrote it). Anything else — a checkpoint's weights, a user's
// notes — is refused and kept, and a link is never written through.
type Output struct {
	Name  string
	Magic []byte // what such a file begins with; nil: any existing file is refused
}

// The outputs deepc writes whole.
var (
	NPY        = Output{"NumPy .npy file", []byte("\x93NUMPY")}
	PNG        = Output{"PNG image", []byte("\x89PNG\r\n\x1a\n")}
	IRText     = Output{"deepc IR text", []byte("module @")}
	Profile    = Output{"CPU profile", []byte{0x1f, 0x8b}} // gzip-compressed pprof
	Safetensor = Output{"safetensors file", nil}
	GGUF       = Output{"GGUF file", []byte("GGUF")}
	// HTML is the page of compile --html; its magic is the start of
	// passes.HTMLMarker.
	HTML = Output{"deepc HTML page", []byte("<!DOCTYPE html>\n<!-- written by deepc")}
)

// Create opens path for writing as an o: a new file, or an existing
// regular file that begins as an o does (truncated). A link, a special
// file or a file of another kind is refused, naming what is there.
func Create(path string, o Output) (*os.File, error) {
	exists, err := CheckOutput(path, o)
	if err != nil {
		return nil, err
	}
	if !exists {
		return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_TRUNC|noFollow(), 0o644)
}

// CheckOutput is Create's check alone, for writers that create the file
// their own way (an atomic rename): whether something is at path, and
// the refusal when it may not be replaced.
func CheckOutput(path string, o Output) (exists bool, err error) {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case fi.Mode()&fs.ModeSymlink != 0:
		return true, fmt.Errorf("%s is a link; deepc does not write through links (remove it or choose another path)", path)
	case !fi.Mode().IsRegular():
		return true, fmt.Errorf("%s is a %s, not a file deepc can replace", path, describe(fi.Mode()))
	case o.Magic == nil:
		return true, fmt.Errorf("%s exists; deepc does not replace a %s it may not have written (remove it or choose another path)", path, o.Name)
	case !startsWith(path, o.Magic):
		return true, fmt.Errorf("%s exists and is not a %s; deepc replaces only files of the kind it writes (remove it or choose another path)", path, o.Name)
	}
	return true, nil
}

func startsWith(path string, magic []byte) bool {
	if magic == nil {
		return false
	}
	f, err := open(path, true)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(magic))
	_, err = io.ReadFull(f, head)
	return err == nil && bytes.Equal(head, magic)
}

// AppendIn opens the file name inside dir for appending (a run's
// metrics), creating it; a link there is refused.
func AppendIn(dir, name string) (*os.File, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY|noFollow(), 0o644)
}

// WriteIn writes data to the file name inside dir, replacing a regular
// file there; a link is refused, not followed.
func WriteIn(dir, name string, data []byte) error {
	if err := CheckName(name); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_TRUNC|os.O_WRONLY|noFollow(), 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
