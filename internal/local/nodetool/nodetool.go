// Package nodetool finds what the local emulators run with Node.js: the
// module's root, where package.json installed the pinned tools, and the
// pinned Node.js.
package nodetool

import (
	"errors"
	"os"
	"path/filepath"
)

// ModuleRoot finds the directory of go.mod above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from the FleetApi checkout")
		}
		dir = parent
	}
}

// Node is the Node.js that package.json pins, installed below root, else
// the machine's.
func Node(root string) string {
	node := filepath.Join(root, "node_modules", ".bin", "node")
	if _, err := os.Stat(node); err != nil {
		return "node"
	}
	return node
}
