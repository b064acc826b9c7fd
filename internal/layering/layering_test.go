package layering

import (
	"go/parser"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/internal/gosrc"
)

// graph is the project's import graph from its non-test files: package
// (path inside the module) to the project packages it imports.
type graph map[string][]string

// loadGraph parses the imports of every package under the module root.
func loadGraph(t *testing.T) graph {
	t.Helper()
	root, module := moduleRoot(t)
	files, _, err := gosrc.Files(root, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	g := graph{}
	for rel, f := range files {
		pkg := gosrc.Dir(rel)
		if _, ok := g[pkg]; !ok {
			g[pkg] = nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if dep, ok := strings.CutPrefix(p, module+"/"); ok && !slices.Contains(g[pkg], dep) {
				g[pkg] = append(g[pkg], dep)
			}
		}
	}
	return g
}

// moduleRoot finds go.mod above the test's directory and the module path
// it declares.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for line := range strings.Lines(string(data)) {
				if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					return dir, strings.TrimSpace(m)
				}
			}
			t.Fatalf("%s/go.mod names no module", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// deps is every project package pkg reaches through imports, with the
// chain that reaches each one (for the failure message).
func (g graph) deps(pkg string) map[string][]string {
	chains := map[string][]string{}
	var visit func(p string, chain []string)
	visit = func(p string, chain []string) {
		for _, d := range g[p] {
			if _, seen := chains[d]; seen {
				continue
			}
			c := append(slices.Clone(chain), d)
			chains[d] = c
			visit(d, c)
		}
	}
	visit(pkg, []string{pkg})
	return chains
}

// under reports whether pkg is dir or a package below it.
func under(pkg, dir string) bool {
	return pkg == dir || strings.HasPrefix(pkg, dir+"/")
}

// A rule forbids every package matched by from to reach, directly or
// not, a package matched by to.
type rule struct {
	name     string
	from, to func(string) bool
}

func is(pkgs ...string) func(string) bool {
	return func(p string) bool { return slices.Contains(pkgs, p) }
}

func anyUnder(dirs ...string) func(string) bool {
	return func(p string) bool {
		return slices.ContainsFunc(dirs, func(d string) bool { return under(p, d) })
	}
}

var backends = []string{"runtime/cpu", "runtime/cuda", "runtime/emu"}

func rules() []rule {
	rs := []rule{
		{"ir is the bottom layer", is("ir"), func(string) bool { return true }},
		{"program is the compiled-program format on ir alone", is("program"), func(p string) bool { return p != "ir" }},
		{"the compiler does not lean on the runtimes", anyUnder("dsl", "passes", "codegen"), anyUnder("runtime")},
		{"the runtimes do not lean on the compiler", anyUnder("runtime"), anyUnder("dsl", "passes", "codegen")},
		{"runtime/device is what the backends share and imports none of them", is("runtime/device"), anyUnder(backends...)},
	}
	for _, b := range backends {
		others := slices.DeleteFunc(slices.Clone(backends), func(o string) bool { return o == b })
		rs = append(rs, rule{b + " does not import another backend", anyUnder(b), anyUnder(others...)})
	}
	return rs
}

// violations lists, for each package r applies to, every forbidden package
// it reaches and the chain of imports that reaches it.
func (g graph) violations(r rule) []string {
	var out []string
	for p := range g {
		if !r.from(p) {
			continue
		}
		for d, chain := range g.deps(p) {
			if r.to(d) {
				out = append(out, strings.Join(chain, " → "))
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestLayers(t *testing.T) {
	g := loadGraph(t)
	for _, r := range rules() {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(g)), r.from) {
			t.Errorf("%s: no package it applies to (the rule is stale)", r.name)
		}
		for _, v := range g.violations(r) {
			t.Errorf("%s: %s", r.name, v)
		}
	}
}

// Every rule must be able to fail: a graph that breaks each one, some only
// through another package.
func TestLayersCatch(t *testing.T) {
	g := graph{
		"ir":             {"program"},
		"program":        {"ir", "runtime"},
		"runtime":        {"ir"},
		"passes":         {"ir", "runtime/weights"},
		"runtime/bundle": {"codegen"},
		"codegen":        {"program"},
		"runtime/device": {"program", "runtime/cpu/simd"},
		"runtime/cpu":    {"runtime/cuda"},
		"runtime/cuda":   {"runtime/emu"},
		"runtime/emu":    {"runtime/cpu/simd"},
	}
	for _, r := range rules() {
		if len(g.violations(r)) == 0 {
			t.Errorf("%s: not caught", r.name)
		}
	}
	if got, want := g.violations(rules()[2]), "codegen → program → runtime"; !slices.Contains(got, want) {
		t.Errorf("violations %q, want one %q", got, want)
	}
}
