// Package models holds the .deep model files and embeds them, so that the
// deepc binary can compile the DeepSeek-V3 models on a machine with no
// checkout (a GPU box that receives only the binary).
package models

import (
	"embed"
	"io/fs"
	"path/filepath"
)

//go:embed *.deep
var files embed.FS

// Read returns the embedded model file with path's base name.
func Read(path string) ([]byte, error) {
	return fs.ReadFile(files, filepath.Base(path))
}

// Names lists the embedded model files.
func Names() []string {
	ns, _ := fs.Glob(files, "*.deep")
	return ns
}
