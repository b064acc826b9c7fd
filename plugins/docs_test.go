package plugins_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/plugins.md walks a new user through writing, testing, building and
// running a plugin. This test does exactly that with the files the guide
// shows (its `<!-- file: NAME -->` blocks), in a module of its own outside
// the repository, so the guide cannot rot.
func TestPluginGuide(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module and deepc: not in -short")
	}
	doc, err := os.ReadFile("../docs/plugins.md")
	if err != nil {
		t.Fatal(err)
	}
	files := regexp.MustCompile("(?s)<!-- file: (\\S+) -->\n```[a-z]*\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(files) < 3 {
		t.Fatalf("found %d file blocks in docs/plugins.md, want main.go, main_test.go and a testdata file", len(files))
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f[1])
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f[2]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sh := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// Step 1 of the guide, with the checkout it points at.
	sh("go", "mod", "init", "example.com/set-norm-eps")
	sh("go", "mod", "edit", "-require", "github.com/deepc-dev/deepc@v0.0.0", "-replace", "github.com/deepc-dev/deepc="+root)
	// Step 3.
	sh("go", "mod", "tidy")
	if out := sh("go", "test", "./..."); !strings.Contains(out, "ok") {
		t.Fatalf("go test: %s", out)
	}
	// Step 4.
	sh("go", "build", "-o", "set-norm-eps", ".")
	// deepc itself, as `make build` makes it in the checkout.
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "deepc"), "./cmd/deepc")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building deepc: %v\n%s", err, out)
	}
	model := filepath.Join(root, "models", "deepseek_v3_tiny.deep")
	norms := strings.Count(sh("./deepc", "compile", model, "--emit", "ir"), "= rms_norm %")
	out := sh("./deepc", "compile", model, "--plugin", "./set-norm-eps", "--pass-option", "set-norm-eps.eps=0.001", "--print-ir-after=set-norm-eps")
	report := fmt.Sprintf("set-norm-eps: %d norms now use eps = 0.001", norms)
	for _, want := range []string{"IR Dump After set-norm-eps", "{eps = 0.001}", report, "plugin set-norm-eps 0.1.0 sha256 "} {
		if !strings.Contains(out, want) {
			t.Errorf("deepc compile output lacks %q", want)
		}
	}
	if strings.Contains(out, "{eps = 1e-06}") && strings.Index(out, "{eps = 1e-06}") > strings.Index(out, "IR Dump After set-norm-eps") {
		t.Errorf("a norm kept its old eps after the pass")
	}
	if out := sh("./deepc", "plugins", "inspect", "./set-norm-eps"); !strings.Contains(out, "--pass-option set-norm-eps.eps=<float>") {
		t.Errorf("inspect: %s", out)
	}
}
