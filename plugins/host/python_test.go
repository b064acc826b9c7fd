package host

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/health/grpc_health_v1"
)

// The Python example plugin serves the two services docs/plugins.md asks
// for beside PassPlugin, as go-plugin's client calls them: the health
// check and the controller's Shutdown, after which it exits on its
// own. deepc itself calls neither before it kills a plugin, so only this
// test would see them broken.
func TestPythonPluginHealthAndShutdown(t *testing.T) {
	if out, err := exec.Command("/usr/bin/python3", "-c", "import grpc, google.protobuf, cryptography").CombinedOutput(); err != nil {
		skipOrFail(t, "/usr/bin/python3 lacks grpc, protobuf or cryptography: "+string(out))
	}
	if _, err := exec.LookPath("protoc"); err != nil {
		skipOrFail(t, "no protoc")
	}
	dir := t.TempDir()
	if out, err := exec.Command("bash", "../examples/python-passes/build.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	p, err := Start(filepath.Join(dir, "py-passes"), Config{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Manifest.Name != "py-passes" || len(p.Passes()) != 2 {
		t.Errorf("manifest %v", p.Manifest)
	}
	c, err := p.client.Client()
	if err != nil {
		t.Fatal(err)
	}
	// go-plugin's Ping asks this, and ignores the status.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	health := grpc_health_v1.NewHealthClient(c.(*plugin.GRPCClient).Conn)
	r, err := health.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil || r.Status != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Errorf("health check of %q: %v, %v", plugin.GRPCServiceName, r, err)
	}
	if p.client.Exited() {
		t.Fatal("the plugin exited before Shutdown")
	}
	// Close sends Shutdown (and ignores its answer): the plugin exiting
	// is the sign that it got it.
	c.Close()
	start := time.Now()
	for !p.client.Exited() && time.Since(start) < 5*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	if !p.client.Exited() {
		t.Fatal("the plugin still runs 5 s after Shutdown")
	}
	t.Logf("exited %v after Shutdown", time.Since(start).Round(time.Millisecond))
}

// skipOrFail skips a test that needs what scripts/deps.sh installs, except
// on CI, which installs it.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (scripts/deps.sh installs what is missing)")
	}
	t.Skip(why + " (scripts/deps.sh installs what is missing)")
}
