// Package modproxy writes a file-based Go module proxy (GOPROXY=file://DIR)
// that serves the files git tracks in a checkout, as they are in the work
// tree, as one version of the FleetApi module: how another team gets the
// module, without publishing it. Nested modules are left out, as a module
// zip leaves them out.
package modproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

// Module is the path of the module served.
const Module = "github.com/fleetapi/fleetapi"

// Write writes the proxy into dir for the checkout at root and returns the
// version it serves: base (a prerelease version such as v0.1.0-local)
// followed by a hash of the files served. The go command takes a version's
// content as never changing (it never downloads a cached version again,
// and indexes it once), so each content is a version of its own; a
// consumer requiring base is pointed at it with `go mod edit -require`.
func Write(dir, root, base string) (string, error) {
	if !semver.IsValid(base) || semver.Prerelease(base) == "" {
		return "", fmt.Errorf("version %s: the base must be a prerelease version such as v0.1.0-local", base)
	}
	ls, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		return "", fmt.Errorf("list the files of %s with git: %w", root, err)
	}
	var files []modzip.File
	content := sha256.New()
	for _, name := range strings.Split(strings.TrimRight(string(ls), "\x00"), "\x00") {
		if inNestedModule(root, name) {
			continue
		}
		f := file{root: root, name: name}
		if err := hashFile(content, f); errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree
		} else if err != nil {
			return "", err
		}
		files = append(files, f)
	}
	// A letter first: a numeric prerelease identifier may not start with 0.
	version := base + ".h" + hex.EncodeToString(content.Sum(nil)[:6])
	at := filepath.Join(dir, filepath.FromSlash(Module), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return "", err
	}
	zf, err := os.Create(filepath.Join(at, version+".zip"))
	if err != nil {
		return "", err
	}
	if err := modzip.Create(zf, module.Version{Path: Module, Version: version}, files); err != nil {
		zf.Close()
		return "", fmt.Errorf("module zip: %w", err)
	}
	if err := zf.Close(); err != nil {
		return "", err
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	for name, data := range map[string][]byte{
		version + ".mod":  gomod,
		version + ".info": []byte(`{"Version":"` + version + `","Time":"2026-11-26T00:00:00Z"}`),
		"list":            []byte(version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(at, name), data, 0o644); err != nil {
			return "", err
		}
	}
	return version, nil
}

// PruneCache removes from the module cache the versions Write served
// from base, but current, that were downloaded over an hour ago: each
// change of the checkout served is a version, and the module cache is
// never trimmed. (Within the hour another checkout's test may be using
// one.)
func PruneCache(base, current string) error {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return fmt.Errorf("locate the module cache: %w", err)
	}
	cache := strings.TrimSpace(string(out))
	path, err := module.EscapePath(Module)
	if err != nil {
		return err
	}
	download := filepath.Join(cache, "cache", "download", filepath.FromSlash(path), "@v")
	zips, _ := filepath.Glob(filepath.Join(download, base+".h*.zip"))
	for _, zip := range zips {
		version := strings.TrimSuffix(filepath.Base(zip), ".zip")
		info, err := os.Stat(zip)
		if version == current || err != nil || time.Since(info.ModTime()) < time.Hour {
			continue
		}
		stale, _ := filepath.Glob(filepath.Join(download, version+".*"))
		stale = append(stale, filepath.Join(cache, filepath.FromSlash(path)+"@"+version))
		for _, name := range stale {
			// The go command leaves the extracted files read-only.
			filepath.WalkDir(name, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					os.Chmod(p, 0o755)
				}
				return nil
			})
			if err := os.RemoveAll(name); err != nil {
				return fmt.Errorf("prune %s@%s from the module cache: %w", Module, version, err)
			}
		}
	}
	return nil
}

// hashFile adds a file's name and content to h.
func hashFile(h io.Writer, f file) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	fmt.Fprintf(h, "%s\x00", f.name)
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("read %s: %w", f.name, err)
	}
	_, err = h.Write([]byte{0})
	return err
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
