package emu

import (
	"fmt"
	"strconv"
	"strings"
)

// opc is an opcode split into its parts: "cvt.rn.satfinite.e4m3x2.f32" is
// base cvt, types [e4m3x2 f32], mods {rn, satfinite}.
type opc struct {
	text  string
	base  string
	types []ptype
	mods  map[string]bool
	order []string // the non-type modifiers in order (shapes, modes)
}

func (o *opc) has(m string) bool { return o.mods[m] }

// only fails unless every modifier is one of allowed: an unknown modifier
// means semantics the emulator does not implement.
func (o *opc) only(allowed ...string) error {
	for m := range o.mods {
		ok := false
		for _, a := range allowed {
			if m == a {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("modifier .%s is not implemented", m)
		}
	}
	return nil
}

func parseOpcode(s string) *opc {
	parts := strings.Split(s, ".")
	o := &opc{text: s, base: parts[0], mods: map[string]bool{}}
	for _, p := range parts[1:] {
		if t, ok := typeNames[p]; ok {
			o.types = append(o.types, t)
			continue
		}
		o.mods[p] = true
		o.order = append(o.order, p)
	}
	return o
}

// builder decodes one base opcode's operands into in (in.exec, in.kind, ...).
type builder func(d *decoder, in *inst, o *opc, args []string) error

// useFast selects the generated lane loops (fast_gen.go) over the
// builders' for the opcodes they cover (tests compare the two).
var useFast = true

// builders maps base opcodes to their decoders; ops_*.go fill it.
var builders = map[string]builder{}

// decoder holds a kernel's names while its body is decoded.
type decoder struct {
	m      *Module
	k      *Kernel
	c      *code
	scopes []map[string]int32
	consts map[string]int32
	specs  map[string]int32
	labels map[string]int32
	fix    []fixup
}

type fixup struct {
	inst  int
	label string
	line  int
}

// maxRegisters bounds a kernel's register slots (declared, constants and
// special registers): each costs 256 bytes per warp.
const maxRegisters = 1 << 16

// maxGlobalBytes bounds a module's .global variables.
const maxGlobalBytes = 1 << 28

func (d *decoder) newReg(name, typ string) int32 {
	r := int32(d.c.nregs)
	d.c.nregs++
	d.c.regNames = append(d.c.regNames, name)
	d.c.regType = append(d.c.regType, typ)
	return r
}

func (d *decoder) lookup(name string) (int32, bool) {
	for i := len(d.scopes) - 1; i >= 0; i-- {
		if r, ok := d.scopes[i][name]; ok {
			return r, true
		}
	}
	return 0, false
}

// declare handles ".reg .b32 %r<12>" and ".reg .b16 lo, hi".
func (d *decoder) declare(text string) error {
	f := strings.Fields(strings.ReplaceAll(text, ",", " "))
	if len(f) < 3 {
		return fmt.Errorf("bad register declaration %q", text)
	}
	typ := f[1]
	if typeBytes(typ) == 0 {
		return fmt.Errorf("register type %s", typ)
	}
	sc := d.scopes[len(d.scopes)-1]
	for _, n := range f[2:] {
		if i := strings.IndexByte(n, '<'); i >= 0 {
			cnt, err := strconv.Atoi(strings.TrimSuffix(n[i+1:], ">"))
			if err != nil || cnt < 0 || d.c.nregs+cnt > maxRegisters {
				return fmt.Errorf("register count in %q: more than %d registers in the kernel", n, maxRegisters)
			}
			for j := 0; j < cnt; j++ {
				name := n[:i] + strconv.Itoa(j)
				sc[name] = d.newReg(name, typ)
			}
			continue
		}
		if d.c.nregs >= maxRegisters {
			return fmt.Errorf("more than %d registers in the kernel", maxRegisters)
		}
		sc[n] = d.newReg(n, typ)
	}
	return nil
}

// constant is a register holding v in every lane.
func (d *decoder) constant(v uint64, sym string) int32 {
	key := sym + "#" + strconv.FormatUint(v, 16)
	if r, ok := d.consts[key]; ok {
		return r
	}
	name := key
	r := d.newReg(name, ".b64")
	d.consts[key] = r
	d.c.consts = append(d.c.consts, constReg{reg: r, val: v, sym: sym})
	return r
}

var specialNames = map[string]bool{
	"%tid.x": true, "%tid.y": true, "%tid.z": true, "%ntid.x": true, "%ntid.y": true, "%ntid.z": true,
	"%ctaid.x": true, "%ctaid.y": true, "%ctaid.z": true, "%nctaid.x": true, "%nctaid.y": true, "%nctaid.z": true,
	"%laneid": true, "%warpid": true, "%nwarpid": true, "%smid": true, "%gridid": true,
	"%lanemask_eq": true, "%lanemask_lt": true, "%lanemask_le": true, "%lanemask_gt": true, "%lanemask_ge": true,
	"%dynamic_smem_size": true, "%total_smem_size": true,
}

// src resolves a source operand of type t: a register, an immediate, a
// special register or a variable's address.
func (d *decoder) src(a string, t ptype) (int32, error) {
	if r, ok := d.lookup(a); ok {
		return r, nil
	}
	if specialNames[a] {
		if r, ok := d.specs[a]; ok {
			return r, nil
		}
		r := d.newReg(a, ".b32")
		d.specs[a] = r
		d.c.specials = append(d.c.specials, specialReg{reg: r, name: a})
		return r, nil
	}
	if strings.HasPrefix(a, "%") {
		return 0, fmt.Errorf("unknown register or special register %s", a)
	}
	if v, ok := d.symbol(a); ok {
		return v, nil
	}
	if i := strings.IndexAny(a, "+-"); i > 0 { // var+imm
		if off, err := parseIntLit(strings.TrimPrefix(a[i:], "+")); err == nil {
			if v, ok := d.symbolPlus(a[:i], off); ok {
				return v, nil
			}
		}
	}
	// An immediate. Float literals are bits of the operand's type.
	if t == tF32 || t == tF64 || strings.HasPrefix(a, "0f") || strings.HasPrefix(a, "0d") || strings.ContainsAny(a, ".eE") && !strings.HasPrefix(a, "0x") {
		size := 4
		if t == tF64 || strings.HasPrefix(a, "0d") && t != tF32 {
			size = 8
		}
		if u, err := parseFloatLit(a, size); err == nil {
			return d.constant(u, ""), nil
		}
	}
	u, err := parseIntLit(a)
	if err != nil {
		return 0, fmt.Errorf("operand %q is neither a register nor a literal", a)
	}
	return d.constant(u, ""), nil
}

// symbol is a register holding a variable's address: a shared variable's
// offset in the CTA window, a module global's device address.
func (d *decoder) symbol(name string) (int32, bool) { return d.symbolPlus(name, 0) }

// symbolPlus is symbol with a byte offset (mov.u64 %rd, var+16).
func (d *decoder) symbolPlus(name string, off uint64) (int32, bool) {
	for _, v := range d.k.Shared {
		if v.Name == name {
			return d.constant(v.Offset+off, ""), true
		}
	}
	for _, v := range d.m.Globals {
		if v.Name == name {
			return d.constant(off, name), true
		}
	}
	for _, p := range d.k.Params {
		if p.Name == name {
			return d.constant(paramWindow+uint64(p.Offset)+off, ""), true
		}
	}
	return 0, false
}

// dst resolves a destination register ("_" is the sink, -1).
func (d *decoder) dst(a string) (int32, error) {
	if a == "_" {
		return -1, nil
	}
	if r, ok := d.lookup(a); ok {
		return r, nil
	}
	return 0, fmt.Errorf("destination %q is not a declared register", a)
}

// vector splits "{a, b, c}" into its elements (a scalar is a vector of 1).
func vector(a string) []string {
	if !strings.HasPrefix(a, "{") {
		return []string{a}
	}
	parts := strings.Split(strings.Trim(a, "{}"), ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// mem decodes "[base+off]": base is a register, a variable or a parameter.
// It returns the register holding the base address and the offset.
func (d *decoder) mem(a string, sp space) (int32, int64, error) {
	if !strings.HasPrefix(a, "[") || !strings.HasSuffix(a, "]") {
		return 0, 0, fmt.Errorf("memory operand %q: want [address]", a)
	}
	inner := strings.ReplaceAll(a[1:len(a)-1], " ", "")
	if inner == "" {
		return 0, 0, fmt.Errorf("memory operand %q: no address", a)
	}
	base, off := inner, int64(0)
	if i := strings.IndexAny(inner[1:], "+-") + 1; i > 0 {
		o, err := parseIntLit(strings.TrimPrefix(inner[i:], "+"))
		if err != nil {
			return 0, 0, fmt.Errorf("memory operand %q: offset", a)
		}
		base, off = inner[:i], int64(o)
	}
	if sp == spParam {
		for _, p := range d.k.Params {
			if p.Name == base {
				return d.constant(uint64(p.Offset), ""), off, nil
			}
		}
	}
	if r, ok := d.lookup(base); ok {
		return r, off, nil
	}
	if r, ok := d.symbol(base); ok {
		return r, off, nil
	}
	if u, err := parseIntLit(base); err == nil { // an absolute address
		return d.constant(u, ""), off, nil
	}
	return 0, 0, fmt.Errorf("memory operand %q: unknown base %s", a, base)
}

// splitArgs splits operands at top-level commas.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" {
		out = append(out, t)
	}
	return out
}

// decodeKernel lays out shared memory and decodes every instruction.
func decodeKernel(m *Module, ks *kernelSrc) error {
	k := ks.k
	c := &code{}
	k.code = c
	d := &decoder{m: m, k: k, c: c, scopes: []map[string]int32{{}}, consts: map[string]int32{}, specs: map[string]int32{}, labels: map[string]int32{}}
	// Shared variables first: instructions may take their addresses.
	var off uint64
	var externs []*Var
	depth := 0
	for _, mv := range m.Shared {
		v := *mv // each kernel lays out its own copy
		if v.Extern {
			externs = append(externs, &v)
			continue
		}
		off = (off + uint64(v.Align) - 1) &^ uint64(v.Align-1)
		v.Offset = off
		off += uint64(v.Size)
		k.Shared = append(k.Shared, &v)
	}
	for _, s := range ks.body {
		switch s.kind {
		case stmtOpen:
			depth++
		case stmtClose:
			depth--
		case stmtPlain:
			if strings.Contains(s.text, ".shared") && strings.HasPrefix(strings.TrimPrefix(strings.TrimPrefix(s.text, ".extern "), ".visible "), ".shared") {
				v, err := parseVar(s, false)
				if err != nil {
					return err
				}
				if v.Extern {
					externs = append(externs, v)
					continue
				}
				off = (off + uint64(v.Align) - 1) &^ uint64(v.Align-1)
				v.Offset = off
				off += uint64(v.Size)
				k.Shared = append(k.Shared, v)
			}
		}
	}
	k.StaticShared = int(off)
	dyn := (off + 15) &^ 15
	for _, v := range externs {
		dyn = (dyn + uint64(max(v.Align, 16)) - 1) &^ uint64(max(v.Align, 16)-1)
		v.Offset = dyn
		k.Shared = append(k.Shared, v)
	}
	k.DynOffset = int(dyn)
	if k.DynOffset > maxSharedPerBlock {
		return fmt.Errorf("%d bytes of static shared memory exceed Hopper's %d", k.DynOffset, maxSharedPerBlock)
	}
	for _, s := range ks.body {
		switch s.kind {
		case stmtOpen:
			d.scopes = append(d.scopes, map[string]int32{})
		case stmtClose:
			d.scopes = d.scopes[:len(d.scopes)-1]
		case stmtLabel:
			if _, dup := d.labels[s.text]; dup {
				return fmt.Errorf("line %d: label %s defined twice", s.line, s.text)
			}
			d.labels[s.text] = int32(len(c.insts))
		case stmtPlain:
			if err := d.statement(s); err != nil {
				return fmt.Errorf("line %d: %s: %w", s.line, s.text, err)
			}
		default:
			return fmt.Errorf("line %d: unexpected %q in a kernel body", s.line, s.text)
		}
	}
	for _, f := range d.fix {
		t, ok := d.labels[f.label]
		if !ok {
			return fmt.Errorf("line %d: branch to undefined label %s", f.line, f.label)
		}
		c.insts[f.inst].target = t
	}
	c.rpc = reconvergence(c.insts)
	return nil
}

// statement decodes a directive or an instruction of a kernel body.
func (d *decoder) statement(s stmt) error {
	t := s.text
	switch {
	case strings.HasPrefix(t, ".reg "):
		return d.declare(t)
	case strings.HasPrefix(t, ".shared ") || strings.HasPrefix(t, ".extern ") || strings.HasPrefix(t, ".visible "):
		return nil // laid out already
	case strings.HasPrefix(t, ".pragma") || strings.HasPrefix(t, ".loc") || strings.HasPrefix(t, ".file"):
		return nil
	case strings.HasPrefix(t, "."):
		return fmt.Errorf("directive not supported in a kernel body")
	}
	in := inst{guard: -1, addr: -1, line: s.line, text: t}
	if strings.HasPrefix(t, "@") {
		sp := strings.IndexByte(t, ' ')
		if sp < 0 {
			return fmt.Errorf("guard without an instruction")
		}
		g := t[1:sp]
		if strings.HasPrefix(g, "!") {
			in.guardNeg, g = true, g[1:]
		}
		r, ok := d.lookup(g)
		if !ok {
			return fmt.Errorf("guard %s is not a declared predicate", g)
		}
		in.guard = r
		t = strings.TrimSpace(t[sp+1:])
	}
	op, rest, _ := strings.Cut(t, " ")
	o := parseOpcode(op)
	in.op = op
	b, ok := builders[o.base]
	if !ok {
		return fmt.Errorf("opcode %s is not implemented by the emulator", o.base)
	}
	args := splitArgs(rest)
	if err := b(d, &in, o, args); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if in.exec == nil && in.kind == kPlain {
		return fmt.Errorf("%s: no semantics", op)
	}
	if f, ok := fastOps[op]; ok && useFast && in.kind == kPlain && len(in.dst) == 1 && in.dst[0] >= 0 && len(in.src) == f.n && in.addr < 0 {
		in.exec = f.exec
	}
	d.c.insts = append(d.c.insts, in)
	return nil
}

// branchTo records a branch target to resolve after every label is known.
func (d *decoder) branchTo(label string, line int) {
	d.fix = append(d.fix, fixup{inst: len(d.c.insts), label: label, line: line})
}

// need checks an operand count.
func need(args []string, n int) error {
	if len(args) != n {
		return fmt.Errorf("%d operands, want %d", len(args), n)
	}
	return nil
}

// oneType returns the opcode's single type, which must be in allowed.
func oneType(o *opc, allowed ...ptype) (ptype, error) {
	if len(o.types) != 1 {
		return tNone, fmt.Errorf("want one type, got %d", len(o.types))
	}
	for _, a := range allowed {
		if o.types[0] == a {
			return a, nil
		}
	}
	return tNone, fmt.Errorf("type .%s is not implemented", o.types[0])
}
