package dsl

// scope is one level of name bindings. Blocks see the globals (dtypes,
// config, blocks) and their own flat scope: like Python, `if` and `for`
// bodies bind into the enclosing block's scope, which is what unrolled
// loops that carry a value (`h = layer(h)`) need.
type scope struct {
	vars   map[string]any
	parent *scope
}

func newScope(parent *scope) *scope { return &scope{vars: map[string]any{}, parent: parent} }

func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

func (s *scope) set(name string, v any) { s.vars[name] = v }
