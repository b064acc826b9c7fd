package safefile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// OpenInModel opens the file name inside a model directory (a checkpoint:
// config.json, weights, tokenizer files) as OpenIn does, with one
// exception: the Hugging Face hub cache keeps a model as
// …/models--ORG--NAME/snapshots/REV/FILE, each FILE a link to
// ../../blobs/HASH. In such a snapshot directory a link is followed when
// it resolves to a regular file in that model's blobs folder, and only
// there.
func OpenInModel(dir, name string) (*os.File, error) {
	full := filepath.Join(dir, filepath.FromSlash(name))
	fi, err := os.Lstat(full)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 || filepath.Base(filepath.Dir(filepath.Clean(dir))) != "snapshots" {
		return OpenIn(dir, name)
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	blobs, err := filepath.EvalSymlinks(filepath.Join(filepath.Dir(filepath.Dir(filepath.Clean(dir))), "blobs"))
	if err != nil {
		return nil, fmt.Errorf("%s: a link in a hub snapshot, but the model has no blobs folder: %w", full, err)
	}
	target, err := filepath.EvalSymlinks(full)
	if err != nil {
		return nil, err
	}
	if rel, err := filepath.Rel(blobs, target); err != nil || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("%s: a link to %s, outside the model's hub blobs folder %s: %w", full, target, blobs, ErrNotRegular)
	}
	return Open(target)
}

// ReadInModel reads the file name inside a model directory whole (see
// OpenInModel), within the kind's limit.
func ReadInModel(dir, name string, k Kind) ([]byte, error) {
	f, err := OpenInModel(dir, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, filepath.Join(dir, name), k)
}
