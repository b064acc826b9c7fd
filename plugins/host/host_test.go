package host

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
)

// bin is where TestMain builds the fixtures and examples.
var bin string

// built maps a name to its package.
var built = map[string]string{
	"crash":            "./testdata/crash",
	"hang":             "./testdata/hang",
	"badir":            "./testdata/badir",
	"wrongapi":         "./testdata/wrongapi",
	"garbage":          "./testdata/garbage",
	"silent":           "./testdata/silent",
	"echo":             "./testdata/echo",
	"misanchored":      "./testdata/misanchored",
	"nop":              "./testdata/nop",
	"badanchor":        "./testdata/badanchor",
	"fold-norm-weight": "../examples/fold-norm-weight",
	"report-flops":     "../examples/report-flops",
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "deepc-plugins-")
	if err != nil {
		panic(err)
	}
	bin = dir
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, pkg := range built {
		args = append(args, pkg)
	}
	cmd := exec.Command("go", args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		panic("building plugin fixtures: " + err.Error())
	}
	code := m.Run()
	Cleanup()
	if code == 0 {
		if left := running(dir); len(left) > 0 {
			os.Stderr.WriteString("plugin processes left running: " + strings.Join(left, ", ") + "\n")
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// running lists processes whose executable is in dir (Linux /proc).
func running(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range procs {
		exe, err := os.Readlink(p)
		if err == nil && strings.HasPrefix(exe, dir) {
			out = append(out, filepath.Base(exe)+" (pid "+filepath.Base(filepath.Dir(p))+")")
		}
	}
	return out
}

func path(name string) string { return filepath.Join(bin, name) }

const tiny = `module @t {
  param @norm : [8] f32
  param @w : [4, 8] f32

  func @f(%x: [T, 8] f32) -> ([T, 4] f32) {
    %0 = param {name = "norm"} : [8] f32
    %1 = rms_norm %x, %0 {eps = 1e-06} : [T, 8] f32
    %2 = param {name = "w"} : [4, 8] f32
    %3 = linear %1, %2 : [T, 4] f32
    return %3
  }
}
`

// runPass starts the plugin and runs its pass named pass over tiny.
func runPass(t *testing.T, plugin, pass string, cfg Config) (*ir.Module, error) {
	t.Helper()
	p, err := Start(path(plugin), cfg)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	m, err := ir.Parse("tiny.ir", tiny)
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range p.Passes() {
		if ps.Name() == pass {
			_, err := ps.Run(&passes.Context{}, m)
			return m, err
		}
	}
	t.Fatalf("plugin %s has no pass %s", plugin, pass)
	return nil, nil
}

func TestExamplePlugin(t *testing.T) {
	p, err := Start(path("fold-norm-weight"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Manifest.Name != "fold-norm-weight" || p.Manifest.Version == "" || len(p.SHA256) != 64 {
		t.Errorf("manifest %v, sha256 %q", p.Manifest, p.SHA256)
	}
	m, err := ir.Parse("tiny.ir", tiny)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	changed, err := p.Passes()[0].Run(&passes.Context{Out: &out}, m)
	if err != nil {
		t.Fatal(err)
	}
	text := ir.Print(m)
	if !changed || !strings.Contains(text, "mul %") || !strings.Contains(out.String(), "1 norms folded") {
		t.Errorf("changed %v, report %q, module:\n%s", changed, out.String(), text)
	}
}

// Each misbehaving plugin fails with a clear message, within the deadline.
func TestFailures(t *testing.T) {
	const deadline = 2 * time.Second
	for _, c := range []struct {
		plugin, pass string
		want         []string
	}{
		{"crash", "crash-pass", []string{"plugin crash (", "pass crash-pass", "crash fixture: deliberate crash"}},
		{"hang", "hang-pass", []string{"plugin hang (", "pass hang-pass", "no answer within 2s; killed"}},
		{"badir", "garbage-ir", []string{"plugin badir (", "pass garbage-ir", "returned IR that does not parse", "<plugin badir pass garbage-ir>:1:"}},
		{"badir", "unverified-ir", []string{"plugin badir (", "pass unverified-ir", "returned IR that does not verify", "func @f: %3 = matmul: "}},
		{"wrongapi", "", []string{"plugin " + path("wrongapi"), "speaks deepc plugin API version 99; this deepc speaks version 1"}},
		{"garbage", "", []string{"plugin " + path("garbage"), "handshake failed", "Hello! I am definitely a plugin", "garbage fixture: saying hello"}},
		{"silent", "", []string{"plugin " + path("silent"), "no handshake within 2s; killed"}},
	} {
		t.Run(c.plugin+"/"+c.pass, func(t *testing.T) {
			start := time.Now()
			_, err := runPass(t, c.plugin, c.pass, Config{Timeout: deadline})
			took := time.Since(start)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if took > deadline+3*time.Second {
				t.Errorf("took %v with a deadline of %v", took, deadline)
			}
			if left := running(bin); len(left) > 0 {
				t.Errorf("left running: %v", left)
			}
		})
	}
}

func TestChecksum(t *testing.T) {
	p, err := Start(path("report-flops"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	sum := p.SHA256
	p.Close()
	for _, key := range []string{path("report-flops"), "report-flops"} {
		p, err := Start(path("report-flops"), Config{SHA256: map[string]string{key: sum}})
		if err != nil {
			t.Fatalf("right checksum under %q: %v", key, err)
		}
		p.Close()
	}
	bad := strings.Repeat("0", 64)
	_, err = Start(path("report-flops"), Config{SHA256: map[string]string{"report-flops": bad}})
	if err == nil || !strings.Contains(err.Error(), "--plugin-sha256 wants "+bad+"; not started") {
		t.Errorf("wrong checksum: %v", err)
	}
}

func TestSetPlacement(t *testing.T) {
	s, err := StartAll([]string{path("fold-norm-weight"), path("report-flops")}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct{ in, want, note string }{
		{"canonicalize,cse,dce", "canonicalize,fold-norm-weight,cse,dce,report-flops", ""},
		{"canonicalize,report-flops,dce", "canonicalize,fold-norm-weight,report-flops,dce", ""},
		{"cse", "cse", "anchor after:canonicalize is not in the pipeline"},
		{"", "", "not in the pipeline"},
	} {
		got, notes := s.Place(c.in)
		if got != c.want {
			t.Errorf("Place(%q) = %q, want %q", c.in, got, c.want)
		}
		if c.note != "" && !strings.Contains(strings.Join(notes, "\n"), c.note) {
			t.Errorf("Place(%q) notes %q, want %q", c.in, notes, c.note)
		}
	}
	reg, err := s.Registry(passes.Default)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Lookup("fold-norm-weight"); !ok {
		t.Error("registry lacks the plugin pass")
	}
	if _, ok := passes.Lookup("fold-norm-weight"); ok {
		t.Error("the plugin pass leaked into the default registry")
	}
	// One plugin loaded twice is refused as such.
	twice, err := StartAll([]string{path("report-flops"), path("report-flops")}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer twice.Close()
	if _, err := twice.Registry(passes.Default); err == nil || !strings.Contains(err.Error(), "plugin report-flops is loaded twice") {
		t.Errorf("duplicate plugin: %v", err)
	}
}

// Cleanup (deepc's exit and interrupt path) kills plugins nobody closed.
func TestCleanupKillsPlugins(t *testing.T) {
	if _, err := Start(path("hang"), Config{}); err != nil {
		t.Fatal(err)
	}
	if left := running(bin); len(left) == 0 {
		t.Fatal("the plugin is not running")
	}
	Cleanup()
	deadline := time.Now().Add(5 * time.Second)
	for len(running(bin)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := running(bin); len(left) > 0 {
		t.Errorf("left running after Cleanup: %v", left)
	}
}
