// Package models holds the .deep model files and embeds them, so that the
// deepc binary can compile the DeepSeek-V3 models on a machine with no
// checkout (a GPU box that receives only the binary).
package models

import (
	"embed"
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/internal/safefile"
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

// ReadFile reads a .deep file from disk and, when there is no such file,
// falls back to the embedded file of the same base name (so a binary run
// outside a checkout still finds models/deepseek_v3.deep).
func ReadFile(path string) ([]byte, error) {
	b, err := safefile.ReadFile(path, safefile.Model)
	if errors.Is(err, fs.ErrNotExist) {
		if eb, eerr := Read(path); eerr == nil {
			return eb, nil
		}
	}
	return b, err
}

// ForArchitecture returns the embedded model file whose own checkpoint
// contract reads config.json's architecture arch ("LlamaForCausalLM"),
// so that a Hugging Face checkpoint directory selects its model.
func ForArchitecture(arch string) (string, bool) {
	for _, c := range contracts() {
		if c.arch == arch {
			return c.file, true
		}
	}
	return "", false
}

// Architectures lists the architectures the embedded model files read.
func Architectures() []string {
	var out []string
	for _, c := range contracts() {
		out = append(out, c.arch)
	}
	return out
}

// contracts lists, per embedded model file, the architecture of the
// checkpoint contract the file itself declares (a file that extends
// another without declaring one has none of its own).
func contracts() []struct{ file, arch string } {
	var out []struct{ file, arch string }
	for _, n := range Names() {
		b, err := Read(n)
		if err != nil {
			continue
		}
		f, err := dsl.Parse(n, string(b))
		if err != nil {
			continue
		}
		for _, d := range f.Decls {
			if d.Checkpoint != nil {
				out = append(out, struct{ file, arch string }{n, d.Checkpoint.Arch})
			}
		}
	}
	return out
}
