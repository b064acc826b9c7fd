// Command wrongapi is a test fixture: a plugin built for a future deepc
// plugin API (version 99).
package main

import (
	"context"

	"github.com/deepc-dev/deepc/plugins"
	"github.com/deepc-dev/deepc/plugins/pluginpb"
	"github.com/hashicorp/go-plugin"
)

type server struct {
	pluginpb.UnimplementedPassPluginServer
}

func (server) Manifest(context.Context, *pluginpb.ManifestRequest) (*pluginpb.PluginManifest, error) {
	return &pluginpb.PluginManifest{Name: "wrongapi", Version: "9.9.9", ApiVersion: 99}, nil
}

func main() {
	hs := plugins.Handshake
	hs.ProtocolVersion = 99
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: hs,
		Plugins:         plugins.PluginSet(server{}),
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
