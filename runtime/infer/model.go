// Package infer runs a compiled model for inference on the CPU backend:
// whole-sequence forward passes, and prefill/decode over a latent KV cache
// (the functions the kv-cache pass derives).
package infer

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"reflect"
	"sync"
)

// Model is a compiled module with its bound weights.
type Model struct {
	Module *ir.Module
	Params map[string]*runtime.Tensor
	// Opts configure the CPU backend, which runs every function unless Run
	// is set.
	Opts cpu.Options
	// Run executes one function on another backend (a device executor's
	// Run): every method then runs on it.
	Run runtime.RunFunc

	steps *stepCaches // made on the first pooled run
}

// stepCaches are what cached steps keep from one to the next: the
// intermediates' storage, and what ops over the params alone computed
// (valid for those params only: a copy of the Model with other Params
// makes its own).
type stepCaches struct {
	params map[string]*runtime.Tensor
	pool   *cpu.Pool
	consts *cpu.Consts
}

var stepCachesMu sync.Mutex // guards Model.steps

// run executes f; donate lets the CPU backend update argument caches in
// place (a device executor copies its arguments anyway).
func (m *Model) run(f *ir.Func, args []*runtime.Tensor, donate bool) ([]*runtime.Tensor, error) {
	return m.runPooled(f, args, donate, false)
}

// runPooled is run that, with pooled, keeps the storage of intermediates
// for the next pooled run: every decode step runs the same program, and
// reusing its buffers instead of allocating (and zeroing, and collecting)
// them each token takes the allocator and the garbage collector off the
// steady-state decode path. Only for runs whose arguments the caller
// gives up (a cached step's caches, replaced by its results), since a
// donated argument that dies goes to the pool. Pooled runs also keep what
// ops over the params alone compute (cpu.Consts): Params must not change
// once a cached step ran.
func (m *Model) runPooled(f *ir.Func, args []*runtime.Tensor, donate, pooled bool) ([]*runtime.Tensor, error) {
	if m.Run != nil {
		return m.Run(f, m.Params, args)
	}
	opts := m.Opts
	opts.Donate = donate
	if pooled && opts.Pool == nil {
		stepCachesMu.Lock()
		if m.steps == nil || !sameMap(m.steps.params, m.Params) {
			m.steps = &stepCaches{params: m.Params, pool: cpu.NewPool(), consts: cpu.NewConsts()}
		}
		sc := m.steps
		stepCachesMu.Unlock()
		opts.Pool, opts.Consts = sc.pool, sc.consts
		opts.Hot = true // a cached step: latency-bound
	}
	return cpu.Run(f, m.Params, args, opts)
}

// Logits are per-sequence, per-position rows of Vocab values.
type Logits struct {
	Vocab int
	Rows  [][][]float32 // [sequence][position][vocab]
}

// NonFinite describes the NaN and Inf logits ("" when every one is
// finite): the first one's place and how many there are.
func (l Logits) NonFinite() string {
	n, where := 0, ""
	for s, seq := range l.Rows {
		for p, row := range seq {
			for v, x := range row {
				if x-x != 0 { // NaN or ±Inf
					if n == 0 {
						where = fmt.Sprintf("sequence %d, position %d, token %d: %v", s+1, p, v, x)
					}
					n++
				}
			}
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d logits are not finite (the first at %s)", n, where)
}

// pack lays sequences back to back: tokens, positions (from start[i]) and
// sequence ids (ids[i]) as i32 tensors.
func pack(seqs [][]int, start []int, ids []int) (tok, pos, seq *runtime.Tensor) {
	n := 0
	for _, s := range seqs {
		n += len(s)
	}
	tok, pos, seq = runtime.NewTensor(ir.I32, n), runtime.NewTensor(ir.I32, n), runtime.NewTensor(ir.I32, n)
	k := 0
	for i, s := range seqs {
		for j, t := range s {
			tok.I[k], pos.I[k], seq.I[k] = int64(t), int64(start[i]+j), int64(ids[i])
			k++
		}
	}
	return tok, pos, seq
}

// unpack splits packed [T, V] logits back into sequences.
func unpack(t *runtime.Tensor, seqs [][]int) (Logits, error) {
	if len(t.Shape) != 2 {
		return Logits{}, fmt.Errorf("logits have shape %v, want [T, vocab]", t.Shape)
	}
	V := t.Shape[1]
	out := Logits{Vocab: V}
	k := 0
	for _, s := range seqs {
		rows := make([][]float32, len(s))
		for j := range s {
			rows[j] = t.F[k*V : (k+1)*V]
			k++
		}
		out.Rows = append(out.Rows, rows)
	}
	return out, nil
}

func (m *Model) fn(name string) (*ir.Func, error) {
	f := m.Module.Func(name)
	if f == nil {
		return nil, fmt.Errorf("the compiled module has no %s function", name)
	}
	return f, nil
}

// Forward runs the whole-sequence forward pass over the packed sequences.
func (m *Model) Forward(seqs [][]int) (Logits, error) {
	f, err := m.fn("forward")
	if err != nil {
		return Logits{}, err
	}
	ids := make([]int, len(seqs))
	for i := range ids {
		ids[i] = i
	}
	tok, pos, seq := pack(seqs, make([]int, len(seqs)), ids)
	res, err := m.run(f, []*runtime.Tensor{tok, pos, seq}, false)
	if err != nil {
		return Logits{}, err
	}
	return unpack(res[0], seqs)
}

// Grad runs the module's "grad" function (a loss over packed sequences
// and its gradients, see passes/autodiff) on seqs and returns its results:
// the loss, then one gradient per differentiated param.
func (m *Model) Grad(seqs [][]int) ([]*runtime.Tensor, error) {
	f, err := m.fn("grad")
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(seqs))
	for i := range ids {
		ids[i] = i
	}
	tok, pos, seq := pack(seqs, make([]int, len(seqs)), ids)
	return m.run(f, []*runtime.Tensor{tok, pos, seq}, false)
}

// sameMap reports whether a and b are the same map (not equal contents).
func sameMap(a, b map[string]*runtime.Tensor) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}
