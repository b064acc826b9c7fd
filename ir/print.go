package ir

import (
	"strconv"
	"strings"
)

// Print renders m in the text form. Op results are numbered %0, %1, ... in
// body order; arguments keep their names. Parse(Print(m)) prints identically.
func Print(m *Module) string {
	var b strings.Builder
	b.WriteString("module @")
	b.WriteString(quoteName(m.Name))
	if len(m.Attrs) > 0 {
		b.WriteString(" attributes ")
		b.WriteString(m.Attrs.String())
	}
	b.WriteString(" {\n")
	for _, p := range m.Params {
		b.WriteString("  param @")
		b.WriteString(quoteName(p.Name))
		b.WriteString(" : ")
		b.WriteString(p.Type.String())
		if len(p.Attrs) > 0 {
			b.WriteByte(' ')
			b.WriteString(p.Attrs.String())
		}
		b.WriteByte('\n')
	}
	for _, d := range usedComposites(m) {
		b.WriteByte('\n')
		printFunc(&b, "composite", &Func{Name: d.Name, Args: d.Body.Args, Body: d.Body.Body, Results: d.Body.Results})
	}
	for _, f := range m.Funcs {
		b.WriteByte('\n')
		printFunc(&b, "func", f)
	}
	b.WriteString("}\n")
	return b.String()
}

// PrintFunc renders one function.
func PrintFunc(f *Func) string {
	var b strings.Builder
	printFunc(&b, "func", f)
	return b.String()
}

// ValueNames gives every value of f its name in the text form: %arg for
// arguments, %0, %1, ... for op results in order.
func ValueNames(f *Func) map[*Value]string {
	names := make(map[*Value]string, len(f.Body)+len(f.Args))
	for _, a := range f.Args {
		names[a] = "%" + a.Name
	}
	next := 0
	for _, op := range f.Body {
		for _, r := range op.Results {
			names[r] = "%" + strconv.Itoa(next)
			next++
		}
	}
	return names
}

func printFunc(b *strings.Builder, keyword string, f *Func) {
	names := make(map[*Value]string, len(f.Body)+len(f.Args))
	b.WriteString("  " + keyword + " @")
	b.WriteString(quoteName(f.Name))
	b.WriteByte('(')
	for i, a := range f.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		names[a] = "%" + a.Name
		b.WriteString(names[a])
		b.WriteString(": ")
		b.WriteString(a.Type.String())
	}
	b.WriteString(") -> (")
	for i, r := range f.Results {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.Type.String())
	}
	b.WriteString(") {\n")
	for v, n := range ValueNames(f) {
		names[v] = n
	}
	name := func(v *Value) string {
		if n, ok := names[v]; ok {
			return n
		}
		return "%<undefined>"
	}
	for _, op := range f.Body {
		b.WriteString("    ")
		for i, r := range op.Results {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(names[r])
		}
		b.WriteString(" = ")
		b.WriteString(op.Name)
		for i, a := range op.Args {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte(' ')
			b.WriteString(name(a))
		}
		if len(op.Attrs) > 0 {
			b.WriteByte(' ')
			b.WriteString(op.Attrs.String())
		}
		b.WriteString(" : ")
		for i, r := range op.Results {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(r.Type.String())
		}
		if op.Loc.IsKnown() {
			b.WriteString(" loc(")
			b.WriteString(strconv.Quote(op.Loc.File))
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(op.Loc.Line))
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(op.Loc.Col))
			b.WriteByte(')')
		}
		b.WriteByte('\n')
	}
	b.WriteString("    return")
	for i, r := range f.Results {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(' ')
		b.WriteString(name(r))
	}
	b.WriteString("\n  }\n")
}
