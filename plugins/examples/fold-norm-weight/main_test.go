package main

import (
	"testing"

	"github.com/deepc-dev/deepc/plugins/sdk/plugintest"
)

func TestPasses(t *testing.T) { plugintest.Run(t, Plugin, "testdata/*.ir") }
