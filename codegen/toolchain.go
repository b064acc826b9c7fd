package codegen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Toolchain holds the external programs that turn LLVM IR into cubins:
// llc (LLVM >= 17, for sm_90a), ptxas, and cuobjdump for the SASS.
type Toolchain struct {
	LLC, PTXAS, Cuobjdump string
	// Arch is the GPU target, e.g. sm_90a.
	Arch string

	idOnce sync.Once
	id     string
}

// tool describes where one program comes from, for discovery and for the
// message that says what to install.
type tool struct {
	env     string   // override variable
	names   []string // names looked up in the cache dir and on PATH
	install string   // what to do when it is missing
}

var tools = map[string]tool{
	"llc": {env: "DEEPC_LLC", names: []string{"llc-19", "llc-18", "llc-17", "/usr/lib/llvm-19/bin/llc"},
		install: "install Debian's llvm-19 (apt-get install llvm-19), or set DEEPC_LLC to an llc of LLVM >= 17"},
	"ptxas": {env: "DEEPC_PTXAS", names: []string{"ptxas"},
		install: "run scripts/toolchain.sh (fetches CUDA 12.4's ptxas from Debian's nvidia-cuda-toolkit into .cache/cuda-12.4), or set DEEPC_PTXAS"},
	"cuobjdump": {env: "DEEPC_CUOBJDUMP", names: []string{"cuobjdump"},
		install: "run scripts/toolchain.sh (CUDA 12.4's cuobjdump into .cache/cuda-12.4), or set DEEPC_CUOBJDUMP"},
}

// CacheDirs are the directories searched after the environment and before
// PATH: the repository's tool cache, found from the working directory up.
func cacheDirs() []string {
	var dirs []string
	if d := os.Getenv("DEEPC_TOOLCHAIN_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	wd, err := os.Getwd()
	for err == nil {
		dirs = append(dirs, filepath.Join(wd, ".cache", "cuda-12.4", "bin"))
		parent := filepath.Dir(wd)
		if parent == wd {
			break
		}
		wd = parent
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Join(filepath.Dir(exe), "..", ".cache", "cuda-12.4", "bin"))
	}
	return dirs
}

// findTool resolves one program: the flag value, then its environment
// variable, then the cache directories, then PATH.
func findTool(name, flag string) (string, error) {
	t := tools[name]
	for _, p := range []string{flag, os.Getenv(t.env)} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("%s %q: %v", name, p, err)
		}
		return p, nil
	}
	for _, d := range cacheDirs() {
		for _, n := range t.names {
			if filepath.IsAbs(n) {
				continue
			}
			p := filepath.Join(d, n)
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	for _, n := range t.names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found: %s", name, t.install)
}

// FindToolchain locates the tools; flags (may be empty) come first. When
// ptxas is missing, PTX can still be emitted: PTXAS is then empty and err
// says what to install.
func FindToolchain(llcFlag, ptxasFlag, arch string) (*Toolchain, error) {
	if arch == "" {
		arch = "sm_90a"
	}
	tc := &Toolchain{Arch: arch}
	var err error
	if tc.LLC, err = findTool("llc", llcFlag); err != nil {
		return nil, err
	}
	var errs []error
	if tc.PTXAS, err = findTool("ptxas", ptxasFlag); err != nil {
		errs = append(errs, err)
	}
	if tc.Cuobjdump, err = findTool("cuobjdump", ""); err != nil && tc.PTXAS != "" {
		// Next to ptxas is where a CUDA install keeps it.
		if p := filepath.Join(filepath.Dir(tc.PTXAS), "cuobjdump"); fileExists(p) {
			tc.Cuobjdump = p
		} else {
			errs = append(errs, err)
		}
	}
	return tc, errors.Join(errs...)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// run executes a tool with stdin, returning stdout; stderr goes into the error.
func run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, errb.Bytes(), fmt.Errorf("%s: %v\n%s", filepath.Base(name), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), errb.Bytes(), nil
}

// PTX compiles LLVM IR text to PTX with llc.
func (tc *Toolchain) PTX(ctx context.Context, llvmIR string) (string, error) {
	out, _, err := run(ctx, []byte(llvmIR), tc.LLC, "-march=nvptx64", "-mcpu="+tc.Arch, "-mattr=+ptx84", "-O3", "-o", "-", "-")
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// Resources is what ptxas reports for one kernel.
type Resources struct {
	Registers   int `json:"registers"`
	SharedBytes int `json:"shared_bytes"`
	StackBytes  int `json:"stack_bytes"`
	SpillStores int `json:"spill_stores"`
	SpillLoads  int `json:"spill_loads"`
	// Warnings are ptxas's warnings, e.g. wgmma instructions it had to
	// serialize (C7515: accumulator registers written between
	// wgmma.fence and the MMA).
	Warnings []string `json:"warnings,omitempty"`
}

// Cubin assembles PTX for the target with ptxas -v and returns the cubin
// and the resources it reports.
func (tc *Toolchain) Cubin(ctx context.Context, ptx string) ([]byte, Resources, error) {
	if tc.PTXAS == "" {
		return nil, Resources{}, errors.New("ptxas not found: " + tools["ptxas"].install)
	}
	dir, err := os.MkdirTemp("", "deepc-ptxas")
	if err != nil {
		return nil, Resources{}, err
	}
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "k.ptx"), filepath.Join(dir, "k.cubin")
	if err := os.WriteFile(in, []byte(ptx), 0o644); err != nil {
		return nil, Resources{}, err
	}
	_, info, err := run(ctx, nil, tc.PTXAS, "-arch="+tc.Arch, "-v", "-O3", in, "-o", out)
	if err != nil {
		return nil, Resources{}, err
	}
	cubin, err := os.ReadFile(out)
	if err != nil {
		return nil, Resources{}, err
	}
	return cubin, parseResources(string(info)), nil
}

var (
	reRegs  = regexp.MustCompile(`Used (\d+) registers`)
	reSmem  = regexp.MustCompile(`(\d+) bytes smem`)
	reStack = regexp.MustCompile(`(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads`)
)

func parseResources(s string) Resources {
	var r Resources
	atoi := func(m []string, i int) int { n, _ := strconv.Atoi(m[i]); return n }
	if m := reRegs.FindStringSubmatch(s); m != nil {
		r.Registers = atoi(m, 1)
	}
	if m := reSmem.FindStringSubmatch(s); m != nil {
		r.SharedBytes = atoi(m, 1)
	}
	if m := reStack.FindStringSubmatch(s); m != nil {
		r.StackBytes, r.SpillStores, r.SpillLoads = atoi(m, 1), atoi(m, 2), atoi(m, 3)
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, "warning") {
			r.Warnings = append(r.Warnings, strings.TrimSpace(line))
		}
	}
	return r
}

// SASS disassembles a cubin with cuobjdump -sass.
func (tc *Toolchain) SASS(ctx context.Context, cubin []byte) (string, error) {
	if tc.Cuobjdump == "" {
		return "", errors.New("cuobjdump not found: " + tools["cuobjdump"].install)
	}
	f, err := os.CreateTemp("", "deepc-*.cubin")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(cubin); err != nil {
		f.Close()
		return "", err
	}
	f.Close()
	out, _, err := run(ctx, nil, tc.Cuobjdump, "-sass", f.Name())
	return string(out), err
}

// PTXASVersion is ptxas's release line (recorded in bundles).
func (tc *Toolchain) PTXASVersion(ctx context.Context) string {
	if tc.PTXAS == "" {
		return ""
	}
	out, _, err := run(ctx, nil, tc.PTXAS, "--version")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Cuda compilation tools") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// Target is the GPU architecture the toolchain compiles for.
func (tc *Toolchain) Target() string { return tc.Arch }
