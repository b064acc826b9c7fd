package passes

import "github.com/deepc-dev/deepc/ir"

func init() {
	Register(NewPass("dce", "remove pure ops whose results nothing uses", PerFunc(dce)))
}

// dce drops the ops no function result depends on. Module params are left
// alone: they are the checkpoint's tensors, whether read or not.
func dce(_ *Context, f *ir.Func) (bool, error) {
	keep := liveOps(f)
	body := f.Body[:0:0]
	for i, op := range f.Body {
		if keep[i] {
			body = append(body, op)
		}
	}
	changed := len(body) != len(f.Body)
	f.Body = body
	return changed, nil
}
