package dsl

import (
	"fmt"
	"math"
	"math/bits"
)

// preflight refuses a loop before its first iteration when its trip count
// alone shows that it would pass a limit: the loop iterations a compile
// may run, or the ops it may build (trips times the lower bound on the
// ops of one iteration, minops.go). Without it `--set n_layers=2**62` or
// `--set mtp_depth=1000000` unrolled layer after layer, gigabytes of IR,
// before the op limit tripped. A loop whose body may return can stop
// early, so only the per-iteration checks apply to it. It returns the
// lower bound on the ops of one iteration (0 when it did not compute one).
func (c *compiler) preflight(s *ForStmt, from, to int64, sc *scope) int64 {
	if to <= from || mayReturn(s.Body) {
		return 0
	}
	trips := uint64(to) - uint64(from) // exact: to > from
	if trips > uint64(maxIterations-c.iters) {
		c.errorf(s.To.Pos, "loop `for %s in %s` would run %d times; a compile runs at most %d loop iterations in all%s",
			s.Var, c.rangeText(s), trips, maxIterations, c.boundsFrom(s, sc))
	}
	per := c.minOps().loopBody(s, sc)
	if per > 0 && trips > uint64(int64(maxOps-c.ops)/per) {
		total := "more than " + fmt.Sprint(math.MaxInt64)
		if hi, lo := bits.Mul64(trips, uint64(per)); hi == 0 && lo <= math.MaxInt64 {
			total = fmt.Sprint(lo)
		}
		c.errorf(s.To.Pos, "loop `for %s in %s` would run %d times and build at least %d ops each time (%s in all); a compile builds at most %d ops%s",
			s.Var, c.rangeText(s), trips, per, total, maxOps, c.boundsFrom(s, sc))
	}
	return per
}

// rangeText is the loop's range as written (`0..n_layers`).
func (c *compiler) rangeText(s *ForStmt) string {
	src := c.sources[s.From.Pos.Filename]
	a, b := s.From.Pos.Offset, s.To.EndPos.Offset
	if s.To.EndPos.Filename != s.From.Pos.Filename || a < 0 || b > len(src) || a >= b {
		return "..."
	}
	return clip(src[a:b], 80)
}

// boundsFrom names the config keys a loop bound is, with their values
// and the --set that gave them: the user's handle on the error.
func (c *compiler) boundsFrom(s *ForStmt, sc *scope) string {
	out := ""
	for _, e := range []*Expr{s.From, s.To} {
		name, ok := bareName(e)
		if !ok {
			continue
		}
		v, _ := sc.lookup(name)
		out += fmt.Sprintf(" (%s = %s", name, clip(show(v), 80))
		if set, ok := c.setText[name]; ok {
			out += ", from --set " + clip(set, 80)
		}
		out += ")"
	}
	return out
}
