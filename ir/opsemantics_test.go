package ir

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docs/op-semantics.md says what every op of the table computes: each op
// name appears in the first column of its table, and the table names no
// op the IR does not have.
func TestOpSemanticsCoversEveryOp(t *testing.T) {
	b, err := os.ReadFile("../docs/op-semantics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	word := regexp.MustCompile(`^[a-z][a-z0-9_]*`)
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| op ") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, f := range strings.FieldsFunc(first, func(r rune) bool { return r == ' ' || r == '/' || r == ',' }) {
			if w := word.FindString(f); w != "" {
				documented[w] = true
			}
		}
	}
	for _, d := range Ops() {
		if !documented[d.Name] {
			t.Errorf("docs/op-semantics.md does not document %s", d.Name)
		}
	}
}
