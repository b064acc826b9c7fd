package cpu

import (
	"sync"

	"github.com/deepc-dev/deepc/runtime"
)

// Weights are packed for the GEMM once, not on every call: a weight's
// packed panels (the layout packB writes, for every block of K and every
// strip of nr columns) are kept in its Tensor.Derived. A prefill of the
// tiny model spent a third of its time repacking the same weights, most
// of it for experts with a few dozen rows each.

// A weight is packed on its second use, not its first: a training step's
// weights are fresh tensors used once each (the forward GEMM; the backward
// ones read them untransposed), and packing those up front would cost a
// serial pass and a copy of every weight for nothing, where the GEMM packs
// its blocks on the fly in parallel.

// weightPacks is what a weight's Tensor.Derived holds: packed forms by
// expert offset, shape, strip width and accumulator type, and the forms
// asked for once so far.
type weightPacks struct {
	mu   sync.Mutex
	m    map[packKey]any
	seen map[packKey]bool
}

type packKey struct {
	off, n, k, nr int
	f64           bool
}

// packedB is a weight [N, K] packed: for the k-block at k0, strip s (nr
// columns) is data[k0·strips·nr + s·nr·kcb:][:nr·kcb].
type packedB[T float] struct {
	once       sync.Once
	data       []T
	strips, nr int
}

var derivedMu sync.Mutex

func packsOf(t *runtime.Tensor) *weightPacks {
	derivedMu.Lock()
	defer derivedMu.Unlock()
	p, _ := t.Derived.(*weightPacks)
	if p == nil {
		p = &weightPacks{m: map[packKey]any{}, seen: map[packKey]bool{}}
		t.Derived = p
	}
	return p
}

// prepacked returns b packed for strips of nr columns and accumulator T,
// packing it on its second use; nil on the first, and when b is not a
// plain (unscaled) weight.
func prepacked[T float](workers int, b *matB, N, K, nr int) *packedB[T] {
	if b.src == nil || !b.trans || b.scale != nil {
		return nil
	}
	var zero T
	_, f64 := any(zero).(float64)
	ps := packsOf(b.src)
	key := packKey{b.off, N, K, nr, f64}
	ps.mu.Lock()
	e, ok := ps.m[key].(*packedB[T])
	if !ok {
		if !ps.seen[key] {
			ps.seen[key] = true
			ps.mu.Unlock()
			return nil
		}
		e = &packedB[T]{}
		ps.m[key] = e
	}
	ps.mu.Unlock()
	e.once.Do(func() {
		e.strips, e.nr = ceilDiv(N, nr), nr
		e.data = make([]T, e.strips*nr*K)
		parallelFor(workers, e.strips, 4, func(lo, hi int) {
			for k0 := 0; k0 < K; k0 += kcBlock {
				kcb := min(kcBlock, K-k0)
				packB(e.data[k0*e.strips*nr+lo*nr*kcb:], b, lo*nr, min(N, hi*nr)-lo*nr, k0, kcb, nr)
			}
		})
	})
	return e
}

// block returns the packed strips from column j0 (a multiple of nr) on,
// for the k-block at k0 of kcb rows.
func (e *packedB[T]) block(k0, kcb, j0 int) []T {
	return e.data[k0*e.strips*e.nr+(j0/e.nr)*e.nr*kcb:]
}
