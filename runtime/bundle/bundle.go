// Package bundle reads, writes and verifies kernel bundles (docs/design.md §8): a
// directory with manifest.json, kernels/*.ptx and *.cubin, and ir/*.ir.
// The manifest lists the SHA-256 of every other file; a bundle whose
// files, hashes, format version or target do not match is refused before
// anything in it is used. Writing is deterministic: the same inputs give
// byte-identical files.
package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/deepc-dev/deepc/internal/safefile"
)

// FormatVersion is the bundle layout this deepc writes and reads.
const FormatVersion = 1

// Manifest is manifest.json.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	Compiler      string `json:"compiler"`
	Target        string `json:"target"`
	PTXAS         string `json:"ptxas,omitempty"`
	Model         string `json:"model"`      // model name
	ModelHash     string `json:"model_hash"` // SHA-256 of the DSL source and the settings
	Plugins       any    `json:"plugins,omitempty"`
	// Graphs maps each compiled graph (function) to its program: kernel
	// launches in order, with their tensor bindings and grids.
	Graphs map[string]json.RawMessage `json:"graphs"`
	// Kernels describe each kernel (kind, ops, resources, files).
	Kernels json.RawMessage `json:"kernels"`
	// Missing lists, per graph, regions no emitter handles yet; the CPU
	// backend runs such graphs from the IR.
	Missing map[string][]string `json:"missing,omitempty"`
	// Files maps every other file's path to its SHA-256 (hex).
	Files map[string]string `json:"files"`
}

// Write creates the bundle directory dir with the manifest and files; the
// manifest's Files is filled in here. It writes into a fresh temporary
// directory beside dir and renames it into place, so a failed write
// leaves nothing behind.
//
// What is at dir already is replaced only when deepc wrote it: an empty
// directory, or a bundle that verifies (its manifest names deepc and
// lists every file in it with its hash, so nothing in it is a user's).
// Anything else — a user's file, a directory of other files, a bundle
// edited since — is refused and kept, unless force is set.
func Write(dir string, m *Manifest, files map[string][]byte, force bool) (err error) {
	old, err := replaceable(dir, force)
	if err != nil {
		return err
	}
	m.FormatVersion = FormatVersion
	m.Files = map[string]string{}
	for p, data := range files {
		if err := checkPath(p); err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		m.Files[p] = hex.EncodeToString(sum[:])
	}
	removeStale(dir)
	tmp, err := os.MkdirTemp(filepath.Dir(dir), tempPrefix(dir, "tmp"))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	slices.Sort(names)
	for _, p := range names {
		full := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return err
		}
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	return swapIn(tmp, dir, old)
}

// tempPrefix names Write's temporary directories beside dir: hidden, named
// after dir, and carrying the writer's process id, so that a later Write
// can tell those of a killed writer (removeStale) from those of a live one.
func tempPrefix(dir, kind string) string {
	return fmt.Sprintf(".%s.%s-%d-*", filepath.Base(dir), kind, os.Getpid())
}

// removeStale removes the temporary directories a killed Write of dir
// left (kill -9 runs no deferred cleanup): those whose process is gone.
func removeStale(dir string) {
	for _, kind := range []string{"tmp", "old"} {
		prefix := fmt.Sprintf(".%s.%s-", filepath.Base(dir), kind)
		matches, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), globEscape(prefix)+"*"))
		for _, m := range matches {
			pidStr, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(m), prefix), "-")
			pid, err := strconv.Atoi(pidStr)
			if ok && err == nil && pid > 0 && !processAlive(pid) {
				os.RemoveAll(m)
			}
		}
	}
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

// CheckOutput is Write's check of what is at dir, alone: a compile calls
// it before minutes of kernel building, so a refusal comes first.
func CheckOutput(dir string, force bool) error {
	_, err := replaceable(dir, force)
	return err
}

// replaceable says whether dir may be replaced: old is false when nothing
// is there.
func replaceable(dir string, force bool) (old bool, err error) {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("bundle %s: %w", dir, err)
	case force:
		return true, nil
	case !fi.IsDir():
		return false, fmt.Errorf("bundle %s: exists and is not a directory (deepc writes a bundle directory there; choose another -o, or --force to replace it)", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("bundle %s: %w", dir, err)
	}
	if len(ents) == 0 {
		return true, nil
	}
	m, err := Open(dir, "")
	if err == nil && !strings.HasPrefix(m.Compiler, "deepc") {
		err = fmt.Errorf("its manifest names compiler %q", m.Compiler)
	}
	if err != nil {
		return false, fmt.Errorf("bundle %s: exists and is not a bundle deepc wrote; left unchanged (%v); choose another -o, or --force to replace it", dir, err)
	}
	return true, nil
}

// swapIn renames the finished tmp to dir. An old dir is first renamed
// aside and removed only once the new one is in place, so at every
// instant dir is either the old bundle or the new one.
func swapIn(tmp, dir string, old bool) error {
	if !old {
		return os.Rename(tmp, dir)
	}
	aside, err := os.MkdirTemp(filepath.Dir(dir), tempPrefix(dir, "old"))
	if err != nil {
		return err
	}
	if err := os.Remove(aside); err != nil {
		return err
	}
	if err := os.Rename(dir, aside); err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.Rename(aside, dir)
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	return os.RemoveAll(aside)
}

func checkPath(p string) error {
	if p == "manifest.json" || safefile.CheckName(p) != nil {
		return fmt.Errorf("bundle: bad file path %q", p)
	}
	return nil
}

// Open reads and verifies a bundle: format version, target (when target
// is not empty), every listed file's hash, and no file that is not listed.
func Open(dir, target string) (*Manifest, error) {
	raw, err := safefile.ReadIn(dir, "manifest.json", safefile.Manifest)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("bundle %s: manifest.json: %v", dir, err)
	}
	rebuild := "; rebuild it with this deepc: deepc compile MODEL.deep --target " + orDefault(target, m.Target) + " -o " + dir
	if m.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("bundle %s: format version %d, this deepc reads %d%s", dir, m.FormatVersion, FormatVersion, rebuild)
	}
	if target != "" && m.Target != target {
		return nil, fmt.Errorf("bundle %s: built for %s, not %s%s", dir, m.Target, target, rebuild)
	}
	for p := range m.Files {
		if err := checkPath(p); err != nil {
			return nil, fmt.Errorf("bundle %s: manifest.json: %v", dir, err)
		}
	}
	seen := map[string]bool{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		if !d.Type().IsRegular() {
			// A link could make the bundle read files outside it.
			return fmt.Errorf("bundle %s: %s is not a regular file (links and devices are refused)", dir, filepath.ToSlash(rel))
		}
		rel = filepath.ToSlash(rel)
		if rel == "manifest.json" {
			return nil
		}
		want, ok := m.Files[rel]
		if !ok {
			return fmt.Errorf("bundle %s: file %s is not in the manifest", dir, rel)
		}
		data, err := safefile.ReadIn(dir, rel, safefile.Bundled)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != want {
			return fmt.Errorf("bundle %s: %s does not match its SHA-256 in the manifest (modified or corrupt)%s", dir, rel, rebuild)
		}
		seen[rel] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	var missing []string
	for p := range m.Files {
		if !seen[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("bundle %s: missing %s%s", dir, strings.Join(missing, ", "), rebuild)
	}
	return &m, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// ReadFile reads a verified bundle's file (a regular file inside it).
func ReadFile(dir, p string) ([]byte, error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	return safefile.ReadIn(dir, p, safefile.Bundled)
}
