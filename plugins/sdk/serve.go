package sdk

import (
	"context"
	"fmt"
	"os"

	"github.com/deepc-dev/deepc/plugins"
	"github.com/deepc-dev/deepc/plugins/pluginpb"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Serve runs the plugin until deepc closes it. Run by hand (without the
// handshake deepc sets up), it explains that and exits with status 1.
func Serve(p Plugin) {
	if os.Getenv(plugins.Handshake.MagicCookieKey) != plugins.Handshake.MagicCookieValue {
		fmt.Fprintf(os.Stderr, "%s is a deepc pass plugin (%s %s): deepc starts it, e.g. deepc compile MODEL --plugin %s; deepc plugins inspect %s lists its passes\n", os.Args[0], p.Name, p.Version, os.Args[0], os.Args[0])
		os.Exit(1)
	}
	if err := p.Check(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugins.Handshake,
		Plugins:         plugins.PluginSet(&server{p: p}),
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}

// server is the PassPlugin service over a Plugin.
type server struct {
	pluginpb.UnimplementedPassPluginServer
	p Plugin
}

func (s *server) Manifest(context.Context, *pluginpb.ManifestRequest) (*pluginpb.PluginManifest, error) {
	return ManifestOf(s.p), nil
}

// RunPass answers in the form the module came in.
func (s *server) RunPass(_ context.Context, r *pluginpb.RunPassRequest) (*pluginpb.RunPassResponse, error) {
	resp := &pluginpb.RunPassResponse{}
	var err error
	if len(r.ModuleBinary) > 0 {
		resp.ModuleBinary, resp.Changed, resp.Output, err = s.p.ApplyBinary(r.Pass, r.ModuleBinary, r.Options)
	} else {
		resp.Module, resp.Changed, resp.Output, err = s.p.Apply(r.Pass, r.Module, r.Options)
	}
	if err != nil {
		if resp.Output != "" {
			err = fmt.Errorf("%w\n%s", err, resp.Output)
		}
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return resp, nil
}

// ManifestOf is the manifest a plugin sends.
func ManifestOf(p Plugin) *pluginpb.PluginManifest {
	m := &pluginpb.PluginManifest{Name: p.Name, Version: p.Version, ApiVersion: plugins.APIVersion, BinaryModule: true}
	for _, ps := range p.Passes {
		info := &pluginpb.PassInfo{Name: ps.Name, Description: ps.Description, Anchor: ps.Anchor}
		for _, o := range ps.Options {
			info.Options = append(info.Options, &pluginpb.OptionInfo{Name: o.Name, Description: o.Description, Default: o.Default, Type: string(o.Type), Values: o.Values})
		}
		m.Passes = append(m.Passes, info)
	}
	return m
}
