package dsl

import (
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/ir"
)

// The checkpoint contract (ast.go's Checkpoint) in the compiled module:
// module attribute CheckpointAttr = {architecture = "...", map = {hf_key =
// "config_key", ...}, nullable = {hf_key = true, ...}, fixed = {hf_key =
// value, ...} (an empty dict for null), ignore = "hf_key,...", derived =
// "config_key,..." (mapped keys computed from other config keys, such as
// head_dim = dim / n_heads: config.json may well leave them out)}. models/hfconfig.go
// reads and writes config.json from it and knows no model.
const CheckpointAttr = "checkpoint"

// checkpoint evaluates the last checkpoint declaration of the files (a
// model's own replaces the one it extends); nil when there is none.
func (c *compiler) checkpoint(files []*File, cfg *Struct) ir.Attrs {
	var decl *Checkpoint
	for _, f := range files {
		nestedCheckpoint(c, f.Decls, false)
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
			if pf := lonePostfix(e.Value); !ok && pf != nil && pf.Primary.Name != nil && *pf.Primary.Name == "nullable" {
				c.errorf(e.Pos, "nullable takes one config key: nullable(sliding_window)")
			}
		}
		if e.Name == "architectures" {
			c.errorf(e.Pos, "architectures is the checkpoint's architecture, given after `checkpoint`")
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
			c.errorf(decl.Pos, "checkpoint key %s is both ignored and given", clip(k, maxMessage))
		}
		if k == "" || strings.Contains(k, ",") {
			c.errorf(decl.Pos, "ignore %q: a config.json key, not empty and without commas", clip(k, maxMessage))
		}
		ignore = append(ignore, k)
	}
	var derived []string
	for _, k := range mapped {
		if c.derived[k.(string)] {
			derived = append(derived, k.(string))
		}
	}
	slices.Sort(derived)
	return ir.Attrs{"architecture": decl.Arch, "map": mapped, "nullable": nullable, "fixed": fixed,
		"ignore": strings.Join(ignore, ","), "derived": strings.Join(derived, ",")}
}

// nestedCheckpoint refuses a checkpoint declaration inside a top-level if:
// a model's contract does not depend on its config.
func nestedCheckpoint(c *compiler, decls []*Decl, nested bool) {
	for _, d := range decls {
		if d.Checkpoint != nil && nested {
			c.errorf(d.Checkpoint.Pos, "a checkpoint declaration belongs at the top level of a model file, not inside an if")
		}
		if d.If != nil {
			nestedCheckpoint(c, d.If.Decls, true)
			nestedCheckpoint(c, d.If.Else, true)
		}
	}
}

// namesIn reports whether an expression reads any name (a config key, a
// dtype, a block): its value is computed, not written out.
func namesIn(e *Expr) bool {
	if e == nil {
		return false
	}
	for _, a := range append([]*AndExpr{e.Left}, orRights(e)...) {
		for _, n := range append([]*NotExpr{a.Left}, andRights(a)...) {
			for n.Not != nil {
				n = n.Not
			}
			if sumNames(n.Cmp.Left) || (n.Cmp.Right != nil && sumNames(n.Cmp.Right)) {
				return true
			}
		}
	}
	return false
}

func orRights(e *Expr) (r []*AndExpr) {
	for _, o := range e.Right {
		r = append(r, o.Right)
	}
	return r
}

func andRights(a *AndExpr) (r []*NotExpr) {
	for _, x := range a.Right {
		r = append(r, x.Right)
	}
	return r
}

func sumNames(s *SumExpr) bool {
	prods := []*ProdExpr{s.Left}
	for _, r := range s.Right {
		prods = append(prods, r.Right)
	}
	for _, p := range prods {
		us := []*UnaryExpr{p.Left}
		for _, r := range p.Right {
			us = append(us, r.Right)
		}
		for _, u := range us {
			if unaryNames(u) {
				return true
			}
		}
	}
	return false
}

func unaryNames(u *UnaryExpr) bool {
	for u.Neg != nil {
		u = u.Neg
	}
	return u.Power != nil && (postfixNames(u.Power.Base) || (u.Power.Exp != nil && unaryNames(u.Power.Exp)))
}

func postfixNames(p *Postfix) bool {
	pr := p.Primary
	switch {
	case pr.Name != nil:
		return true
	case pr.Paren != nil && namesIn(pr.Paren):
		return true
	case pr.List != nil && slices.ContainsFunc(pr.List.Items, namesIn):
		return true
	case pr.Struct != nil && slices.ContainsFunc(pr.Struct.Fields, func(f *KwArg) bool { return namesIn(f.Value) }):
		return true
	}
	for _, sfx := range p.Suffix {
		if sfx.Call != nil && slices.ContainsFunc(sfx.Call.Args, func(a *Arg) bool {
			if a.Kw != nil {
				return namesIn(a.Kw.Value)
			}
			return namesIn(a.Value)
		}) {
			return true
		}
	}
	return false
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
