package ir

import (
	"strings"
	"testing"
)

// fn wraps body lines (each starting at column 5) in a module and a function
// @f(%x: [4] f32) -> ([4] f32); body line i is line 2+i of the text.
func fn(body ...string) string {
	return "module @m {\n  func @f(%x: [4] f32) -> ([4] f32) {\n" + strings.Join(body, "\n") + "\n  }\n}\n"
}

// TestParseErrors checks the message and the file:line:col position of each
// syntax error.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"empty", "", `p.ir:1:1: expected "module", found end of input`},
		{"only a comment", "// nothing\n", `p.ir:2:1: expected "module", found end of input`},
		{"module without @", "module m {}", `p.ir:1:8: expected an @name, found "m"`},
		{"nothing after @", "module @ {", `p.ir:1:8: expected a name after "@"`},
		{"unterminated module", "module @m {\n  param @w : [4] f32\n", `p.ir:3:1: expected param, composite, func or }, found end of input`},
		{"stray value in module", "module @m {\n  %x\n}", `p.ir:2:3: expected param, composite, func or }, found %x`},
		{"text after module", "module @m {\n}\nextra", `p.ir:3:1: unexpected "extra" after the module`},
		{"unexpected character", "module @m {\n  $\n}", `p.ir:2:3: unexpected character "$"`},
		{"unexpected character after tab", "module @m {\n\t$\n}", `p.ir:2:2: unexpected character "$"`},
		{"unexpected character after CRLF", "module @m {\r\n  $\r\n}", `p.ir:2:3: unexpected character "$"`},
		{"lone minus", "module @m attributes {a = -} {\n}", `p.ir:1:27: unexpected character "-"`},
		{"unknown dtype", "module @m {\n  param @w : [4] f31\n}", `p.ir:2:18: unknown dtype "f31"`},
		{"float dim", "module @m {\n  param @w : [4.5] f32\n}", `p.ir:2:15: expected a dim, found "4.5"`},
		{"dim list without comma", "module @m {\n  param @w : [4 4] f32\n}", `p.ir:2:17: expected ",", found "4"`},
		{"missing type", "module @m {\n  param @w :\n}", `p.ir:3:1: expected "[", found "}"`},
		{"unknown op", fn("    %0 = frob %x : [4] f32", "    return %0"), `p.ir:3:10: unknown op "frob"`},
		{"undefined value", fn("    %0 = neg %y : [4] f32", "    return %0"), `p.ir:3:14: %y is not defined`},
		{"use before definition", fn("    %0 = neg %1 : [4] f32", "    %1 = neg %x : [4] f32", "    return %0"), `p.ir:3:14: %1 is not defined`},
		{"defined twice", fn("    %x = neg %x : [4] f32", "    return %x"), `p.ir:3:5: %x is defined twice`},
		{"argument defined twice", "module @m {\n  func @f(%x: [4] f32, %x: [4] f32) -> () {\n    return\n  }\n}", `p.ir:2:24: %x is defined twice`},
		{"missing colon", fn("    %0 = neg %x [4] f32", "    return %0"), `p.ir:3:17: expected ":", found "["`},
		{"trailing comma in operands", fn("    %0 = add %x, : [4] f32", "    return %0"), `p.ir:3:18: expected a %value, found ":"`},
		{"too few result types", fn("    %0, %1 = neg %x : [4] f32", "    return %0"), `p.ir:4:5: expected ",", found "return"`},
		{"no result", fn("    neg %x : [4] f32", "    return %x"), `p.ir:3:5: expected a %result or return, found "neg"`},
		{"missing return", "module @m {\n  func @f() -> () {\n  }\n}", `p.ir:3:3: expected a %result or return, found "}"`},
		{"trailing comma in return", fn("    return %x,"), `p.ir:4:3: expected a %value, found "}"`},
		{"return count", fn("    return"), `p.ir:3:5: return has 0 values, the signature 1`},
		{"return type", "module @m {\n  func @f(%x: [4] f32) -> ([4] f16) {\n    return %x\n  }\n}", `p.ir:3:5: returned value 0 has type [4] f32, the signature says [4] f16`},
		{"missing arrow", "module @m {\n  func @f() () {\n    return\n  }\n}", `p.ir:2:13: expected "->", found "("`},
		{"argument without %", "module @m {\n  func @f(x: [4] f32) -> () {\n    return\n  }\n}", `p.ir:2:11: expected an argument %name, found "x"`},
		{"loc without file", fn("    %0 = neg %x : [4] f32 loc(f:1:2)", "    return %0"), `p.ir:3:31: expected a file name, found "f"`},
		{"loc with bad line", fn(`    %0 = neg %x : [4] f32 loc("f":x:2)`, "    return %0"), `p.ir:3:35: expected an integer, found "x"`},
		{"unterminated string", `module @m attributes {s = "abc`, `p.ir:1:27: unterminated string`},
		{"newline in string", "module @m attributes {s = \"ab\ncd\"} {\n}", `p.ir:1:27: unterminated string`},
		{"bad escape", `module @m attributes {s = "\q"} {}`, `p.ir:1:27: bad string literal: invalid syntax`},
		{"unterminated quoted name", `module @"m {}`, `p.ir:1:9: unterminated string`},
		{"attribute given twice", "module @m attributes {a = 1, a = 2} {\n}", `p.ir:1:30: attribute a given twice`},
		{"attribute name", "module @m attributes {1 = 2} {\n}", `p.ir:1:23: expected an attribute name, found "1"`},
		{"attribute without =", "module @m attributes {a 2} {\n}", `p.ir:1:25: expected "=", found "2"`},
		{"attributes without comma", "module @m attributes {a = 1 b = 2} {\n}", `p.ir:1:29: expected ",", found "b"`},
		{"integer overflow", "module @m attributes {a = 99999999999999999999} {\n}", `p.ir:1:27: bad integer 99999999999999999999`},
		{"bad number", "module @m attributes {a = 1e} {\n}", `p.ir:1:27: bad number 1e`},
		{"float overflow", "module @m attributes {a = 1e999} {\n}", `p.ir:1:27: bad number 1e999`},
		{"two dots", "module @m attributes {a = 1.2.3} {\n}", `p.ir:1:27: bad number 1.2.3`},
		{"list mixes dims and floats", "module @m attributes {a = [T, 1.5]} {\n}", `p.ir:1:28: a list mixes dims and floats`},
		{"list of strings", `module @m attributes {a = ["x"]} {}`, `p.ir:1:28: expected a number or a dim, found "x"`},
		{"list overflow in a shape", "module @m attributes {a = [T, 99999999999999999999]} {\n}", `p.ir:1:31: bad integer 99999999999999999999`},
		{"unknown word", "module @m attributes {a = foo} {\n}", `p.ir:1:27: unexpected "foo" in an attribute value`},
		{"missing value", "module @m attributes {d = {x = }} {\n}", `p.ir:1:32: expected an attribute value, found "}"`},
		{"value as attribute", "module @m attributes {a = %x} {\n}", `p.ir:1:27: expected an attribute value, found %x`},
		{"multi-line position", "module @m {\n\n\n  param @w : [4] f32 {a = }\n}", `p.ir:4:27: expected an attribute value, found "}"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse("p.ir", c.src)
			if err == nil {
				t.Fatalf("Parse accepted:\n%s\nprinting:\n%s", c.src, Print(m))
			}
			if m != nil {
				t.Errorf("Parse returned a module with error %v", err)
			}
			if err.Error() != c.want {
				t.Errorf("Parse error\n  %s\nwant\n  %s", err, c.want)
			}
		})
	}
}
