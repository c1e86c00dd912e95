//go:build tools

// Package tools pins the Delve version kdbg bundles (see docs/delve-engine.md).
package tools

import _ "github.com/go-delve/delve/cmd/dlv"
