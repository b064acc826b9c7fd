// Package host runs deepc pass plugins: it starts each plugin process with
// hashicorp/go-plugin (gRPC only, automatic mutual TLS), reads its
// manifest, and wraps each of its passes as an ordinary passes.Pass that
// sends the module as IR text and parses and verifies what comes back.
// Every call has a deadline after which the process is killed; a crash, a
// hang, a bad handshake or bad IR is an error naming the plugin and the
// pass, with the plugin's stderr.
package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/deepc-dev/deepc/internal/filehash"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/plugins"
	"github.com/deepc-dev/deepc/plugins/pluginpb"
	"github.com/deepc-dev/deepc/plugins/sdk"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultTimeout bounds start-up, the handshake and every call.
const DefaultTimeout = 60 * time.Second

// Config says how plugins are started.
type Config struct {
	// Timeout bounds start-up with the handshake and each call; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// SHA256 is the expected hex SHA-256 of a plugin binary, by the path
	// as given or by its base name; a plugin not listed is not checked.
	SHA256 map[string]string
	// Log, when set, receives each plugin's stderr (its logs and prints)
	// after each of its passes and when it stops, not only when something
	// fails.
	Log io.Writer
	// TextModules sends modules as text even to a plugin that reads the
	// binary form (the round-trip benchmark's baseline).
	TextModules bool
}

func (c Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// Plugin is a running plugin process.
type Plugin struct {
	Path     string
	SHA256   string // hex digest of the binary
	Manifest *pluginpb.PluginManifest

	client  *plugin.Client
	cmd     *exec.Cmd
	rpc     pluginpb.PassPluginClient
	stderr  *tail
	log     *logLines // nil unless Config.Log is set
	logTo   io.Writer
	timeout time.Duration
	binary  bool // send modules in the binary form
}

// Start starts the plugin at path and reads its manifest.
func Start(path string, cfg Config) (*Plugin, error) {
	abs, err := exec.LookPath(path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %v", path, err)
	}
	sum, err := filehash.SHA256(abs)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %v", path, err)
	}
	want, checked := cfg.SHA256[path]
	if !checked {
		want, checked = cfg.SHA256[filepath.Base(path)]
	}
	if checked && !strings.EqualFold(want, sum) {
		return nil, fmt.Errorf("plugin %s: SHA-256 is %s, --plugin-sha256 wants %s; not started", path, sum, want)
	}
	p := &Plugin{Path: path, SHA256: sum, stderr: &tail{max: 16 << 10}, timeout: cfg.timeout()}
	var out io.Writer = p.stderr
	if cfg.Log != nil {
		p.log, p.logTo = &logLines{}, cfg.Log
		out = io.MultiWriter(p.stderr, p.log)
	}
	p.cmd = exec.Command(abs)
	ownGroup(p.cmd)
	// Wait returns this long after the plugin exits even when something it
	// started still holds its output pipes (go-plugin waits on them).
	p.cmd.WaitDelay = pipeWait
	cc := &plugin.ClientConfig{
		HandshakeConfig:  plugins.Handshake,
		Plugins:          plugins.PluginSet(nil),
		Cmd:              p.cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Managed:          true, // killed by Cleanup (exit, interrupt)
		StartTimeout:     p.timeout,
		Stderr:           out, // the process's own stderr
		SyncStderr:       out, // os.Stderr and os.Stdout of a Go plugin
		SyncStdout:       out,
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off}),
	}
	if checked {
		b, _ := hex.DecodeString(want)
		cc.SecureConfig = &plugin.SecureConfig{Checksum: b, Hash: sha256.New()}
	}
	p.client = plugin.NewClient(cc)
	started.add(p)
	if err := p.connect(); err != nil {
		p.Close()
		return nil, p.fail("", err)
	}
	p.binary = p.Manifest.BinaryModule && !cfg.TextModules
	return p, nil
}

var versionRE = regexp.MustCompile(`Plugin version: (\d+)`)

func (p *Plugin) connect() error {
	done := make(chan error, 1)
	go func() {
		c, err := p.client.Client()
		if err != nil {
			done <- err
			return
		}
		raw, err := c.Dispense(plugins.Key)
		if err != nil {
			done <- err
			return
		}
		p.rpc = raw.(pluginpb.PassPluginClient)
		done <- nil
	}()
	// go-plugin's StartTimeout covers the wait for the handshake line;
	// this covers the connection after it as well.
	select {
	case err := <-done:
		if err != nil {
			if m := versionRE.FindStringSubmatch(err.Error()); m != nil {
				return fmt.Errorf("speaks deepc plugin API version %s; this deepc speaks version %d", m[1], plugins.APIVersion)
			}
			if strings.Contains(err.Error(), "timeout while waiting for plugin to start") {
				return fmt.Errorf("no handshake within %v; killed (%v)", p.timeout, err)
			}
			// A plugin that exits before its handshake said why on its
			// stderr (a Go plugin refuses its own bad manifest there);
			// go-plugin's guess (architecture, libraries) would mislead.
			if strings.Contains(err.Error(), "Failed to read any lines from plugin's stdout") && p.exited(time.Second) {
				return errors.New("exited before its handshake (its stderr, below, says why)")
			}
			return fmt.Errorf("handshake failed: %v", err)
		}
	case <-time.After(p.timeout + time.Second):
		return fmt.Errorf("no handshake within %v; killed", p.timeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	m, err := p.rpc.Manifest(ctx, &pluginpb.ManifestRequest{})
	if err != nil {
		return p.callError("manifest", err)
	}
	if err := checkManifest(m); err != nil {
		return err
	}
	p.Manifest = m
	return nil
}

// checkManifest holds a manifest to what the SDK checks of a plugin
// declaration (names, anchors, option declarations): a plugin written
// without the SDK is held to the same.
func checkManifest(m *pluginpb.PluginManifest) error {
	if m.ApiVersion != plugins.APIVersion {
		return fmt.Errorf("manifest says deepc plugin API version %d; this deepc speaks version %d", m.ApiVersion, plugins.APIVersion)
	}
	decl := sdk.Plugin{Name: m.Name, Version: m.Version}
	for _, ps := range m.Passes {
		var opts []sdk.Option
		for _, o := range ps.Options {
			opts = append(opts, sdk.Option{Name: o.Name, Description: o.Description, Default: o.Default, Type: sdk.OptionType(o.Type), Values: o.Values})
		}
		decl.Passes = append(decl.Passes, sdk.Pass{Name: ps.Name, Anchor: ps.Anchor, Options: opts, Run: func(*ir.Module, sdk.Options) error { return nil }})
	}
	if err := decl.Check(); err != nil {
		return fmt.Errorf("bad manifest: %v", err)
	}
	return nil
}

// Name is the plugin's name from its manifest (its path before that).
func (p *Plugin) Name() string {
	if p.Manifest != nil {
		return p.Manifest.Name
	}
	return p.Path
}

// Close kills the plugin's process group, then lets go-plugin reap it.
// The group goes first: go-plugin's Kill waits until the plugin's stderr
// pipe closes, which never happens while a child the plugin started (a
// wrapper script's) still holds it.
func (p *Plugin) Close() {
	p.killGroup()
	if p.client != nil {
		p.client.Kill()
	}
	started.remove(p)
}

// flushLog writes the plugin's stderr so far to Config.Log, if set; with
// all, also a last line without its newline (the process has exited).
func (p *Plugin) flushLog(all bool) {
	if p.log != nil {
		p.log.flush(p.logTo, p.Name(), all)
	}
}

func (p *Plugin) killGroup() {
	if p.cmd != nil && p.cmd.Process != nil {
		killGroup(p.cmd.Process.Pid)
	}
}

// pipeWait bounds the wait for a dead plugin's pipes.
const pipeWait = 2 * time.Second

// started are the plugins not yet closed, for Cleanup.
var started = pluginSet{m: map[*Plugin]bool{}}

type pluginSet struct {
	mu sync.Mutex
	m  map[*Plugin]bool
}

func (s *pluginSet) add(p *Plugin)    { s.mu.Lock(); s.m[p] = true; s.mu.Unlock() }
func (s *pluginSet) remove(p *Plugin) { s.mu.Lock(); delete(s.m, p); s.mu.Unlock() }

// killAll kills the process group of every plugin not closed.
func (s *pluginSet) killAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.m {
		p.killGroup()
	}
}

// callError describes a failed call: a deadline kills the process; a
// plugin that exited is reported as such.
func (p *Plugin) callError(what string, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded:
		p.Close()
		return fmt.Errorf("%s: no answer within %v; killed", what, p.timeout)
	case p.client.Exited():
		p.Close() // waits for the rest of its stderr
		return fmt.Errorf("%s: the plugin process exited (%v)", what, err)
	case status.Code(err) == codes.Unavailable:
		p.Close()
		return fmt.Errorf("%s: the plugin process stopped answering (%v)", what, err)
	}
	if s, ok := status.FromError(err); ok {
		return errors.New(s.Message())
	}
	return fmt.Errorf("%s: %v", what, err)
}

// exited waits up to d for the plugin process to be gone, so that its
// stderr has been read to the end.
func (p *Plugin) exited(d time.Duration) bool {
	for end := time.Now().Add(d); !p.client.Exited(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			return false
		}
	}
	return true
}

// fail wraps err with the plugin, the pass (if any) and the plugin's
// stderr so far.
func (p *Plugin) fail(pass string, err error) error {
	where := "plugin " + p.Name()
	if p.Name() != p.Path {
		where += " (" + p.Path + ")"
	}
	if pass != "" {
		where += ", pass " + pass
	}
	msg := fmt.Sprintf("%s: %v", where, err)
	if s := strings.TrimSpace(withoutDebugLogs(p.stderr.String())); s != "" {
		msg += "\nplugin stderr:\n" + indent(s)
	}
	return errors.New(msg)
}

// withoutDebugLogs drops go-plugin's own debug and trace log lines (JSON)
// from a plugin's stderr.
func withoutDebugLogs(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, `{"@level":"debug"`) && !strings.HasPrefix(l, `{"@level":"trace"`) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

// Passes wraps the plugin's passes as passes.Pass.
func (p *Plugin) Passes() []*Pass {
	var out []*Pass
	for _, info := range p.Manifest.Passes {
		out = append(out, &Pass{p: p, info: info})
	}
	return out
}

// Pass is one plugin pass, run out of process.
type Pass struct {
	p    *Plugin
	info *pluginpb.PassInfo
}

func (ps *Pass) Name() string    { return ps.info.Name }
func (ps *Pass) Anchor() string  { return ps.info.Anchor }
func (ps *Pass) Plugin() *Plugin { return ps.p }

// Options are the options the manifest declares, for deepc to check
// --pass-option against.
func (ps *Pass) Options() []passes.Option {
	var out []passes.Option
	for _, o := range ps.info.Options {
		out = append(out, passes.Option{Name: o.Name, Type: passes.OptionType(o.Type), Values: o.Values, Default: o.Default, Description: o.Description})
	}
	return out
}

func (ps *Pass) Description() string {
	d := ps.info.Description
	if d == "" {
		d = "(no description)"
	}
	return fmt.Sprintf("%s [plugin %s %s]", d, ps.p.Manifest.Name, ps.p.Manifest.Version)
}

// Run sends m to the plugin, then parses and verifies the answer before
// it replaces m.
func (ps *Pass) Run(ctx *passes.Context, m *ir.Module) (bool, error) {
	req := &pluginpb.RunPassRequest{Pass: ps.info.Name, Options: ctx.Options}
	if ps.p.binary {
		req.ModuleBinary = ir.Encode(m)
	} else {
		req.Module = ir.Print(m)
	}
	call, cancel := context.WithTimeout(context.Background(), ps.p.timeout)
	defer cancel()
	resp, err := ps.p.rpc.RunPass(call, req)
	if err != nil {
		return false, ps.p.fail(ps.info.Name, ps.p.callError("run", err))
	}
	ps.p.flushLog(false)
	if resp.Output != "" {
		fmt.Fprint(ctx.Writer(), resp.Output)
		if !strings.HasSuffix(resp.Output, "\n") {
			fmt.Fprintln(ctx.Writer())
		}
	}
	// Whatever the form, the answer is decoded and verified; changed is
	// judged here, not taken from the plugin. An unchanged answer leaves
	// m as it is, values and all (instruments such as the HTML view follow
	// values by identity).
	if bytes.Equal(resp.ModuleBinary, req.ModuleBinary) && resp.Module == req.Module {
		return false, nil
	}
	if n, limit := len(resp.ModuleBinary)+len(resp.Module), maxAnswer(len(req.ModuleBinary)+len(req.Module)); n > limit {
		return false, ps.p.fail(ps.info.Name, fmt.Errorf("answered with a %d-byte module for a %d-byte one (at most %d): decoding it could take many times that in memory", n, len(req.ModuleBinary)+len(req.Module), limit))
	}
	if len(resp.ModuleBinary) > 0 {
		err = plugins.AdoptBinary(m, resp.ModuleBinary)
	} else {
		err = plugins.Adopt(m, fmt.Sprintf("<plugin %s pass %s>", ps.p.Manifest.Name, ps.info.Name), resp.Module)
	}
	if err != nil {
		return false, ps.p.fail(ps.info.Name, err)
	}
	return true, nil // an answer equal to the module returned above
}

// maxAnswer bounds a pass's answer by the module it was sent: a pass may
// grow a module many times over, not without bound (a decoded module
// takes tens of times its encoding in memory).
func maxAnswer(sent int) int { return 16*sent + answerSlack }

// answerSlack is what any answer may hold beyond 16 times what was sent
// (a variable so that a test can reach the bound with a small module).
var answerSlack = 64 << 20

// Cleanup kills every plugin process still running (deepc calls it on
// exit and on an interrupt).
func Cleanup() {
	started.killAll() // first: an interrupt must not wait on a plugin
	plugin.CleanupClients()
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
