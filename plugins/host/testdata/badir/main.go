// Command badir is a test fixture: a plugin written against the raw
// protocol (no SDK checks) whose passes return text that is not IR
// (garbage-ir) and IR that parses but does not verify (unverified-ir).
package main

import (
	"context"
	"strings"

	"github.com/deepc-dev/deepc/plugins"
	"github.com/deepc-dev/deepc/plugins/pluginpb"
	"github.com/hashicorp/go-plugin"
)

type server struct {
	pluginpb.UnimplementedPassPluginServer
}

func (server) Manifest(context.Context, *pluginpb.ManifestRequest) (*pluginpb.PluginManifest, error) {
	return &pluginpb.PluginManifest{Name: "badir", Version: "0.0.1", ApiVersion: plugins.APIVersion, Passes: []*pluginpb.PassInfo{
		{Name: "garbage-ir", Description: "returns text that is not IR"},
		{Name: "unverified-ir", Description: "returns IR whose types are wrong"},
	}}, nil
}

func (server) RunPass(_ context.Context, r *pluginpb.RunPassRequest) (*pluginpb.RunPassResponse, error) {
	if r.Pass == "garbage-ir" {
		return &pluginpb.RunPassResponse{Module: "this is { not IR", Changed: true}, nil
	}
	// Every linear becomes a matmul: it parses, but the operand shapes do
	// not fit a matmul.
	return &pluginpb.RunPassResponse{Module: strings.ReplaceAll(r.Module, "= linear ", "= matmul "), Changed: true}, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugins.Handshake,
		Plugins:         plugins.PluginSet(server{}),
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
