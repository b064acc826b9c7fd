package filecheck

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const sample = `module @m {
  func @a(%x: [4] f32) -> ([4] f32) {
    %0 = neg %x : [4] f32
    %1 = exp %0 : [4] f32
    return %1
  }

  func @b(%x: [4] f32) -> ([4] f32) {
    %0 = abs %x : [4] f32
    return %0
  }
}
`

// checks lists check files that must pass against sample.
var passing = []struct{ name, check string }{
	{"plain", `// CHECK: neg %x`},
	{"in order", "// CHECK: neg\n// CHECK: exp\n// CHECK: abs"},
	{"same line twice", "// CHECK: %0 = neg\n// CHECK: %x : [4] f32"},
	{"next", "// CHECK: %0 = neg\n// CHECK-NEXT: %1 = exp"},
	{"same", "// CHECK: %0 =\n// CHECK-SAME: neg\n// CHECK-SAME: [4] f32"},
	{"not between", "// CHECK: neg\n// CHECK-NOT: abs\n// CHECK: exp"},
	{"not at end", "// CHECK: abs\n// CHECK-NOT: neg"},
	{"not at start", "// CHECK-NOT: sqrt\n// CHECK: module"},
	{"whitespace", "//   CHECK:    %0   =    neg\t%x"},
	{"labels", "// CHECK-LABEL: func @a\n// CHECK: neg\n// CHECK-LABEL: func @b\n// CHECK-NOT: neg\n// CHECK: abs"},
	{"label then next", "// CHECK-LABEL: func @b\n// CHECK-NEXT: abs"},
	{"not only", "// CHECK-NOT: sqrt"},
	{"trailing code comment", "%0 = whatever // CHECK: return %1"},
}

func TestCheckPasses(t *testing.T) {
	for _, tc := range passing {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check(sample, tc.check); err != nil {
				t.Fatalf("unexpected failure:\n%v", err)
			}
		})
	}
}

// failing lists check files that must fail, the check line the error must
// name, and a fragment the message must contain.
var failing = []struct {
	name, check string
	line        int
	want        string
}{
	{"missing", "// CHECK: neg\n// CHECK: sqrt", 2, "not found\n  search began at input line 3, column 13"},
	{"matches do not overlap", "// CHECK: %0 = neg\n// CHECK: neg %x", 2, "not found"},
	{"out of order", "// CHECK: exp\n// CHECK: neg", 2, "not found"},
	{"next skips a line", "// CHECK: %0 = neg\n// CHECK-NEXT: return", 2, "it occurs at input line 5"},
	{"next on same line", "// CHECK: %0 = \n// CHECK-NEXT: neg", 2, "line after"},
	{"same on next line", "// CHECK: %0 = neg\n// CHECK-SAME: exp", 2, "same line"},
	{"not between", "// CHECK: neg\n// CHECK-NOT: exp\n// CHECK: return", 2, "found at input line 4"},
	{"not at end", "// CHECK: func @b\n// CHECK-NOT: abs", 2, "must not occur"},
	{"not before first", "// CHECK-NOT: module\n// CHECK: neg", 1, "input line 1"},
	{"label missing", "// CHECK-LABEL: func @c\n// CHECK: neg", 1, "label not found"},
	{"labels out of order", "// CHECK-LABEL: func @b\n// CHECK-LABEL: func @a", 2, "label not found"},
	{"check confined to its label block", "// CHECK-LABEL: func @a\n// CHECK: abs\n// CHECK-LABEL: func @b", 2, "not found"},
	{"not confined to its label block", "// CHECK-LABEL: func @a\n// CHECK-NOT: return\n// CHECK-LABEL: func @b", 2, "input line 5"},
}

func TestCheckFails(t *testing.T) {
	for _, tc := range failing {
		t.Run(tc.name, func(t *testing.T) {
			wantFailure(t, Check(sample, tc.check), tc.line, tc.want)
		})
	}
}

// wantFailure asserts that err is a match failure of check line line whose
// message contains want and quotes the input.
func wantFailure(t *testing.T, err error, line int, want string) {
	t.Helper()
	if err == nil {
		t.Fatal("Check passed; want a failure")
	}
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %T is not a *filecheck.Error: %v", err, err)
	}
	if fe.CheckLine != line {
		t.Errorf("error names check line %d, want %d:\n%v", fe.CheckLine, line, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error does not mention %q:\n%v", want, err)
	}
	if !strings.Contains(err.Error(), "input:\n") {
		t.Errorf("error quotes no input:\n%v", err)
	}
}

func TestCheckBadCheckFiles(t *testing.T) {
	for _, tc := range []struct{ name, check, want string }{
		{"none", "// nothing to see", "no CHECK directives"},
		{"empty pattern", "// CHECK:   ", "empty pattern"},
		{"unsupported", "// CHECK-DAG: neg", "unsupported directive CHECK-DAG"},
		{"next first", "// CHECK-NEXT: neg", "no earlier CHECK"},
		{"same after not", "// CHECK-NOT: x\n// CHECK-SAME: neg", "no earlier CHECK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(sample, tc.check)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// Each label block is checked on its own, so one broken function reports
// its own failure without hiding the next block's.
func TestCheckReportsEveryBlock(t *testing.T) {
	check := "// CHECK-LABEL: func @a\n// CHECK: sqrt\n// CHECK-LABEL: func @b\n// CHECK: tanh"
	err := Check(sample, check)
	if err == nil {
		t.Fatal("Check passed")
	}
	for _, want := range []string{"check line 2", "check line 4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestCheckContextMarksLine(t *testing.T) {
	err := Check(sample, "// CHECK: %1 = exp\n// CHECK-NOT: return\n// CHECK: abs")
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("got %v", err)
	}
	if fe.InputLine != 5 || !strings.Contains(fe.Context, ">    5 |     return %1") {
		t.Errorf("context does not mark input line 5:\n%s", fe.Context)
	}
}

func TestCheckNearMiss(t *testing.T) {
	err := Check(sample, "// CHECK: %1 = exp %9")
	if err == nil || !strings.Contains(err.Error(), "possible intended match at input line 4") {
		t.Fatalf("no near-miss hint:\n%v", err)
	}
}

func TestRunLines(t *testing.T) {
	src := `// RUN: deepc opt %s --passes canonicalize
module @m {}
//RUN:deepc opt %s \
// RUN:   --passes cse,dce
// not a run line
`
	got := RunLines(src)
	want := []string{"deepc opt %s --passes canonicalize", "deepc opt %s --passes cse,dce"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RunLines = %q, want %q", got, want)
	}
	if got := RunLines("module @m {}"); got != nil {
		t.Errorf("RunLines of a file without RUN lines = %q", got)
	}
}
