// Package modproxy writes a file-based Go module proxy (GOPROXY=file://DIR)
// that serves the files git tracks in a checkout, as they are in the work
// tree, as one version of the FleetApi module: how another team gets the
// module, without publishing it. Nested modules are left out, as a module
// zip leaves them out.
package modproxy

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// Module is the path of the module served.
const Module = "github.com/fleetapi/fleetapi"

// Write writes the proxy into dir for the checkout at root, serving version.
func Write(dir, root, version string) error {
	ls, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		return fmt.Errorf("list the files of %s with git: %w", root, err)
	}
	var files []modzip.File
	for _, name := range strings.Split(strings.TrimRight(string(ls), "\x00"), "\x00") {
		if inNestedModule(root, name) {
			continue
		}
		if _, err := os.Lstat(filepath.Join(root, name)); err != nil {
			continue // deleted in the work tree
		}
		files = append(files, file{root: root, name: name})
	}
	at := filepath.Join(dir, filepath.FromSlash(Module), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return err
	}
	zf, err := os.Create(filepath.Join(at, version+".zip"))
	if err != nil {
		return err
	}
	if err := modzip.Create(zf, module.Version{Path: Module, Version: version}, files); err != nil {
		zf.Close()
		return fmt.Errorf("module zip: %w", err)
	}
	if err := zf.Close(); err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		version + ".mod":  gomod,
		version + ".info": []byte(`{"Version":"` + version + `","Time":"2026-11-26T00:00:00Z"}`),
		"list":            []byte(version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// inNestedModule reports whether a file lies in a directory, below root,
// that holds a go.mod of its own.
func inNestedModule(root, name string) bool {
	for dir := filepath.Dir(name); dir != "." && dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(root, dir, "go.mod")); err == nil {
			return true
		}
	}
	return false
}

// file is a file of the work tree, for modzip.Create.
type file struct{ root, name string }

func (f file) Path() string                 { return f.name }
func (f file) Lstat() (os.FileInfo, error)  { return os.Lstat(filepath.Join(f.root, f.name)) }
func (f file) Open() (io.ReadCloser, error) { return os.Open(filepath.Join(f.root, f.name)) }
