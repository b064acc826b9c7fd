package main

import (
	"errors"
	"io/fs"
	"os"

	"github.com/deepc-dev/deepc/models"
)

// readModel reads a .deep file from disk and, when there is no such file,
// falls back to the model files built into the binary (so
// `deepc stats models/deepseek_v3.deep` works outside a checkout).
func readModel(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if eb, eerr := models.Read(path); eerr == nil {
			return eb, nil
		}
	}
	return b, err
}
