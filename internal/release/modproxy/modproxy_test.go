package modproxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// checkout makes a git work tree whose tracked files are files.
func checkout(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// The version follows the files served: the same files, the same version;
// a changed file, another.
func TestWriteNamesTheVersionAfterTheFiles(t *testing.T) {
	root := checkout(t, map[string]string{"go.mod": "module " + Module + "\n", "a.go": "package a\n"})
	first, err := Write(t.TempDir(), root, "v0.1.0-local")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, "v0.1.0-local.h") {
		t.Errorf("version %s does not extend the base", first)
	}
	again, err := Write(t.TempDir(), root, "v0.1.0-local")
	if err != nil || again != first {
		t.Errorf("the same files: version %s (%v), want %s", again, err, first)
	}
	if err := os.WriteFile(filepath.Join(root, "a.go"), []byte("package a // changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy := t.TempDir()
	changed, err := Write(proxy, root, "v0.1.0-local")
	if err != nil || changed == first {
		t.Errorf("a changed file: version %s (%v), want another than %s", changed, err, first)
	}
	if _, err := os.Stat(filepath.Join(proxy, Module, "@v", changed+".zip")); err != nil {
		t.Errorf("the proxy does not serve %s: %v", changed, err)
	}
	if _, err := Write(t.TempDir(), root, "v0.1.0"); err == nil || !strings.Contains(err.Error(), "prerelease") {
		t.Errorf("a release base: err %v, want one asking for a prerelease version", err)
	}
}

// PruneCache removes the served versions downloaded over an hour ago but
// the current one, read-only as the go command leaves them, and nothing
// else.
func TestPruneCacheRemovesOldServedVersions(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("GOMODCACHE", cache)
	download := filepath.Join(cache, "cache", "download", Module, "@v")
	extracted := func(v string) string { return filepath.Join(cache, Module+"@"+v) }
	versions := map[string]bool{ // kept?
		"v0.1.0-local.haaa": false, // old
		"v0.1.0-local.hbbb": true,  // old, but current
		"v0.1.0-local.hccc": true,  // recent
		"v0.2.0":            true,  // not served from the base
	}
	old := time.Now().Add(-2 * time.Hour)
	t.Cleanup(func() { // let the temporary directory go, as a user who is not root
		for v := range versions {
			os.Chmod(extracted(v), 0o755)
		}
	})
	for v := range versions {
		for _, f := range []string{filepath.Join(download, v+".zip"), filepath.Join(download, v+".mod"), filepath.Join(extracted(v), "go.mod")} {
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f, []byte("x"), 0o444); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(extracted(v), 0o555); err != nil {
			t.Fatal(err)
		}
		if v != "v0.1.0-local.hccc" {
			if err := os.Chtimes(filepath.Join(download, v+".zip"), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := PruneCache("v0.1.0-local", "v0.1.0-local.hbbb"); err != nil {
		t.Fatal(err)
	}
	for v, want := range versions {
		for _, f := range []string{filepath.Join(download, v+".zip"), filepath.Join(download, v+".mod"), extracted(v)} {
			if _, err := os.Stat(f); (err == nil) != want {
				t.Errorf("%s kept = %v, want %v", f, err == nil, want)
			}
		}
	}
}
