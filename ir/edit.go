package ir

import (
	"errors"
	"fmt"
)

// Use is one use of a value: operand Arg of Op, or, when Op is nil, the
// function's result number Arg.
type Use struct {
	Op  *Op
	Arg int
}

// Editor edits one function in place. It keeps every value's use list
// current, so a pass can ask who reads a value without rescanning the
// body, and it keeps the op order as a linked list, so inserting and
// erasing cost the same wherever they happen: a rewrite of a 100k-op body
// stays linear. Commit writes the order back to F.Body; between NewEditor
// and Commit, change F only through the editor.
type Editor struct {
	F          *Func
	uses       map[*Value][]Use
	next, prev map[*Op]*Op
	end        *Op // sentinel of the circular order list: next[end] is the first op
	erased     []*Op
}

// NewEditor starts editing f.
func NewEditor(f *Func) *Editor {
	e := &Editor{F: f, uses: map[*Value][]Use{}, next: map[*Op]*Op{}, prev: map[*Op]*Op{}, end: &Op{}}
	e.next[e.end], e.prev[e.end] = e.end, e.end
	for _, op := range f.Body {
		e.link(e.prev[e.end], op)
	}
	for i, r := range f.Results {
		e.uses[r] = append(e.uses[r], Use{Arg: i})
	}
	return e
}

// link puts op after at in the order and registers its operands' uses.
func (e *Editor) link(at, op *Op) {
	if e.Live(op) {
		panic(fmt.Sprintf("ir.Editor: op %s inserted twice", op.Name))
	}
	n := e.next[at]
	e.next[at], e.prev[op], e.next[op], e.prev[n] = op, at, n, op
	for i, a := range op.Args {
		e.uses[a] = append(e.uses[a], Use{op, i})
	}
}

// Live reports whether op is in the function being edited.
func (e *Editor) Live(op *Op) bool { _, ok := e.next[op]; return ok && op != e.end }

// Uses lists the current uses of v. The slice belongs to the editor: read
// it before the next edit, or copy it.
func (e *Editor) Uses(v *Value) []Use { return e.uses[v] }

// Users lists the distinct ops that use v, in no particular order, and
// whether v is also a function result.
func (e *Editor) Users(v *Value) (ops []*Op, result bool) {
	seen := map[*Op]bool{}
	for _, u := range e.uses[v] {
		switch {
		case u.Op == nil:
			result = true
		case !seen[u.Op]:
			seen[u.Op] = true
			ops = append(ops, u.Op)
		}
	}
	return ops, result
}

// Ops returns the current order of the body.
func (e *Editor) Ops() []*Op {
	var ops []*Op
	for op := e.next[e.end]; op != e.end; op = e.next[op] {
		ops = append(ops, op)
	}
	return ops
}

// SetArg makes operand i of op a use of v.
func (e *Editor) SetArg(op *Op, i int, v *Value) {
	e.dropUse(op.Args[i], Use{op, i})
	op.Args[i] = v
	e.uses[v] = append(e.uses[v], Use{op, i})
}

// SetResult makes function result i the value v.
func (e *Editor) SetResult(i int, v *Value) {
	e.dropUse(e.F.Results[i], Use{Arg: i})
	e.F.Results[i] = v
	e.uses[v] = append(e.uses[v], Use{Arg: i})
}

func (e *Editor) dropUse(v *Value, u Use) {
	us := e.uses[v]
	for i, x := range us {
		if x == u {
			us[i] = us[len(us)-1]
			e.uses[v] = us[:len(us)-1]
			return
		}
	}
}

// ReplaceAllUses makes every use of old a use of new and returns how many
// there were.
func (e *Editor) ReplaceAllUses(old, new *Value) int {
	if old == new {
		return 0
	}
	us := e.uses[old]
	for _, u := range us {
		if u.Op == nil {
			e.F.Results[u.Arg] = new
		} else {
			u.Op.Args[u.Arg] = new
		}
	}
	e.uses[new] = append(e.uses[new], us...)
	delete(e.uses, old)
	return len(us)
}

// Erase removes op from the body. Its results may still have uses by ops
// erased later in the same edit; Commit checks that none is left.
func (e *Editor) Erase(op *Op) {
	if !e.Live(op) {
		return
	}
	p, n := e.prev[op], e.next[op]
	e.next[p], e.prev[n] = n, p
	delete(e.next, op)
	delete(e.prev, op)
	for i, a := range op.Args {
		e.dropUse(a, Use{op, i})
	}
	e.erased = append(e.erased, op)
}

// InsertBefore puts op into the body just before at (a live op).
func (e *Editor) InsertBefore(at, op *Op) { e.link(e.prev[e.mustLive(at)], op) }

// InsertAfter puts op into the body just after at (a live op).
func (e *Editor) InsertAfter(at, op *Op) { e.link(e.mustLive(at), op) }

// Append puts op at the end of the body.
func (e *Editor) Append(op *Op) { e.link(e.prev[e.end], op) }

func (e *Editor) mustLive(op *Op) *Op {
	if !e.Live(op) {
		panic(fmt.Sprintf("ir.Editor: insertion point %s is not in @%s", op.Name, e.F.Name))
	}
	return op
}

// Before returns a builder that inserts before at, with at's location.
func (e *Editor) Before(at *Op) *Builder {
	e.mustLive(at)
	return &Builder{F: e.F, Loc: at.Loc, insert: func(op *Op) { e.InsertBefore(at, op) }}
}

// After returns a builder that inserts after at, each new op after the
// one it built before, so they keep the order they were built in.
func (e *Editor) After(at *Op) *Builder {
	cur := e.mustLive(at)
	return &Builder{F: e.F, Loc: at.Loc, insert: func(op *Op) { e.InsertAfter(cur, op); cur = op }}
}

// AtEnd returns a builder that appends to the body, with location loc.
func (e *Editor) AtEnd(loc Loc) *Builder {
	return &Builder{F: e.F, Loc: loc, insert: e.Append}
}

// Commit writes the edited order to F.Body. It fails, leaving F.Body as
// it was, if a live op or a function result still uses a result of an
// erased op.
func (e *Editor) Commit() error {
	var errs []error
	for _, op := range e.erased {
		if e.Live(op) {
			continue // erased, then inserted again
		}
		for _, r := range op.Results {
			for _, u := range e.uses[r] {
				errs = append(errs, fmt.Errorf("@%s: %s at %s was erased, but %s still uses its result %d", e.F.Name, op.Name, op.Loc, u.describe(), r.Index))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	e.F.Body = e.Ops()
	e.erased = nil
	return nil
}

func (u Use) describe() string {
	if u.Op == nil {
		return fmt.Sprintf("function result %d", u.Arg)
	}
	return fmt.Sprintf("%s at %s (operand %d)", u.Op.Name, u.Op.Loc, u.Arg)
}
