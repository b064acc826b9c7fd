package dsl

import (
	"strings"

	"github.com/deepc-dev/deepc/ir"
)

// The checkpoint contract (ast.go's Checkpoint) in the compiled module:
// module attribute CheckpointAttr = {architecture = "...", map = {hf_key =
// "config_key", ...}, nullable = {hf_key = true, ...}, fixed = {hf_key =
// value, ...} (an empty dict for null), ignore = ["hf_key", ...]}. models/hfconfig.go
// reads and writes config.json from it and knows no model.
const CheckpointAttr = "checkpoint"

// checkpoint evaluates the last checkpoint declaration of the files (a
// model's own replaces the one it extends); nil when there is none.
func (c *compiler) checkpoint(files []*File, cfg *Struct) ir.Attrs {
	var decl *Checkpoint
	for _, f := range files {
		for _, d := range f.Decls {
			if d.Checkpoint != nil {
				if decl != nil && decl.Pos.Filename == d.Checkpoint.Pos.Filename {
					c.errorf(d.Checkpoint.Pos, "a second checkpoint declaration in this file (the first is at line %d)", decl.Pos.Line)
				}
				decl = d.Checkpoint
			}
		}
	}
	if decl == nil {
		return nil
	}
	if decl.Arch == "" {
		c.errorf(decl.Pos, "checkpoint needs the architecture name config.json gives, e.g. \"LlamaForCausalLM\"")
	}
	mapped, nullable, fixed := ir.Attrs{}, ir.Attrs{}, ir.Attrs{}
	seen := map[string]bool{}
	for _, e := range decl.Entries {
		if seen[e.Name] {
			c.errorf(e.Pos, "checkpoint key %s is given twice", e.Name)
		}
		seen[e.Name] = true
		name, ok := bareName(e.Value)
		isNullable := false
		if !ok {
			name, ok = nullableName(e.Value)
			isNullable = ok
		}
		if ok {
			if _, isKey := cfg.Fields[name]; isKey {
				mapped[e.Name] = name
				if isNullable {
					nullable[e.Name] = true
				}
				continue
			}
			if isNullable {
				c.errorf(e.Pos, "nullable(%s): %s is not a config key", name, name)
			}
		}
		v := c.eval(e.Value, c.globals)
		if v == nil { // none: written as null
			fixed[e.Name] = ir.Attrs{}
			continue
		}
		a, err := toAttr(v)
		if err != nil {
			c.errorf(e.Pos, "checkpoint key %s: %v", e.Name, err)
		}
		fixed[e.Name] = a
	}
	ignore := make([]string, 0, len(decl.Ignore))
	for _, k := range decl.Ignore {
		if seen[k] {
			c.errorf(decl.Pos, "checkpoint key %s is both ignored and given", k)
		}
		ignore = append(ignore, k)
	}
	return ir.Attrs{"architecture": decl.Arch, "map": mapped, "nullable": nullable, "fixed": fixed, "ignore": strings.Join(ignore, ",")}
}

// nullableName reports whether e is nullable(name).
func nullableName(e *Expr) (string, bool) {
	pf := lonePostfix(e)
	if pf == nil || pf.Primary.Name == nil || *pf.Primary.Name != "nullable" || len(pf.Suffix) != 1 || pf.Suffix[0].Call == nil {
		return "", false
	}
	args := pf.Suffix[0].Call.Args
	if len(args) != 1 || args[0].Value == nil {
		return "", false
	}
	return bareName(args[0].Value)
}
