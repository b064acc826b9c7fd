package ir

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNothingInternal enforces docs/design.md §2: package ir imports nothing
// from the rest of the project, directly or indirectly.
func TestImportsNothingInternal(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	out, err := exec.Command(gotool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const module = "github.com/deepc-dev/deepc"
	self := module + "/ir"
	found := false
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == self:
			found = true
		case pkg == module || strings.HasPrefix(pkg, module+"/"):
			t.Errorf("package ir depends on %s; it must import nothing internal (docs/design.md §2)", pkg)
		}
	}
	if !found {
		t.Errorf("go list -deps did not list %s itself:\n%s", self, out)
	}
}
