package codegen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
)

// The kernel cache: llc and ptxas are deterministic, so a kernel's PTX,
// cubin and resources are stored under the SHA-256 of its LLVM IR and the
// toolchain's identity, and a later compile of the same kernel (another
// run, another graph, a test) reads them instead of running the tools.
// Entries are written atomically (temp file, rename); a damaged or partial
// entry is a miss. $DEEPC_CACHE=off disables it; $DEEPC_CACHE=DIR moves it.

// DefaultCacheDir is where compiles keep kernels unless told otherwise
// ("" when caching is off).
func DefaultCacheDir() string {
	switch d := os.Getenv("DEEPC_CACHE"); d {
	case "off", "0", "false":
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(base, "deepc", "kernels")
	default:
		return d
	}
}

type cacheEntry struct {
	PTX       string    `json:"ptx"`
	Cubin     []byte    `json:"cubin,omitempty"`
	Resources Resources `json:"resources"`
}

// identity names the toolchain for cache keys: the target and what llc
// and ptxas say of themselves (--version: release and build). Not their
// paths: the same tools fetched into another clone's .cache compile the
// same kernels, and keying by path made every fresh clone recompile all of
// them (about two minutes of the tests).
func (tc *Toolchain) identity(ctx context.Context) string {
	tc.idOnce.Do(func() {
		llc, _, _ := run(ctx, nil, tc.LLC, "--version")
		var ptxas []byte
		if tc.PTXAS != "" {
			ptxas, _, _ = run(ctx, nil, tc.PTXAS, "--version")
		}
		tc.id = tc.Arch + "\x00" + string(llc) + "\x00" + string(ptxas)
	})
	return tc.id
}

// cacheFormat changes when an entry's contents do (2: ptxas warnings).
const cacheFormat = "2"

func cacheKey(id, llvm string, ptxas bool) string {
	h := sha256.New()
	h.Write([]byte(cacheFormat + "\x00" + id))
	h.Write([]byte{0})
	h.Write([]byte(llvm))
	if ptxas {
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func cacheGet(dir, key string) (*cacheEntry, bool) {
	data, err := os.ReadFile(filepath.Join(dir, key[:2], key+".json"))
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if json.Unmarshal(data, &e) != nil || e.PTX == "" {
		return nil, false
	}
	return &e, true
}

func cachePut(dir, key string, e *cacheEntry) {
	data, err := json.Marshal(e)
	if err != nil {
		return
	}
	sub := filepath.Join(dir, key[:2])
	if os.MkdirAll(sub, 0o755) != nil {
		return
	}
	f, err := os.CreateTemp(sub, key+".*.tmp")
	if err != nil {
		return
	}
	if _, err := f.Write(data); err != nil || f.Close() != nil {
		os.Remove(f.Name())
		return
	}
	if os.Rename(f.Name(), filepath.Join(sub, key+".json")) != nil {
		os.Remove(f.Name())
	}
}
