// Package filehash is the SHA-256 of a file, as hex: plugin binaries are
// pinned by it and training checkpoints verified with it.
package filehash

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
)

// SHA256 returns the hex SHA-256 of the file at path.
func SHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return Of(f)
}

// Of returns the hex SHA-256 of what r holds (a file opened elsewhere,
// e.g. by internal/safefile).
func Of(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
