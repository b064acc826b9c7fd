// Package safefile is the one way deepc opens an input file. Every input
// is hostile (docs/reliability.md): a FIFO would block open forever, a
// device would stream without end, a link inside a bundle or checkpoint
// could make deepc read a file outside the directory it was given, and a
// name from a manifest or a state file could climb out with "..". So:
//
//   - files are opened without blocking and must be regular files, checked
//     on the open descriptor (no window between a check and the open);
//   - each kind of file has a size limit, checked before anything is read;
//   - files inside a directory deepc was given (bundle, checkpoint, corpus)
//     are named by plain relative names and are never links, at any level
//     below that directory.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A Kind is a sort of input file and the most bytes deepc reads of it.
type Kind struct {
	Name string
	Max  int64
}

// The kinds deepc reads whole. Checkpoint tensors are not read whole:
// their sizes come from headers the weights package checks.
var (
	Model     = Kind{"model file", 16 << 20}
	Config    = Kind{"config.json", 16 << 20}
	Tokenizer = Kind{"tokenizer", 512 << 20}
	Manifest  = Kind{"bundle manifest", 256 << 20}
	Bundled   = Kind{"bundle file", 1 << 30}
	State     = Kind{"training state", 64 << 20}
	Index     = Kind{"checkpoint index", 64 << 20}
	Tokens    = Kind{"token file", 256 << 20}
	Corpus    = Kind{"corpus file", 1 << 30}
	Source    = Kind{"source file", 64 << 20}
	Text      = Kind{"text", 256 << 20}
)

// Open opens a path the user named for reading. A link is followed (the
// user chose it), but what it reaches must be a regular file.
func Open(path string) (*os.File, error) {
	return open(path, false)
}

// ReadFile reads a regular file the user named, refusing one larger than
// the kind's limit.
func ReadFile(path string, k Kind) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, path, k)
}

// OpenIn opens the file name inside dir. name is a plain relative
// slash-separated name (no "..", no absolute path, no empty element) and
// no element of it below dir may be a link.
func OpenIn(dir, name string) (*os.File, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	p := dir
	parts := strings.Split(name, "/")
	for _, part := range parts[:len(parts)-1] {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s: not a directory (links are refused inside %s)", p, dir)
		}
	}
	full := filepath.Join(dir, filepath.FromSlash(name))
	if fi, err := os.Lstat(full); err != nil {
		return nil, err
	} else if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s: is a link: %w (links are refused inside %s)", full, ErrNotRegular, dir)
	}
	return open(full, true)
}

// ReadIn reads the file name inside dir (see OpenIn) whole, within the
// kind's limit.
func ReadIn(dir, name string, k Kind) ([]byte, error) {
	f, err := OpenIn(dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, filepath.Join(dir, filepath.FromSlash(name)), k)
}

// CheckName accepts a plain relative file name as written in a manifest,
// an index or a state file: slash-separated, no ".." or "." element, not
// absolute, no backslash, no NUL.
func CheckName(name string) error {
	if !fs.ValidPath(name) || name == "." || strings.ContainsAny(name, "\\\x00") || filepath.IsAbs(name) {
		return fmt.Errorf("bad file name %q (want a plain relative name inside the directory)", name)
	}
	return nil
}

// ErrNotRegular is wrapped by the error for a FIFO, device, socket,
// directory or (inside a directory) link.
var ErrNotRegular = errors.New("not a regular file")

func open(path string, noFollow bool) (*os.File, error) {
	f, err := os.OpenFile(path, openFlags(noFollow), 0)
	if err != nil {
		if isLinkRefusal(err) {
			return nil, fmt.Errorf("%s: is a link: %w (links are refused here)", path, ErrNotRegular)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w (it is a %s)", path, ErrNotRegular, describe(fi.Mode()))
	}
	return f, nil
}

func describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSymlink != 0:
		return "link"
	}
	return "special file"
}

// ReadStream reads a stream (stdin) whole within the kind's limit: a
// stream has no size to check first, so at most one byte past the limit
// is read to tell.
func ReadStream(r io.Reader, name string, k Kind) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, k.Max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > k.Max {
		return nil, TooLarge(name, k, int64(len(data)))
	}
	return data, nil
}

func readAll(f *os.File, path string, k Kind) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > k.Max {
		return nil, TooLarge(path, k, fi.Size())
	}
	// The size can change under us, and /proc files report 0: read as a
	// stream.
	return ReadStream(f, path, k)
}

// TooLarge is the error for a file over its kind's limit.
func TooLarge(path string, k Kind, size int64) error {
	return fmt.Errorf("%s: %d bytes or more; a %s may hold at most %d (%s)", path, size, k.Name, k.Max, human(k.Max))
}

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d B", n)
}
