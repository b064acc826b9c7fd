package tokenizer

// The regex engine's compiler: syntax tree to backtracking program (see regex.go).

type compiler struct {
	re    *regex
	quota *patternQuota
	prog  *prog
	first map[*node]*charClass // firstSet's results: a repetition emits its body many times
}

// compileProg compiles n into a new program of re and returns its index.
func (c *compiler) compileProg(n *node) (int, error) {
	idx := len(c.re.progs)
	pr := &prog{}
	c.re.progs = append(c.re.progs, pr)
	sub := &compiler{re: c.re, quota: c.quota, prog: pr, first: c.first}
	if err := sub.emit(n); err != nil {
		return 0, err
	}
	sub.add(inst{op: opMatch})
	return idx, nil
}

func (c *compiler) add(in inst) int {
	c.prog.insts = append(c.prog.insts, in)
	c.re.ninsts++
	c.quota.insts--
	return len(c.prog.insts) - 1
}

func (c *compiler) pc() int { return len(c.prog.insts) }

func (c *compiler) emit(n *node) error {
	if err := c.quota.checkInsts(); err != nil {
		return err
	}
	switch n.kind {
	case nClass:
		if r, ok := n.cls.single(); ok {
			c.add(inst{op: opRune, r: r})
		} else {
			c.add(inst{op: opClass, cls: n.cls})
		}
	case nConcat:
		for _, s := range n.subs {
			if err := c.emit(s); err != nil {
				return err
			}
		}
	case nAlt:
		var jumps []int
		for i, s := range n.subs {
			if i < len(n.subs)-1 {
				guard, err := c.firstSet(s)
				if err != nil {
					return err
				}
				split := c.add(inst{op: opSplit, cls: guard})
				c.prog.insts[split].x = c.pc()
				if err := c.emit(s); err != nil {
					return err
				}
				jumps = append(jumps, c.add(inst{op: opJmp}))
				c.prog.insts[split].y = c.pc()
			} else if err := c.emit(s); err != nil {
				return err
			}
		}
		for _, j := range jumps {
			c.prog.insts[j].x = c.pc()
		}
	case nRepeat:
		return c.emitRepeat(n)
	case nLook:
		sub, err := c.compileProg(n.subs[0])
		if err != nil {
			return err
		}
		c.add(inst{op: opLook, mode: n.mode, x: sub})
	case nBegin:
		c.add(inst{op: opBegin})
	case nEnd:
		c.add(inst{op: opEnd})
	case nWordB:
		c.add(inst{op: opWordB})
	case nNotWordB:
		c.add(inst{op: opNotWordB})
	}
	return nil
}

func (c *compiler) emitRepeat(n *node) error {
	body := n.subs[0]
	if body.kind == nClass && n.greedy {
		c.add(inst{op: opRepeat, cls: body.cls, min: n.min, max: n.max, possessive: n.possessive})
		return nil
	}
	if n.possessive {
		// x*+ is the atomic group (?>x*).
		inner := *n
		inner.possessive = false
		sub, err := c.compileProg(&inner)
		if err != nil {
			return err
		}
		c.add(inst{op: opLook, mode: lookAtomic, x: sub})
		return nil
	}
	for i := 0; i < n.min; i++ {
		if err := c.emit(body); err != nil {
			return err
		}
	}
	if n.max < 0 {
		loop := c.add(inst{op: opSplit})
		if err := c.emit(body); err != nil {
			return err
		}
		c.add(inst{op: opJmp, x: loop})
		c.setSplit(loop, loop+1, c.pc(), n.greedy)
		return nil
	}
	var splits []int
	for i := n.min; i < n.max; i++ {
		splits = append(splits, c.add(inst{op: opSplit}))
		if err := c.emit(body); err != nil {
			return err
		}
	}
	end := c.pc()
	for _, s := range splits {
		c.setSplit(s, s+1, end, n.greedy)
	}
	return nil
}

func (c *compiler) setSplit(at, body, exit int, greedy bool) {
	if greedy {
		c.prog.insts[at].x, c.prog.insts[at].y = body, exit
	} else {
		c.prog.insts[at].x, c.prog.insts[at].y = exit, body
	}
}

// firstSet returns the code points that a match of n can start with, or nil
// when n can match the empty string (and so can start anywhere). A union
// of k classes is built in k passes and takes k from the quota.
func (c *compiler) firstSet(n *node) (*charClass, error) {
	if cls, ok := c.first[n]; ok {
		return cls, nil
	}
	var parts []*charClass
	var cls *charClass
	switch nullable := collectFirst(n, &parts); {
	case nullable || len(parts) == 0:
	case len(parts) == 1:
		cls = parts[0]
	default:
		if err := c.quota.takeClasses(len(parts)); err != nil {
			return nil, err
		}
		cls = newUnionClass(parts)
	}
	c.first[n] = cls
	return cls, nil
}

// collectFirst appends to parts the classes that can match n's first code
// point and reports whether n can match without consuming one.
func collectFirst(n *node, parts *[]*charClass) bool {
	switch n.kind {
	case nClass:
		*parts = append(*parts, n.cls)
		return false
	case nConcat:
		for _, s := range n.subs {
			if !collectFirst(s, parts) {
				return false
			}
		}
		return true
	case nAlt:
		nullable := false
		for _, s := range n.subs {
			if collectFirst(s, parts) {
				nullable = true
			}
		}
		return nullable
	case nRepeat:
		return collectFirst(n.subs[0], parts) || n.min == 0
	case nLook:
		if n.mode == lookAtomic {
			return collectFirst(n.subs[0], parts)
		}
	}
	// Lookaheads and anchors consume nothing.
	return true
}
