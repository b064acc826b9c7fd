package plugins

import (
	"context"

	"github.com/deepc-dev/deepc/plugins/pluginpb"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// APIVersion is the version of the PassPlugin protocol this deepc speaks:
// go-plugin's APP-PROTOCOL-VERSION in the handshake line, and the
// api_version of the manifest. Raise it on any incompatible change.
const APIVersion = 1

// Handshake is the go-plugin handshake. The magic cookie is an environment
// variable deepc sets for the plugin; a plugin binary run by hand sees it
// missing and says it must be started by deepc.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  APIVersion,
	MagicCookieKey:   "DEEPC_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "a3f1c2d4-deepc-pass-plugin",
}

// Key is the name under which plugins serve the PassPlugin service.
const Key = "passes"

// GRPC is the go-plugin Plugin for the PassPlugin service: the plugin side
// sets Impl; the host side leaves it nil and dispenses a client.
type GRPC struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pluginpb.PassPluginServer
}

func (p *GRPC) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterPassPluginServer(s, p.Impl)
	return nil
}

func (p *GRPC) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pluginpb.NewPassPluginClient(c), nil
}

// PluginSet is the plugin map of both sides.
func PluginSet(server pluginpb.PassPluginServer) plugin.PluginSet {
	return plugin.PluginSet{Key: &GRPC{Impl: server}}
}
