package dsl

import (
	"path/filepath"
)

// extendsTarget resolves the file an `extends` clause names. A relative
// path is relative to the file that holds the clause; an absolute path is
// taken as it is (it used to be joined to that directory, silently naming
// another file). The target must be a .deep file, by its name and, when
// the name is a link, by the name of what the link reaches: the model is
// hostile input (docs/design.md §11), and a parse error quotes a line of
// the file it is in, so `extends "../../../../etc/passwd"` printed that
// file's first line. It is refused before anything is read.
func (c *compiler) extendsTarget(from string, x *Extends) string {
	p := filepath.Clean(x.Path)
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(from), p)
	}
	if filepath.Ext(p) != ".deep" {
		c.errorf(x.Pos, "extends %q: a model extends only a .deep file", clip(x.Path, maxMessage))
	}
	if real, err := filepath.EvalSymlinks(p); err == nil && filepath.Ext(real) != ".deep" {
		c.errorf(x.Pos, "extends %q: it is a link to a file that is not a .deep file", clip(x.Path, maxMessage))
	}
	return p
}

// sameFile reports whether two paths name the same file as far as their
// text tells: a cycle through "a.deep" and "/abs/dir/a.deep" is caught.
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	aa, err1 := filepath.Abs(a)
	ab, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == ab
}
