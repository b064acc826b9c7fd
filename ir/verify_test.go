package ir

import (
	"errors"
	"strings"
	"testing"
)

// verifyParams declares the same param twice.
const verifyParams = `
  param @w : [16, 8] bf16
  param @w : [4] f32
`

// TestVerifyText lists broken modules in text form that parse but must not
// verify, each with a substring of the expected error.
func TestVerifyText(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"wrong arity", `module @m {
  func @f(%x: [T, 8] f32) -> ([T, 8] f32) {
    %0 = add %x : [T, 8] f32
    return %0
  }
}`, "add takes 2 operands, got 1"},
		{"missing required attribute", `module @m {
  func @f(%x: [T, 8] f32) -> ([T] f32) {
    %0 = sum %x : [T] f32
    return %0
  }
}`, "sum requires attribute axis"},
		{"missing one of several attributes", `module @m {
  func @f(%x: [T, 8] f32) -> ([T, 4] f32) {
    %0 = slice %x {axis = 1, start = 0} : [T, 4] f32
    return %0
  }
}`, "slice requires attribute end"},
		{"result type mismatch", `module @m {
  func @f(%x: [T, 8] f32) -> ([T, 4] f32) {
    %0 = neg %x : [T, 4] f32 loc("m.deep":7:3)
    return %0
  }
}`, "func @f: %0 = neg (at m.deep:7:3): result 0 has type [T, 4] f32, want [T, 8] f32"},
		{"result dtype mismatch", `module @m {
  func @f(%x: [T, 8] f32) -> ([T, 8] f32) {
    %0 = lt %x, %x : [T, 8] f32
    return %0
  }
}`, "result 0 has type [T, 8] f32, want [T, 8] bool"},
		{"result count mismatch", `module @m {
  func @f(%x: [T, 8] f32) -> ([T, 2] f32) {
    %0 = topk %x {k = 2} : [T, 2] f32
    return %0
  }
}`, "has 1 results, want 2"},
		{"inference error", `module @m {
  func @f(%x: [T, 8] f32, %y: [T, 8] bf16) -> ([T, 8] f32) {
    %0 = add %x, %y : [T, 8] f32
    return %0
  }
}`, "dtype mismatch: f32 vs bf16"},
		{"param missing", `module @m {
  func @f() -> ([4] f32) {
    %0 = param {name = "nope"} : [4] f32
    return %0
  }
}`, "no param @nope in the module"},
		{"param name not a string", `module @m {
  func @f() -> ([4] f32) {
    %0 = param {name = 3} : [4] f32
    return %0
  }
}`, `no param @"" in the module`},
		{"param type mismatch", `module @m {
  param @w : [16, 8] bf16
  func @f() -> ([8, 16] bf16) {
    %0 = param {name = "w"} : [8, 16] bf16
    return %0
  }
}`, "param @w has type [16, 8] bf16, read as [8, 16] bf16"},
		{"param read with two results", `module @m {
  param @w : [4] f32
  func @f() -> ([4] f32) {
    %0, %1 = param {name = "w"} : [4] f32, [4] f32
    return %0
  }
}`, "param has one result"},
		{"param symbolic shape", `module @m {
  param @w : [T, 8] f32
}`, "param @w: shape [T, 8] must be constant"},
		{"param empty name", `module @m {
  param @"" : [4] f32
}`, "param with an empty name"},
		{"duplicate param", `module @m {` + verifyParams + `}`, "param @w declared twice"},
		{"duplicate func", `module @m {
  func @f() -> () {
    return
  }
  func @f() -> () {
    return
  }
}`, "func @f declared twice"},
		{"zero dim", `module @m {
  func @f(%x: [0, 8] f32) -> () {
    return
  }
}`, "argument %x: dims must be positive, got [0, 8]"},
		{"negative dim", `module @m {
  param @w : [4, -2] f32
}`, "param @w: dims must be positive, got [4, -2]"},
		{"negative result dim", `module @m {
  func @f(%x: [8] f32) -> ([-2, -4] f32) {
    %0 = reshape %x {shape = [-2, -4]} : [-2, -4] f32
    return %0
  }
}`, "result 0: dims must be positive"},
		{"unbound symbol", `module @m {
  func @f(%x: [1, 8] f32) -> ([U, 8] f32) {
    %0 = expand %x {shape = [U, 8]} : [U, 8] f32
    return %0
  }
}`, "result 0 uses symbol U that no argument binds"},
		{"symbol with a dot", `module @m {
  func @f(%x: [a.b, 8] f32) -> () {
    return
  }
}`, `bad symbolic dim "a.b"`},
		{"argument name not an identifier", `module @m {
  func @f(%"a b": [4] f32) -> () {
    return
  }
}`, `argument 0 has a bad or repeated name "a b"`},
		{"argument name starting with a digit", `module @m {
  func @f(%1x: [4] f32) -> () {
    return
  }
}`, `argument 0 has a bad or repeated name "1x"`},
		{"several errors", `module @m {
  param @w : [0] f32
  param @w : [0] f32
}`, "param @w declared twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse("verify.ir", c.src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = Verify(m)
			if err == nil {
				t.Fatalf("Verify accepted:\n%s", c.src)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Verify error\n  %v\ndoes not contain\n  %s", err, c.want)
			}
		})
	}
}

// TestVerifyBuilt covers broken modules the parser cannot express: unknown
// ops, use before definition, malformed values, bad attribute kinds.
func TestVerifyBuilt(t *testing.T) {
	type fixture struct {
		m *Module
		b *Builder
		x *Value // [T, 8] f32
	}
	cases := []struct {
		name  string
		build func(f *fixture)
		want  string
	}{
		{"unknown op", func(f *fixture) {
			f.b.Return(f.b.EmitTyped("frobnicate", []*Value{f.x}, nil, []Type{f.x.Type})...)
		}, "func @f: %0 = frobnicate: unknown op"},
		{"use before def", func(f *fixture) {
			later := NewOp("neg", []*Value{f.x}, nil, []Type{f.x.Type}, Loc{})
			f.b.EmitTyped("neg", []*Value{later.Result()}, nil, []Type{f.x.Type})
			f.b.F.Body = append(f.b.F.Body, later)
		}, "func @f: %0 = neg: operand 0 (%1) is used before it is defined"},
		{"use of a value from another function", func(f *fixture) {
			g := f.m.NewFunc("g")
			y := g.Arg("y", f.x.Type)
			f.b.EmitTyped("neg", []*Value{y}, nil, []Type{f.x.Type})
			g.Return(y)
		}, "operand 0 (%<undefined>) is used before it is defined"},
		{"nil operand", func(f *fixture) {
			f.b.EmitTyped("neg", []*Value{nil}, nil, []Type{f.x.Type})
		}, "operand 0 (%<undefined>) is used before it is defined"},
		{"returned value not defined", func(f *fixture) {
			f.b.Return(f.x, &Value{Type: f.x.Type})
		}, "returned value 1 is not defined"},
		{"result defined twice", func(f *fixture) {
			v := f.b.EmitTyped("neg", []*Value{f.x}, nil, []Type{f.x.Type})
			f.b.F.Body = append(f.b.F.Body, v[0].Def)
		}, "%1 = neg: result 0 is defined twice"},
		{"malformed result", func(f *fixture) {
			v := f.b.EmitTyped("neg", []*Value{f.x}, nil, []Type{f.x.Type})
			v[0].Index = 3
		}, "result 0 is malformed"},
		{"malformed argument", func(f *fixture) {
			f.x.Index = 2
		}, "argument 0 is malformed"},
		{"duplicate argument name", func(f *fixture) {
			f.b.Arg("x", f.x.Type)
		}, `argument 1 has a bad or repeated name "x"`},
		{"empty argument name", func(f *fixture) {
			f.b.Arg("", f.x.Type)
		}, `argument 1 has a bad or repeated name ""`},
		{"invalid dtype", func(f *fixture) {
			f.b.Arg("bad", T(Invalid, C(2)))
		}, "argument %bad: invalid dtype"},
		{"out of range dtype", func(f *fixture) {
			f.b.Arg("bad", T(DType(200), C(2)))
		}, "argument %bad: invalid dtype"},
		{"symbol named inf", func(f *fixture) {
			f.b.Arg("bad", T(F32, S("inf")))
		}, `bad symbolic dim "inf"`},
		{"symbol with a space", func(f *fixture) {
			f.b.Arg("bad", T(F32, S("a b")))
		}, `bad symbolic dim "a b"`},
		{"unsupported attribute kind", func(f *fixture) {
			f.b.EmitTyped("sum", []*Value{f.x}, Attrs{"axis": 1}, []Type{T(F32, S("T"))})
		}, "attribute axis: unsupported value type int"},
		{"unsupported float32 attribute", func(f *fixture) {
			f.b.EmitTyped("neg", []*Value{f.x}, Attrs{"alpha": float32(1)}, []Type{f.x.Type})
		}, "attribute alpha: unsupported value type float32"},
		{"nil attribute", func(f *fixture) {
			f.b.EmitTyped("neg", []*Value{f.x}, Attrs{"alpha": nil}, []Type{f.x.Type})
		}, "attribute alpha: unsupported value type <nil>"},
		{"invalid dtype attribute on a param", func(f *fixture) {
			f.m.Params = append(f.m.Params, &Param{Name: "w", Type: T(F32, C(2)), Attrs: Attrs{"storage": Invalid}})
		}, "param @w: attribute storage: invalid dtype invalid"},
		{"bad nested attribute on the module", func(f *fixture) {
			f.m.Attrs = Attrs{"cfg": Attrs{"n": []int{1}}}
		}, "module: attribute cfg: n: unsupported value type []int"},
		{"bad symbol in a shape attribute", func(f *fixture) {
			f.b.EmitTyped("reshape", []*Value{f.x}, Attrs{"shape": Shape{S("T"), S("x y")}}, []Type{f.x.Type})
		}, `attribute shape: bad symbolic dim "x y"`},
		{"wrong arity of a variadic op", func(f *fixture) {
			f.b.EmitTyped("concat", nil, Attrs{"axis": int64(0)}, []Type{f.x.Type})
		}, "concat takes at least one operand"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fixture{m: &Module{Name: "m"}}
			f.b = f.m.NewFunc("f")
			f.x = f.b.Arg("x", T(F32, S("T"), C(8)))
			c.build(f)
			err := Verify(f.m)
			if err == nil {
				t.Fatalf("Verify accepted:\n%s", Print(f.m))
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Verify error\n  %v\ndoes not contain\n  %s", err, c.want)
			}
		})
	}
}

func TestVerifyReportsEveryErrorUpToALimit(t *testing.T) {
	m := &Module{Name: "m"}
	for range 3 {
		m.Params = append(m.Params, &Param{Name: "p", Type: T(F32, C(0))})
	}
	err := Verify(m)
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Verify error %v does not unwrap to a list", err)
	}
	// 3 bad dims + 2 duplicate declarations.
	if n := len(joined.Unwrap()); n != 5 {
		t.Errorf("got %d errors, want 5:\n%v", n, err)
	}

	m = &Module{Name: "m"}
	for range 100 {
		m.Params = append(m.Params, &Param{Name: "p", Type: T(F32, C(0))})
	}
	if n := len(Verify(m).(interface{ Unwrap() []error }).Unwrap()); n != maxVerifyErrors {
		t.Errorf("got %d errors, want the limit %d", n, maxVerifyErrors)
	}
}

func TestVerifyAcceptsValidModules(t *testing.T) {
	if err := Verify(&Module{}); err != nil {
		t.Errorf("empty module: %v", err)
	}
	if err := Verify(allOpsModule(t)); err != nil {
		t.Errorf("all-ops module: %v", err)
	}
	// A symbol bound by any argument may be used in a later result.
	m := &Module{Name: "m"}
	b := m.NewFunc("f")
	x := b.Arg("x", T(F32, S("T"), C(8)))
	b.Arg("s", T(I32, S("S")))
	e, err := b.Emit1("reshape", []*Value{x}, Attrs{"shape": ShapeAttr(Shape{S("T"), C(4), C(2)})})
	if err != nil {
		t.Fatal(err)
	}
	b.Return(e)
	if err := Verify(m); err != nil {
		t.Error(err)
	}
	if errors.Unwrap(Verify(m)) != nil {
		t.Error("unexpected wrapped error")
	}
}
