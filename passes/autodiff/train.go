package autodiff

import (
	"fmt"
	"strings"

	"github.com/deepc-dev/deepc/ir"
)

// TrainOptions are the hyperparameters built into a train program.
// Learning rate and Adam's bias corrections are arguments, so one program
// serves every step of a schedule.
type TrainOptions struct {
	MTPWeight     float64 // λ: the MTP loss is λ/D · Σ_k CE_k (0: no MTP loss)
	BalanceWeight float64 // α of the balance losses of routes that name no balance_weight (0: none)
	Beta1, Beta2  float64
	Eps           float64
	WeightDecay   float64 // decoupled, on params of rank ≥ 2
	ClipNorm      float64 // global gradient-norm clip (0: none)
	BiasRate      float64 // γ of auxiliary-loss-free balancing (0: biases fixed)
	// FP8 quantizes the fp8-declared weights (those with a quant block)
	// before each GEMM of their linears, forward and backward, as docs/model.md
	// §5 says; run the program in the runtime's FP8 mode.
	FP8 bool
	// Recompute computes RMSNorm outputs and up-projections (linears from
	// a norm's output to a wider one, as MLA's q_b and kv_b) again in the
	// backward instead of keeping them from the forward: less memory for
	// more compute, as DeepSeek-V3 trains.
	Recompute bool
	// MomentDType is the dtype the AdamW moments are kept in between steps:
	// f32 (the default) or bf16 (docs/model.md §5), rounded where the runtime's
	// mode rounds bf16 (bf16 and fp8 modes); the update itself is f32.
	MomentDType ir.DType
}

// Output kinds of a train program's results, in the module attribute
// TrainOutputsAttr as "kind:name" entries joined by ",".
const (
	TrainOutputsAttr = "train_outputs" // runtime/train.OutputsAttr
	MomentM          = "optim.m."
	MomentV          = "optim.v."
)

// Train adds to m the function "train", one optimizer step:
//
//	train(tokens, pos, seq [T] i32, segments [B, T] f32, lr, bc1, bc2 f32)
//
// segments[b, t] is 1 when token t belongs to sequence b (the balance loss
// is per sequence); bc1, bc2 are Adam's bias corrections 1 − β^step. It
// computes the losses (next-token CE, MTP, balance), their gradient with
// respect to every trainable param, clips it by global norm, applies
// AdamW (f32 master weights; moments are module params MomentM+name and
// MomentV+name), and moves each routing bias by γ·sign(mean load − load).
// Its results are described by the module attribute TrainOutputsAttr:
// "loss", "ce", "mtp", "balance", "grad_norm", "load:<bias param>" (tokens
// routed to each expert), then "param:<name>" for each trainable param,
// "state:<name>" for its moments (params MomentM+name, MomentV+name, f32,
// starting at zero) and "bias:<name>" for each routing bias: the updated
// values, to bind in place of the old ones.
func Train(m *ir.Module, o TrainOptions) (*ir.Func, error) {
	fwd := m.Func("forward")
	if fwd == nil {
		return nil, fmt.Errorf("the module has no forward function")
	}
	if m.Func("train") != nil {
		return nil, fmt.Errorf("the module already has a train function")
	}
	f := &ir.Func{Name: "train"}
	b := newBuilder(f)
	b.loc = ir.Loc{File: "<train>"}
	a := trainArguments(f)
	ce, mtpLoss, err := languageLosses(b, m, fwd, a, o)
	if err != nil {
		return nil, err
	}
	if o.FP8 {
		quantizeWeights(m, f)
	}
	routes, balance, err := routingLosses(b, m, f, a, o)
	if err != nil {
		return nil, err
	}
	loss := b.bin(ir.OpAdd, b.bin(ir.OpAdd, ce, mtpLoss), balance)
	if b.err != nil {
		return nil, b.err
	}
	wrt := Trainable(m, f)
	var recompute func(*ir.Value) bool
	if o.Recompute {
		recompute = recomputable
	}
	grads, err := backwardWith(b, f, loss, wrt, m, recompute)
	if err != nil {
		return nil, err
	}
	gnorm, factor := clipFactor(b, grads, o)
	var out trainOutputs
	out.add("loss", loss)
	out.add("ce", ce)
	out.add("mtp", mtpLoss)
	out.add("balance", balance)
	out.add("grad_norm", gnorm)
	for _, r := range routes {
		out.add("load:"+r.bias.Name, r.load)
	}
	adamW(b, m, wrt, grads, factor, a, o, &out)
	moveBiases(b, routes, o, &out)
	if b.err != nil {
		return nil, b.err
	}
	f.Results = out.values
	m.Funcs = append(m.Funcs, f)
	if m.Attrs == nil {
		m.Attrs = ir.Attrs{}
	}
	m.Attrs[TrainOutputsAttr] = strings.Join(out.names, ",")
	if err := ir.Verify(m); err != nil {
		return nil, fmt.Errorf("the train function does not verify: %w", err)
	}
	return f, nil
}

// trainArgs are the train function's arguments.
type trainArgs struct {
	T                      ir.Dim
	tokens, pos, seq       *ir.Value
	segments, lr, bc1, bc2 *ir.Value
}

func trainArguments(f *ir.Func) trainArgs {
	argv := func(name string, t ir.Type) *ir.Value {
		v := &ir.Value{Type: t, Index: len(f.Args), Name: name}
		f.Args = append(f.Args, v)
		return v
	}
	T := ir.S("T")
	return trainArgs{
		T:        T,
		tokens:   argv("tokens", ir.T(ir.I32, T)),
		pos:      argv("pos", ir.T(ir.I32, T)),
		seq:      argv("seq", ir.T(ir.I32, T)),
		segments: argv("segments", ir.T(ir.F32, ir.S("B"), T)),
		lr:       argv("lr", ir.T(ir.F32)),
		bc1:      argv("bc1", ir.T(ir.F32)),
		bc2:      argv("bc2", ir.T(ir.F32)),
	}
}

// languageLosses inlines the forward (and mtp) and returns the next-token
// cross-entropy and the weighted MTP loss (zero without one).
func languageLosses(b *builder, m *ir.Module, fwd *ir.Func, a trainArgs, o TrainOptions) (ce, mtpLoss *ir.Value, err error) {
	out := inline(b, fwd, []*ir.Value{a.tokens, a.pos, a.seq})
	if b.err != nil {
		return nil, nil, b.err
	}
	ce = crossEntropy(b, out[0], a.tokens, a.seq, 1)
	mtpLoss = b.constant(0, ir.F32)
	if mtp := m.Func("mtp"); mtp != nil && o.MTPWeight > 0 && len(out) > 1 {
		logits := inline(b, mtp, []*ir.Value{out[1], a.tokens, a.pos, a.seq})
		if b.err != nil {
			return nil, nil, b.err
		}
		s := logits[0].Type.Shape // [D, T, V]
		D := s[0].N
		for k := int64(0); k < D; k++ {
			lk := b.op1(ir.OpSlice, []*ir.Value{logits[0]}, ir.Attrs{"axis": int64(0), "start": k, "end": k + 1})
			lk = b.reshape(lk, ir.Shape{s[1], s[2]})
			mtpLoss = b.bin(ir.OpAdd, mtpLoss, crossEntropy(b, lk, a.tokens, a.seq, k+2))
		}
		mtpLoss = b.scale(mtpLoss, o.MTPWeight/float64(D))
	}
	return ce, mtpLoss, nil
}

// routing is one route op's balancing bias and its load (tokens routed to
// each expert).
type routing struct {
	bias *ir.Param
	load *ir.Value
}

// routingLosses computes, per route op of f, the loads and the balance
// loss; it returns the routes with a bias and the weighted balance loss.
func routingLosses(b *builder, m *ir.Module, f *ir.Func, a trainArgs, o TrainOptions) ([]routing, *ir.Value, error) {
	balance := b.constant(0, ir.F32)
	var routes []routing
	// The batch form pools every such layer: Σ_l of mean_t counts and of
	// mean_t probabilities, and the layers counted.
	var poolF, poolP *ir.Value
	var poolE int64
	poolLayers, poolWeight := 0, o.BalanceWeight
	for _, op := range f.Body {
		if !op.Is(ir.OpRoute) {
			continue
		}
		scores, bias := routeScores(m, op)
		if b.err != nil {
			return nil, nil, b.err
		}
		idx := op.Result()
		E, K := scores.Type.Shape[1], idx.Type.Shape[1]
		ones := b.expand(b.constant(1, ir.F32), ir.Shape{a.T, K})
		counts := b.op1(ir.OpScatterAdd, []*ir.Value{b.zeros(ir.Shape{a.T, E}, ir.F32), b.cast(idx, ir.I32), ones}, ir.Attrs{"axis": int64(1)})
		load := b.sum(counts, 0, false)
		if bias != nil {
			routes = append(routes, routing{bias, load})
		}
		weight := o.BalanceWeight
		if w, ok := op.Attrs.Float("balance_weight"); ok {
			weight = w
		}
		if weight <= 0 {
			continue
		}
		sf := b.cast(scores, ir.F32)
		norm := b.bin(ir.OpDiv, sf, b.sum(sf, 1, true))
		if kind, _ := op.Attrs.Str("balance"); kind == "batch" {
			// Switch / Mixtral: E·Σ_e f_e·P_e over every token of every
			// such layer, f_e the mean count of e's assignments per token,
			// P_e the mean probability of e (Hugging Face's
			// load_balancing_loss_func over the concatenated layers).
			if poolLayers > 0 && (E.N != poolE || weight != poolWeight) {
				return nil, nil, fmt.Errorf("routes with the batch balance loss differ in experts (%d, %d) or weight (%g, %g)", poolE, E.N, poolWeight, weight)
			}
			mf := b.op1(ir.OpMean, []*ir.Value{counts}, ir.Attrs{"axis": int64(0)})
			mp := b.op1(ir.OpMean, []*ir.Value{norm}, ir.Attrs{"axis": int64(0)})
			if poolLayers == 0 {
				poolF, poolP = mf, mp
			} else {
				poolF, poolP = b.bin(ir.OpAdd, poolF, mf), b.bin(ir.OpAdd, poolP, mp)
			}
			poolE, poolWeight = E.N, weight
			poolLayers++
			continue
		}
		// Per sequence b: f = E/(K·T_b)·Σ_t 1[i ∈ topk(t)],
		// P = (1/T_b)·Σ_t s_t/Σ_j s_tj; loss α·mean_b Σ_i f·P.
		lens := b.sum(a.segments, 1, true) // [B, 1]
		fb := b.bin(ir.OpDiv, b.op1(ir.OpMatmul, []*ir.Value{a.segments, counts}, nil), lens)
		fb = b.scale(fb, float64(E.N)/float64(K.N))
		pb := b.bin(ir.OpDiv, b.op1(ir.OpMatmul, []*ir.Value{a.segments, norm}, nil), lens)
		per := b.sum(b.bin(ir.OpMul, fb, pb), 1, false) // [B]
		l := b.op1(ir.OpMean, []*ir.Value{per}, ir.Attrs{"axis": int64(0)})
		balance = b.bin(ir.OpAdd, balance, b.scale(l, weight))
	}
	if poolLayers > 0 {
		n := float64(poolLayers)
		l := b.op1(ir.OpSum, []*ir.Value{b.bin(ir.OpMul, poolF, poolP)}, ir.Attrs{"axis": int64(0)})
		balance = b.bin(ir.OpAdd, balance, b.scale(l, poolWeight*float64(poolE)/(n*n)))
	}
	return routes, balance, nil
}

// clipFactor returns the gradients' global norm and the factor that clips
// them to ClipNorm (one without a clip).
func clipFactor(b *builder, grads []*ir.Value, o TrainOptions) (gnorm, factor *ir.Value) {
	sq := b.constant(0, ir.F32)
	for _, g := range grads {
		sq = b.bin(ir.OpAdd, sq, sumAll(b, b.bin(ir.OpMul, g, g)))
	}
	gnorm = b.un(ir.OpSqrt, sq)
	factor = b.constant(1, ir.F32)
	if o.ClipNorm > 0 {
		c := b.constant(o.ClipNorm, ir.F32)
		factor = b.bin(ir.OpMinimum, factor, b.bin(ir.OpDiv, c, b.bin(ir.OpAdd, gnorm, b.constant(1e-6, ir.F32))))
	}
	return gnorm, factor
}

// trainOutputs are the train function's results and their names
// (TrainOutputsAttr).
type trainOutputs struct {
	names  []string
	values []*ir.Value
}

func (t *trainOutputs) add(name string, v *ir.Value) {
	t.names = append(t.names, name)
	t.values = append(t.values, v)
}

// adamW applies one fused AdamW op per param in wrt (the clip factor
// scales g inside) and adds the new params, then their new moments, to out.
func adamW(b *builder, m *ir.Module, wrt []string, grads []*ir.Value, factor *ir.Value, a trainArgs, o TrainOptions, out *trainOutputs) {
	var newP, newM, newV []*ir.Value
	for i, name := range wrt {
		p := m.Param(name)
		mdt := o.MomentDType
		if mdt == 0 || !mdt.IsFloat() {
			mdt = ir.F32
		}
		mp, vp := stateParam(m, MomentM+name, p.Type.Shape, mdt), stateParam(m, MomentV+name, p.Type.Shape, mdt)
		decay := 0.0
		if len(p.Type.Shape) >= 2 {
			decay = o.WeightDecay
		}
		w := b.cast(b.param(p), ir.F32)
		r := b.op(ir.OpAdamW, []*ir.Value{w, grads[i], b.cast(b.param(mp), ir.F32), b.cast(b.param(vp), ir.F32), a.lr, a.bc1, a.bc2, factor},
			ir.Attrs{"beta1": o.Beta1, "beta2": o.Beta2, "eps": o.Eps, "decay": decay})
		newP, newM, newV = append(newP, r[0]), append(newM, b.cast(r[1], mdt)), append(newV, b.cast(r[2], mdt))
	}
	for i, name := range wrt {
		out.add("param:"+name, newP[i])
	}
	for i, name := range wrt {
		out.add("state:"+MomentM+name, newM[i])
	}
	for i, name := range wrt {
		out.add("state:"+MomentV+name, newV[i])
	}
}

// moveBiases is auxiliary-loss-free balancing: each routing bias moves by
// γ·sign(mean load − load); the new biases are added to out.
func moveBiases(b *builder, routes []routing, o TrainOptions, out *trainOutputs) {
	for _, r := range routes {
		bias := b.cast(b.param(r.bias), ir.F32)
		mean := b.op1(ir.OpMean, []*ir.Value{r.load}, ir.Attrs{"axis": int64(0)})
		step := b.scale(b.un(ir.OpSign, b.bin(ir.OpSub, mean, r.load)), o.BiasRate)
		out.add("bias:"+r.bias.Name, b.cast(b.bin(ir.OpAdd, bias, step), r.bias.Type.DType))
	}
}

// quantizeWeights puts a quantize_blocks (the param's quant block) between
// each fp8 weight param and the linear or grouped_linear reading it.
func quantizeWeights(m *ir.Module, f *ir.Func) {
	var body []*ir.Op
	for _, op := range f.Body {
		if op.Is(ir.OpLinear) || op.Is(ir.OpGroupedLinear) {
			w := op.Args[1]
			if w.Def.Is(ir.OpParam) && w.Type.DType == ir.F8E4M3 {
				name, _ := w.Def.Attrs.Str("name")
				if q, ok := m.Param(name).Attrs.Ints("quant"); ok && len(q) == 2 {
					qop := ir.NewOp(ir.OpQuantizeBlocks.Name, []*ir.Value{w}, ir.Attrs{"block": q}, []ir.Type{w.Type}, op.Loc)
					body = append(body, qop)
					op.Args[1] = qop.Result()
				}
			}
		}
		body = append(body, op)
	}
	f.Body = body
}

// recomputable reports the values Recompute computes again: RMSNorm
// outputs, and linears from a norm's output to more features than it has.
func recomputable(v *ir.Value) bool {
	d := v.Def
	switch {
	case d == nil:
		return false
	case d.Is(ir.OpRMSNorm):
		return true
	case d.Is(ir.OpLinear):
		x, y := d.Args[0], d.Result()
		in, out := x.Type.Shape[len(x.Type.Shape)-1], y.Type.Shape[len(y.Type.Shape)-1]
		return x.Def.Is(ir.OpRMSNorm) && !in.IsSym() && !out.IsSym() && out.N > in.N
	}
	return false
}

// routeScores finds the scores a route op ranks and its balancing bias:
// route(s + bias) with bias a param gives (s, bias); route(s) gives (s, nil).
func routeScores(m *ir.Module, route *ir.Op) (*ir.Value, *ir.Param) {
	in := route.Args[0]
	if d := in.Def; d.Is(ir.OpAdd) {
		for i, a := range d.Args {
			if a.Def.Is(ir.OpParam) {
				name, _ := a.Def.Attrs.Str("name")
				return d.Args[1-i], m.Param(name)
			}
		}
	}
	return in, nil
}

// stateParam returns the optimizer-state param name, declaring it.
func stateParam(m *ir.Module, name string, s ir.Shape, dt ir.DType) *ir.Param {
	if p := m.Param(name); p != nil {
		return p
	}
	p := &ir.Param{Name: name, Type: ir.Type{Shape: s, DType: dt}, Attrs: ir.Attrs{"trainable": false, "init": ir.Attrs{"dist": "zeros"}}}
	m.Params = append(m.Params, p)
	return p
}

// sumAll reduces x to a scalar: rows of the last axis summed (contiguous,
// in parallel), then the row sums; a chain of axis-0 sums would stride
// through memory.
func sumAll(b *builder, x *ir.Value) *ir.Value {
	s := x.Type.Shape
	if len(s) == 0 {
		return x
	}
	if len(s) > 2 {
		rows := ir.C(1)
		for _, d := range s[:len(s)-1] {
			if d.IsSym() {
				rows = ir.Dim{}
				break
			}
			rows = ir.C(rows.N * d.N)
		}
		if rows.N > 0 {
			x = b.reshape(x, ir.Shape{rows, s[len(s)-1]})
		}
	}
	for len(x.Type.Shape) > 0 {
		x = b.sum(x, len(x.Type.Shape)-1, false)
	}
	return x
}
