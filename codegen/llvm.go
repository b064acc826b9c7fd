package codegen

import (
	"fmt"
	"strings"

	"github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/metadata"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// Address spaces of the NVPTX backend.
const (
	global types.AddrSpace = 1
	shared types.AddrSpace = 3
)

// The LLVM types kernels use. bf16 and fp8 have no llir type: they travel as
// i16 / i8 bits and convert through PTX cvt instructions.
var (
	i1, i8, i16, i32, i64 = types.I1, types.I8, types.I16, types.I32, types.I64
	f32, f64              = types.Float, types.Double
)

// builder writes one kernel: an llir module holding a single entry function
// with the NVVM kernel annotation. Control flow is structured (loops and ifs
// built from blocks and phis); the current block is b.
type builder struct {
	m       *ir.Module
	f       *ir.Func
	b       *ir.Block
	nblock  int
	intrins map[string]*ir.Func
}

// param is one kernel parameter.
type param struct {
	name string
	typ  types.Type
}

func ptr(elem types.Type, space types.AddrSpace) *types.PointerType {
	p := types.NewPointer(elem)
	p.AddrSpace = space
	return p
}

func newBuilder(name string, params []param) *builder {
	m := ir.NewModule()
	m.TargetTriple = "nvptx64-nvidia-cuda"
	m.DataLayout = "e-i64:64-i128:128-v16:16-v32:32-n16:32:64"
	ps := make([]*ir.Param, len(params))
	for i, p := range params {
		ps[i] = ir.NewParam(p.name, p.typ)
	}
	f := m.NewFunc(name, types.Void, ps...)
	k := &builder{m: m, f: f, intrins: map[string]*ir.Func{}}
	k.b = f.NewBlock("entry")
	// The kernel annotation: !nvvm.annotations = !{!{fn, !"kernel", i32 1}}.
	md := &metadata.Tuple{MetadataID: 0, Fields: []metadata.Field{f, &metadata.String{Value: "kernel"}, constant.NewInt(i32, 1)}}
	m.MetadataDefs = append(m.MetadataDefs, md)
	m.NamedMetadataDefs["nvvm.annotations"] = &metadata.NamedDef{Name: "nvvm.annotations", Nodes: []metadata.Node{md}}
	return k
}

func (k *builder) param(i int) value.Value { return k.f.Params[i] }

// String is the module's LLVM IR text.
func (k *builder) String() string { return k.m.String() }

func (k *builder) block(hint string) *ir.Block {
	k.nblock++
	return k.f.NewBlock(fmt.Sprintf("%s%d", hint, k.nblock))
}

// intrinsic declares (once) and returns an LLVM/NVVM intrinsic.
func (k *builder) intrinsic(name string, ret types.Type, args ...types.Type) *ir.Func {
	if f, ok := k.intrins[name]; ok {
		return f
	}
	ps := make([]*ir.Param, len(args))
	for i, t := range args {
		ps[i] = ir.NewParam("", t)
	}
	f := k.m.NewFunc(name, ret, ps...)
	k.intrins[name] = f
	return f
}

func (k *builder) call(name string, ret types.Type, args ...value.Value) value.Value {
	ts := make([]types.Type, len(args))
	for i, a := range args {
		ts[i] = a.Type()
	}
	return k.b.NewCall(k.intrinsic(name, ret, ts...), args...)
}

// sreg reads a PTX special register (tid.x, ctaid.y, ntid.x, ...).
func (k *builder) sreg(name string) value.Value {
	return k.call("llvm.nvvm.read.ptx.sreg."+name, i32)
}

func (k *builder) barrier() { k.call("llvm.nvvm.barrier0", types.Void) }

// asm emits inline PTX. ret is the result type (void, a scalar, or a struct
// of several outputs). The call is convergent, as clang marks CUDA's
// inline asm: LLVM must not move it into code only some threads run (the
// .aligned warpgroup instructions need every thread of the warpgroup).
func (k *builder) asm(ret types.Type, text, constraints string, args ...value.Value) value.Value {
	ts := make([]types.Type, len(args))
	for i, a := range args {
		ts[i] = a.Type()
	}
	fn := types.NewFunc(ret, ts...)
	a := ir.NewInlineAsm(types.NewPointer(fn), text, constraints)
	a.SideEffect = true
	c := k.b.NewCall(a, args...)
	c.FuncAttrs = append(c.FuncAttrs, enum.FuncAttrConvergent)
	return c
}

func ci32(v int64) *constant.Int             { return constant.NewInt(i32, v) }
func ci64(v int64) *constant.Int             { return constant.NewInt(i64, v) }
func cf32(v float64) *constant.Float         { return constant.NewFloat(f32, float64(float32(v))) }
func cint(t types.Type, v int64) value.Value { return constant.NewInt(t.(*types.IntType), v) }

// Integer arithmetic on i64 index values.
func (k *builder) add(a, b value.Value) value.Value { return k.b.NewAdd(a, b) }
func (k *builder) sub(a, b value.Value) value.Value { return k.b.NewSub(a, b) }
func (k *builder) mul(a, b value.Value) value.Value { return k.b.NewMul(a, b) }
func (k *builder) div(a, b value.Value) value.Value { return k.b.NewSDiv(a, b) }
func (k *builder) rem(a, b value.Value) value.Value { return k.b.NewSRem(a, b) }
func (k *builder) lt(a, b value.Value) value.Value  { return k.b.NewICmp(enum.IPredSLT, a, b) }
func (k *builder) ge(a, b value.Value) value.Value  { return k.b.NewICmp(enum.IPredSGE, a, b) }
func (k *builder) sel(c, a, b value.Value) value.Value {
	return k.b.NewSelect(c, a, b)
}
func (k *builder) zext64(v value.Value) value.Value {
	if v.Type().Equal(i64) {
		return v
	}
	return k.b.NewZExt(v, i64)
}
func (k *builder) sext64(v value.Value) value.Value {
	if v.Type().Equal(i64) {
		return v
	}
	return k.b.NewSExt(v, i64)
}

// at returns &p[i] for a pointer to elements.
func (k *builder) at(p value.Value, i value.Value) value.Value {
	return k.b.NewGetElementPtr(p.Type().(*types.PointerType).ElemType, p, i)
}

func (k *builder) load(p value.Value) value.Value {
	return k.b.NewLoad(p.Type().(*types.PointerType).ElemType, p)
}

func (k *builder) store(v, p value.Value) { k.b.NewStore(v, p) }

// globalID is blockIdx.x·blockDim.x + threadIdx.x as i64.
func (k *builder) globalID() value.Value {
	b := k.zext64(k.sreg("ctaid.x"))
	n := k.zext64(k.sreg("ntid.x"))
	t := k.zext64(k.sreg("tid.x"))
	return k.add(k.mul(b, n), t)
}

// ifThen runs body when cond holds and continues after it.
func (k *builder) ifThen(cond value.Value, body func()) {
	then, done := k.block("then"), k.block("endif")
	k.b.NewCondBr(cond, then, done)
	k.b = then
	body()
	k.b.NewBr(done)
	k.b = done
}

// choose computes then's values only when cond holds; otherwise the
// values are those in otherwise (SSA phis at the join).
func (k *builder) choose(cond value.Value, otherwise []value.Value, then func() []value.Value) []value.Value {
	pre := k.b
	thenB, done := k.block("then"), k.block("endif")
	pre.NewCondBr(cond, thenB, done)
	k.b = thenB
	vals := then()
	end := k.b
	end.NewBr(done)
	k.b = done
	out := make([]value.Value, len(vals))
	for i := range vals {
		out[i] = done.NewPhi(ir.NewIncoming(vals[i], end), ir.NewIncoming(otherwise[i], pre))
	}
	return out
}

// loop runs body(i) for i = start; i < end; i += step (i64), carrying the
// values in carry through the iterations: body returns their next values;
// loop returns their final values.
func (k *builder) loop(start, end, step value.Value, carry []value.Value, body func(i value.Value, c []value.Value) []value.Value) []value.Value {
	pre := k.b
	head, bodyB, exit := k.block("loop"), k.block("body"), k.block("exit")
	pre.NewBr(head)
	k.b = head
	iv := head.NewPhi(ir.NewIncoming(start, pre))
	phis := make([]*ir.InstPhi, len(carry))
	cur := make([]value.Value, len(carry))
	for j, c := range carry {
		phis[j] = head.NewPhi(ir.NewIncoming(c, pre))
		cur[j] = phis[j]
	}
	head.NewCondBr(k.lt(iv, end), bodyB, exit)
	k.b = bodyB
	next := body(iv, cur)
	latch := k.b
	iv.Incs = append(iv.Incs, ir.NewIncoming(k.add(iv, step), latch))
	for j := range phis {
		phis[j].Incs = append(phis[j].Incs, ir.NewIncoming(next[j], latch))
	}
	latch.NewBr(head)
	k.b = exit
	return cur
}

// ret ends the kernel.
func (k *builder) ret() { k.b.NewRet(nil) }

// sanitize turns an IR-derived name into a PTX identifier.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

const sle = enum.IPredSLE

func zeroVector(t types.Type) value.Value { return constant.NewZeroInitializer(t) }

func constantF64(v float64) *constant.Float { return constant.NewFloat(f64, v) }

// while runs body while cond holds, carrying values like loop.
func (k *builder) while(carry []value.Value, cond func(c []value.Value) value.Value, body func(c []value.Value) []value.Value) []value.Value {
	pre := k.b
	head, bodyB, exit := k.block("while"), k.block("wbody"), k.block("wexit")
	pre.NewBr(head)
	k.b = head
	phis := make([]*ir.InstPhi, len(carry))
	cur := make([]value.Value, len(carry))
	for j, c := range carry {
		phis[j] = head.NewPhi(ir.NewIncoming(c, pre))
		cur[j] = phis[j]
	}
	k.b.NewCondBr(cond(cur), bodyB, exit)
	k.b = bodyB
	next := body(cur)
	latch := k.b
	for j := range phis {
		phis[j].Incs = append(phis[j].Incs, ir.NewIncoming(next[j], latch))
	}
	latch.NewBr(head)
	k.b = exit
	return cur
}
