package ir

// Clone returns a deep copy of f named name: new values and ops, cloned
// attributes, the same types and locations.
func (f *Func) Clone(name string) *Func {
	g := &Func{Name: name}
	vals := make(map[*Value]*Value, len(f.Body)+len(f.Args))
	for _, a := range f.Args {
		c := *a
		vals[a] = &c
		g.Args = append(g.Args, &c)
	}
	for _, op := range f.Body {
		args := make([]*Value, len(op.Args))
		for i, a := range op.Args {
			args[i] = vals[a]
		}
		nop := NewOp(op.Name, args, op.Attrs.Clone(), op.ResultTypes(), op.Loc)
		for i, r := range op.Results {
			vals[r] = nop.Results[i]
		}
		g.Body = append(g.Body, nop)
	}
	for _, r := range f.Results {
		g.Results = append(g.Results, vals[r])
	}
	return g
}
