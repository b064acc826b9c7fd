package pluginpb

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The committed code is what `make proto` generates from plugins/proto
// (scripts/proto.sh installs protoc and the pinned generators).
func TestGeneratedCodeIsCurrent(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("bash", "../../scripts/proto.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/proto.sh: %v\n%s", err, b)
	}
	gen, _ := filepath.Glob(filepath.Join(out, "plugins", "pluginpb", "*.go"))
	have, _ := filepath.Glob("*.pb.go")
	if len(gen) == 0 || len(gen) != len(have) {
		t.Fatalf("generated %v, committed %v", gen, have)
	}
	for _, g := range gen {
		want, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Base(g))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from what plugins/proto generates; run make proto", filepath.Base(g))
		}
	}
}
