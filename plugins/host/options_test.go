package host

import (
	"bytes"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/plugins/pluginpb"
)

// runEcho runs pipeline, with the echo fixture's pass, over tiny through
// the pass manager, options given as to --pass-option.
func runEcho(t *testing.T, cfg Config, pipeline string, options ...string) (*passes.Context, string, error) {
	t.Helper()
	s, err := StartAll([]string{path("echo")}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg, err := s.Registry(passes.Default)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := reg.ParsePipeline(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := reg.ResolveOptions(options)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ir.Parse("tiny.ir", tiny)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx := &passes.Context{Out: &out, PassOptions: opts}
	err = passes.Run(ctx, m, pl)
	return ctx, out.String(), err
}

// A plugin pass gets its own options with their defaults, and no other
// pass's.
func TestPluginGetsItsOwnOptions(t *testing.T) {
	_, report, err := runEcho(t, Config{}, "canonicalize,echo,moe-lower", "level=high", "moe-block=4")
	if err != nil {
		t.Fatal(err)
	}
	if want := `echo: level=high seq-len=8 moe-block=""`; !strings.Contains(report, want) {
		t.Errorf("report %q, want %q", report, want)
	}
}

// The manifest's declarations are what --pass-option is checked against.
func TestPluginOptionErrors(t *testing.T) {
	s, err := StartAll([]string{path("echo")}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg, err := s.Registry(passes.Default)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ kv, want string }{
		{"echo.level=medium", `echo.level=medium: pass echo: option level: "medium" is not one of low, high`},
		{"echo.level=hihg", `(did you mean "high"?)`},
		{"echo.seq-len=many", `option seq-len: "many" is not an integer`},
		{"echo.panic=maybe", `option panic: "maybe" is not true or false`},
		{"echo.levle=high", `pass echo has no option "levle" (did you mean "level"?); its options: level, seq-len, rename, panic`},
		{"ecko.level=high", `unknown pass "ecko" (did you mean "echo"?)`},
		{"seq-len=4", `option "seq-len" is ambiguous: passes echo, stats take it; write echo.seq-len or stats.seq-len`},
	} {
		if _, err := reg.ResolveOptions([]string{c.kv}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.kv, err, c.want)
		}
	}
	for _, ps := range s.Passes() {
		got := ps.Options()
		if len(got) != 5 || got[0].Type != passes.TypeEnum || strings.Join(got[0].Values, ",") != "low,high" || got[1].Type != passes.TypeInt || got[2].TypeOf() != passes.TypeString {
			t.Errorf("options from the manifest: %+v", got)
		}
	}
}

func TestCheckManifest(t *testing.T) {
	manifest := func(o *pluginpb.OptionInfo) *pluginpb.PluginManifest {
		return &pluginpb.PluginManifest{Name: "p", Version: "1", ApiVersion: 1, Passes: []*pluginpb.PassInfo{{Name: "q", Options: []*pluginpb.OptionInfo{o}}}}
	}
	if err := checkManifest(manifest(&pluginpb.OptionInfo{Name: "n", Type: "int", Default: "3"})); err != nil {
		t.Errorf("good manifest: %v", err)
	}
	for _, c := range []struct {
		o    *pluginpb.OptionInfo
		want string
	}{
		{&pluginpb.OptionInfo{Name: "n", Type: "integer", Default: "3"}, `bad manifest: plugin p: pass q: option n: type "integer": want one of bool, enum, float, int, string`},
		{&pluginpb.OptionInfo{Name: "n", Type: "int", Default: "three"}, `bad manifest: plugin p: pass q: default: option n: "three" is not an integer`},
		{&pluginpb.OptionInfo{Name: "mode", Type: "enum"}, "an enum needs its values"},
		{&pluginpb.OptionInfo{Name: "a.b"}, `option name "a.b"`},
	} {
		if err := checkManifest(manifest(c.o)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.o, err, c.want)
		}
	}
}

// A panic in a plugin pass comes back with the frames that led to it.
func TestPluginPanicHasStack(t *testing.T) {
	_, _, err := runEcho(t, Config{}, "echo", "echo.panic=true")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"plugin echo (", "pass echo: panic: assignment to entry in nil map", "main.explode(", "testdata/echo/main.go:", "main.echo("} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "google.golang.org/grpc") {
		t.Errorf("the stack goes on into gRPC:\n%v", err)
	}
}

// With Config.Log, what a plugin writes to stderr is shown although its
// pass succeeds; without, it is not kept beyond the error tail.
func TestPluginLog(t *testing.T) {
	var log bytes.Buffer
	if _, _, err := runEcho(t, Config{Log: &log}, "echo"); err != nil {
		t.Fatal(err)
	}
	if want := "plugin echo: "; !strings.Contains(log.String(), want) || !strings.Contains(log.String(), "echo fixture: running over 2 params") {
		t.Errorf("log %q lacks the plugin's line", log.String())
	}
	if strings.Contains(log.String(), `"@level":"debug"`) {
		t.Errorf("log has go-plugin's debug lines:\n%s", log.String())
	}
}

// The pass manager names the passes that changed the params, plugin
// passes among them.
func TestPluginParamChangeRecorded(t *testing.T) {
	ctx, _, err := runEcho(t, Config{}, "canonicalize,echo,cse", "echo.rename=w")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ctx.ParamsChangedBy, ","); got != "echo" {
		t.Errorf("ParamsChangedBy = %q, want echo", got)
	}
	ctx, _, err = runEcho(t, Config{}, "canonicalize,echo,cse")
	if err != nil || len(ctx.ParamsChangedBy) != 0 {
		t.Errorf("no rename: ParamsChangedBy = %q, %v", ctx.ParamsChangedBy, err)
	}
}

// An anchor naming no pass is an error with the pass meant, not a pass
// silently left out.
func TestMisspeltAnchor(t *testing.T) {
	s, err := StartAll([]string{path("misanchored")}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Registry(passes.Default)
	if want := "plugin misanchored: pass misanchored-pass: anchor after:canonicalise names no pass (did you mean after:canonicalize?)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
}

// A checksum for a plugin that is not loaded is an error before any
// plugin starts.
func TestPinForNoPlugin(t *testing.T) {
	sum := strings.Repeat("0", 64)
	for _, c := range []struct {
		paths []string
		pin   string
		want  string
	}{
		{[]string{path("echo")}, "ecoh", `--plugin-sha256 ecoh: no plugin loaded has that path or file name (did you mean "echo"?); the plugins: ` + path("echo")},
		{nil, "echo", "--plugin-sha256 echo: no plugins are loaded"},
	} {
		_, err := StartAll(c.paths, Config{SHA256: map[string]string{c.pin: sum}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %s: %v, want %q", c.paths, c.pin, err, c.want)
		}
		if left := running(bin); len(left) > 0 {
			t.Errorf("started: %v", left)
		}
	}
}
