package passes

import "github.com/deepc-dev/deepc/ir"

func init() {
	Register(NewPass("master-weights", "read trainable params declared narrower than bf16 (fp8 checkpoints) as bf16: what a train program computes with from its f32 masters", runMasterWeights))
}

// A train program binds f32 master weights to its trainable params; the
// CPU backend rounds a master declared fp8 (given without block scales) to
// bf16 (runtime/cpu.Run). GPU kernels read the declared dtype, so for a
// compiled train program the declaration must say what is read: bf16. The
// CPU's numerics are unchanged (it rounds masters declared bf16 the same
// way); checkpoints are written from the module the trainer keeps, which
// this pass is not run on.
func runMasterWeights(_ *Context, m *ir.Module) (bool, error) {
	narrow := map[string]bool{}
	for _, p := range m.Params {
		if t, ok := p.Attrs["trainable"].(bool); ok && t && p.Type.DType.IsFloat() && p.Type.DType.Bytes() < 2 {
			narrow[p.Name] = true
			// The checkpoint's form stays on record (CheckpointParams).
			p.Attrs[checkpointDType] = p.Type.DType.String()
			if q, ok := p.Attrs["quant"]; ok {
				p.Attrs[checkpointQuant] = q
			}
			p.Type.DType = ir.BF16
			delete(p.Attrs, "quant")
		}
	}
	if len(narrow) == 0 {
		return false, nil
	}
	// Retype the reads and everything whose type follows from them (a
	// transposed weight is bf16 too), in program order.
	for _, f := range m.Funcs {
		for _, op := range f.Body {
			if n, _ := op.Attrs.Str("name"); op.Is(ir.OpParam) && narrow[n] {
				op.Results[0].Type.DType = ir.BF16
				continue
			}
			d := op.Def()
			if d == nil || d.Infer == nil {
				continue
			}
			ts, err := d.Infer(op.ArgTypes(), op.Attrs)
			if err != nil || len(ts) != len(op.Results) {
				continue // the verifier reports it
			}
			for i, t := range ts {
				op.Results[i].Type = t
			}
		}
	}
	return true, nil
}

const (
	checkpointDType = "checkpoint_dtype"
	checkpointQuant = "checkpoint_quant"
)

// CheckpointParams returns m's params as a checkpoint stores them: those
// master-weights retyped get their declared dtype and quantization back
// (for loading the checkpoint the train program starts from).
func CheckpointParams(m *ir.Module) []*ir.Param {
	out := make([]*ir.Param, len(m.Params))
	for i, p := range m.Params {
		d, ok := p.Attrs.Str(checkpointDType)
		dt, valid := ir.ParseDType(d)
		if !ok || !valid {
			out[i] = p
			continue
		}
		c := &ir.Param{Name: p.Name, Type: ir.Type{Shape: p.Type.Shape, DType: dt}, Attrs: p.Attrs.Clone()}
		if q, ok := c.Attrs[checkpointQuant]; ok {
			c.Attrs["quant"] = q
		}
		delete(c.Attrs, checkpointDType)
		delete(c.Attrs, checkpointQuant)
		out[i] = c
	}
	return out
}
