package dsl

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigNewInExtendingModel: a model that extends another adds config
// keys in a `config new` block; they can derive from the base's keys, feed
// its own blocks, and take --set. A plain block still refuses a key the
// base does not define (a misspelling), naming the way to add one, and a
// `config new` block refuses a key that exists.
func TestConfigNewInExtendingModel(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "parent.deep", parentModel)
	child := writeFile(t, dir, "child.deep", `model child extends "parent.deep"
config new {
  n_extra = 3
  wide = d * n_extra
}
config {
  d = 8
}
export block forward2(x: [T, d] f32) -> [T, d] f32 {
  param e: [wide] f32 {init = zeros(), ckpt = "extra"}
  return x
}
`)
	m, err := CompileFile(child, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := m.Attrs.Dict("config")
	if w, _ := cfg.Int("wide"); w != 24 {
		t.Errorf("wide = %d, want 24 (d = 8 from the child's plain block, times n_extra = 3)", w)
	}
	if p := m.Param("extra"); p == nil || p.Type.Shape[0].N != 24 {
		t.Fatalf("the param sized by the new key: %v", p)
	}
	m, err = CompileFile(child, Options{Sets: []string{"n_extra=2"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := m.Attrs.Dict("config"); func() int64 { w, _ := cfg.Int("wide"); return w }() != 16 {
		t.Errorf("--set n_extra=2 did not recompute wide: %v", cfg["wide"])
	}

	for _, c := range []struct{ name, text, want string }{
		{"misspelt", "model c extends \"parent.deep\"\nconfig {\n  dd = 3\n}\n", "unknown config key dd"},
		{"misspelt names the way", "model c extends \"parent.deep\"\nconfig {\n  dd = 3\n}\n", "config new"},
		{"new redefines", "model c extends \"parent.deep\"\nconfig new {\n  d = 3\n}\n", "config new: d is already a config key"},
	} {
		p := writeFile(t, dir, filepath.Join("bad", strings.ReplaceAll(c.name, " ", "_")+".deep"), strings.ReplaceAll(c.text, `"parent.deep"`, `"../parent.deep"`))
		_, err := CompileFile(p, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
}

// TestFileSets: overrides read from a checkpoint's config.json name that
// file in their errors (not --set, which the user did not give), and one
// standing for a key the file lacks (an absent rope_scaling means none)
// is skipped by a model without that key instead of failing it.
func TestFileSets(t *testing.T) {
	dir := t.TempDir()
	model := writeFile(t, dir, "parent.deep", parentModel)
	cfg := filepath.Join(dir, "ckpt", "config.json")
	m, err := CompileFile(model, Options{FileSets: []FileSet{
		{File: cfg, Set: "d=16"},
		{File: cfg, Set: "rope_scaling=none", Optional: true},
	}})
	if err != nil {
		t.Fatalf("an absent key's default for a model without it: %v", err)
	}
	if c, _ := m.Attrs.Dict("config"); func() int64 { d, _ := c.Int("d"); return d }() != 16 {
		t.Errorf("d = %v, want 16 from config.json", c["d"])
	}
	_, err = CompileFile(model, Options{FileSets: []FileSet{{File: cfg, Set: "rope_scaling=none"}}})
	if err == nil || !strings.Contains(err.Error(), cfg+" sets rope_scaling, which is not a config key of") || strings.Contains(err.Error(), "--set") {
		t.Errorf("a key config.json sets that the model lacks: %v; want an error naming %s and not --set", err, cfg)
	}
	// --set comes after the file and wins.
	m, err = CompileFile(model, Options{FileSets: []FileSet{{File: cfg, Set: "d=16"}}, Sets: []string{"d=32"}})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := m.Attrs.Dict("config"); func() int64 { d, _ := c.Int("d"); return d }() != 32 {
		t.Errorf("d = %v, want --set's 32 over config.json's 16", c["d"])
	}
}
