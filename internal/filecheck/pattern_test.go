package filecheck

import (
	"strings"
	"testing"
)

// passingPatterns are check files using regex blocks and variables that
// must pass against sample.
var passingPatterns = []struct{ name, check string }{
	{"regex", "// CHECK: %{{[0-9]+}} = neg %x"},
	{"regex alternation", "// CHECK: = {{neg|abs}} %x"},
	{"regex ending in a brace", "// CHECK: %{{([0-9]{1})}} = neg"},
	{"literal metacharacters", "// CHECK: -> ([4] f32) {"},
	{"regex anchored at the search start", "// CHECK: %1 = exp\n// CHECK-SAME: {{^}} %0 : [4] f32"},
	{"capture then use", "// CHECK: [[X:%[0-9]+]] = neg %x\n// CHECK: exp [[X]]"},
	{"use is literal", "// CHECK: neg %x : [[T:.*]]\n// CHECK-NEXT: exp %0 : [[T]]"},
	{"next with a use", "// CHECK: [[R:%[0-9]+]] = exp\n// CHECK-NEXT: return [[R]]"},
	{"same with a definition and a use", "// CHECK: %1 = exp [[A:%[0-9]+]]\n// CHECK-SAME: : [[T:[^ ]+]]\n// CHECK: abs %x : [[T]] f32"},
	{"not with a regex", "// CHECK: neg\n// CHECK-NOT: {{sqrt|tanh}}\n// CHECK: exp"},
	{"not with a use", "// CHECK-LABEL: func @b\n// CHECK: [[V:%[0-9]+]] = abs\n// CHECK-NOT: neg [[V]]"},
	{"persists across labels", "// CHECK-LABEL: func @a\n// CHECK: -> ([[T:[^)]+]])\n// CHECK-LABEL: func @b\n// CHECK: abs %x : [[T]]"},
	{"redefinition", "// CHECK: [[V:%[0-9]+]] = neg\n// CHECK: [[V:%[0-9]+]] = exp\n// CHECK-NEXT: return [[V]]"},
	{"regex in a label", "// CHECK-LABEL: func @{{b}}(\n// CHECK-NEXT: abs"},
	// The groups of a regex must not shift which submatch a definition gets.
	{"groups inside regexes", "// CHECK: {{(%)(0)}} = neg [[X:(%)(x)]] : [[T:.*]]\n// CHECK-NEXT: exp %0 : [[T]]\n// CHECK: abs [[X]]"},
	{"bracket expression in a definition", "// CHECK: %[[N:[[:digit:]]]] = exp\n// CHECK: return %[[N]]"},
	{"dollar variable", "// CHECK: [[$R:%[0-9]+]] = exp\n// CHECK-NEXT: return [[$R]]"},
}

func TestPatternPasses(t *testing.T) {
	for _, tc := range passingPatterns {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check(sample, tc.check); err != nil {
				t.Fatalf("unexpected failure:\n%v", err)
			}
		})
	}
}

// failingPatterns must fail against sample: the check line the error must
// name and a fragment its message must contain (the variables' values
// included).
var failingPatterns = []struct {
	name, check string
	line        int
	want        string
}{
	{"regex not found", "// CHECK: neg\n// CHECK: %{{[0-9]+}} = sqrt", 2, "not found\n  search began at input line 3, column 13"},
	{"regex confined to a line", "// CHECK: neg{{.*}}exp", 1, "not found"},
	{"use must equal the capture", "// CHECK-LABEL: func @a\n// CHECK: [[V:%[0-9]+]] = neg\n// CHECK: return [[V]]\n// CHECK-LABEL: func @b", 3, `with [[V]] = "%0"`},
	{"next with a use", "// CHECK: %0 = [[OP:[a-z]+]] %x\n// CHECK-NEXT: %1 = [[OP]]", 2, `with [[OP]] = "neg"`},
	{"same with a use", "// CHECK: [[R:%[0-9]+]] = exp\n// CHECK-SAME: [[R]]", 2, "same line"},
	{"not with a regex", "// CHECK: neg\n// CHECK-NOT: %{{[0-9]}} = exp\n// CHECK: return", 2, "found at input line 4"},
	{"not with a use", "// CHECK: [[V:%[0-9]+]] = neg\n// CHECK-NOT: exp [[V]]\n// CHECK: return", 2, `with [[V]] = "%0"`},
	// A value captured in @a's block is still there in @b's.
	{"persists across labels", "// CHECK-LABEL: func @a\n// CHECK: [[R:%[0-9]+]] = exp\n// CHECK-LABEL: func @b\n// CHECK: return [[R]]", 4, `with [[R]] = "%1"`},
	// @a's block stops at its first failure (line 2), before line 3 can
	// define R; @b's block then reports the use.
	{"definition never matched", "// CHECK-LABEL: func @a\n// CHECK: sqrt\n// CHECK: [[R:%[0-9]+]] = exp\n// CHECK-LABEL: func @b\n// CHECK: return [[R]]", 2, "check line 5: CHECK: \"return [[R]]\": [[R]] has no value: check line 3, which defines it, has not matched"},
}

func TestPatternFails(t *testing.T) {
	for _, tc := range failingPatterns {
		t.Run(tc.name, func(t *testing.T) {
			wantFailure(t, Check(sample, tc.check), tc.line, tc.want)
		})
	}
}

// A use matches the captured text literally: read as a regex, "x.y" would
// match "xzy".
func TestUseIsQuoted(t *testing.T) {
	check := "// CHECK: a: [[V:x.y]]\n// CHECK-NEXT: b: [[V]]"
	if err := Check("a: x.y\nb: x.y\n", check); err != nil {
		t.Fatalf("equal text: %v", err)
	}
	wantFailure(t, Check("a: x.y\nb: xzy\n", check), 2, `with [[V]] = "x.y"`)
}

// A literal "{{" or "[[" is written as a regex; a lone "}}" or "]]" is
// plain text.
func TestLiteralOpeners(t *testing.T) {
	check := `// CHECK: x = {{\{\{}}a}} {{\[\[}}b]]`
	if err := Check("x = {{a}} [[b]]\n", check); err != nil {
		t.Fatalf("unexpected failure:\n%v", err)
	}
	wantFailure(t, Check("x = {a} [[b]]\n", check), 1, "not found")
}

// Errors name the check file and line, what was expected, and where the
// search began.
func TestErrorNamesFileAndSearch(t *testing.T) {
	err := Config{File: "t.ir"}.Check(sample, "// CHECK: [[R:%[0-9]+]] = exp\n// CHECK-NEXT: abs [[R]]")
	for _, want := range []string{`t.ir:2: CHECK-NEXT: "abs [[R]]": not found on the line after the previous match (input line 4)`, `with [[R]] = "%1"`, "search began at input line 5\n"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}

// Check files whose patterns are malformed are rejected before any
// matching, naming the file and line.
func TestBadPatterns(t *testing.T) {
	for _, tc := range []struct{ name, check, want string }{
		{"undefined variable", "// CHECK: neg\n// CHECK: return [[R]]", "t.ir:2: CHECK uses undefined variable [[R]]"},
		{"used before its definition", "// CHECK: exp [[X]]\n// CHECK: [[X:%[0-9]+]] = abs", "t.ir:1: CHECK uses undefined variable [[X]]"},
		{"used where defined", "// CHECK: [[X:%[0-9]+]] = exp [[X]]", "t.ir:1: [[X]] is used in the pattern that defines it"},
		{"unclosed regex", "// CHECK: %{{[0-9]+ = neg", "t.ir:1: CHECK: \"{{[0-9]+ = neg\": {{ without a closing }}"},
		{"empty regex", "// CHECK: %{{}} = neg", "t.ir:1: CHECK: empty regex"},
		{"bad regex", "// CHECK: %{{[0-9}} = neg", "t.ir:1: CHECK: bad regex {{[0-9}}"},
		{"unclosed variable", "// CHECK: [[X:%[0-9]+ = neg", "[[ without a closing ]]"},
		{"bad variable name", "// CHECK: [[1X:%[0-9]+]] = neg", `"1X" is not a variable name`},
		{"empty definition", "// CHECK: [[X:]] = neg", "empty regex for X"},
		{"bad definition regex", "// CHECK: [[X:(]] = neg", "bad regex {{(}}"},
		{"numeric variable", "// CHECK: [[#N]]", "numeric variables"},
		{"pseudo variable", "// CHECK: [[@LINE]]", "pseudo variables"},
		{"definition in a not", "// CHECK-NOT: [[X:%[0-9]+]] = sqrt", "t.ir:1: CHECK-NOT cannot define [[X]]"},
		{"definition in a label", "// CHECK-LABEL: func [[F:@[a-z]+]]", "t.ir:1: CHECK-LABEL cannot define or use [[F]]"},
		{"use in a label", "// CHECK: func [[F:@[a-z]+]]\n// CHECK-LABEL: func [[F]]", "t.ir:2: CHECK-LABEL cannot define or use [[F]]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Config{File: "t.ir"}.Check(sample, tc.check)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
