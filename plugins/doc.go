// Package plugins holds what a deepc pass plugin and its host share: the
// go-plugin handshake (with the API version) and the gRPC glue for the
// PassPlugin service of plugins/proto. The host is plugins/host, the
// plugin side plugins/sdk; docs/plugins.md describes the protocol for
// plugins written in other languages. docs/design.md §5.
package plugins
