package gobuild

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/lockedfile"
)

const pkg = "lambdas/fn"

// module writes a module of one main package, pkg, whose main.go is src.
func module(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/fn\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	setSource(t, dir, src)
	return dir
}

func setSource(t *testing.T, dir, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, pkg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, pkg, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mainPrinting(s string) string {
	return "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"" + s + "\") }\n"
}

// buildCached runs BuildCached into a new file and returns its bytes.
func buildCached(t *testing.T, cacheDir, moduleDir string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	if err := BuildCached(cacheDir, moduleDir, pkg, out); err != nil {
		t.Fatal(err)
	}
	return readExecutable(t, out)
}

func readExecutable(t *testing.T, path string) []byte {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s is not executable (%v)", path, info.Mode())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestBuildCachedWritesWhatBuildWrites(t *testing.T) {
	dir := module(t, mainPrinting("a"))
	cache := t.TempDir()
	fresh := filepath.Join(t.TempDir(), "bootstrap")
	if err := Build(dir, pkg, fresh); err != nil {
		t.Fatal(err)
	}
	want := readExecutable(t, fresh)
	for i := range 2 { // the second from the cache
		if got := buildCached(t, cache, dir); !bytes.Equal(got, want) {
			t.Fatalf("build %d: BuildCached wrote %d bytes that differ from Build's %d", i+1, len(got), len(want))
		}
	}
}

// The binary follows the source: a change rebuilds it, a change back gives
// the first binary again, and another module's binary is its own.
func TestBuildCachedFollowsTheSource(t *testing.T) {
	cache := t.TempDir()
	dir := module(t, mainPrinting("a"))
	a := buildCached(t, cache, dir)
	setSource(t, dir, mainPrinting("b"))
	b := buildCached(t, cache, dir)
	if bytes.Equal(a, b) {
		t.Fatal("the binary did not change with its source")
	}
	if !bytes.Contains(b, []byte("b")) {
		t.Fatal("the binary of the changed source does not hold its string")
	}
	setSource(t, dir, mainPrinting("a"))
	if again := buildCached(t, cache, dir); !bytes.Equal(again, a) {
		t.Error("the source changed back, the binary did not")
	}
	other := module(t, mainPrinting("b"))
	if got := buildCached(t, cache, other); !bytes.Equal(got, b) {
		t.Error("another module with the second source did not build the second binary")
	}
	if again := buildCached(t, cache, dir); !bytes.Equal(again, a) {
		t.Error("building another module changed this module's binary")
	}
}

// A cached binary cut short, which go build takes as up to date, is
// built again.
func TestBuildCachedRebuildsACutBinary(t *testing.T) {
	cache := t.TempDir()
	dir := module(t, mainPrinting("a"))
	want := buildCached(t, cache, dir)
	entry, err := cacheEntry(cache, dir, pkg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(entry, "bootstrap"), int64(len(want)/2)); err != nil {
		t.Fatal(err)
	}
	if got := buildCached(t, cache, dir); !bytes.Equal(got, want) {
		t.Errorf("after the cached binary was cut to half: %d bytes that differ from the %d built before", len(got), len(want))
	}
}

// A failed build leaves no output: never the binary of the source before.
func TestBuildCachedFailureWritesNothing(t *testing.T) {
	cache := t.TempDir()
	dir := module(t, mainPrinting("a"))
	buildCached(t, cache, dir)
	setSource(t, dir, "package main\n\nfunc main() { undefinedThing() }\n")
	out := filepath.Join(t.TempDir(), "bootstrap")
	err := BuildCached(cache, dir, pkg, out)
	if err == nil || !strings.Contains(err.Error(), "undefined: undefinedThing") {
		t.Fatalf("err = %v, want the compiler's message", err)
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Errorf("a failed build wrote %s (stat: %v)", out, statErr)
	}
}

// Test packages synthesize at the same time: concurrent builds of one
// module take turns and each gets the whole binary.
func TestBuildCachedConcurrently(t *testing.T) {
	cache := t.TempDir()
	dir := module(t, mainPrinting("a"))
	fresh := filepath.Join(t.TempDir(), "bootstrap")
	if err := Build(dir, pkg, fresh); err != nil {
		t.Fatal(err)
	}
	want := readExecutable(t, fresh)
	var wg sync.WaitGroup
	outs := make([]string, 4)
	errs := make([]error, len(outs))
	for i := range outs {
		outs[i] = filepath.Join(t.TempDir(), "bootstrap")
		wg.Go(func() { errs[i] = BuildCached(cache, dir, pkg, outs[i]) })
	}
	wg.Wait()
	for i, out := range outs {
		if errs[i] != nil {
			t.Fatalf("build %d: %v", i, errs[i])
		}
		if got := readExecutable(t, out); !bytes.Equal(got, want) {
			t.Errorf("build %d wrote %d bytes that differ from Build's %d", i, len(got), len(want))
		}
	}
}

// A build waits for the one holding the module's binary to finish.
func TestBuildCachedWaitsForTheLock(t *testing.T) {
	cache := t.TempDir()
	dir := module(t, mainPrinting("a"))
	buildCached(t, cache, dir)
	entry, err := cacheEntry(cache, dir, pkg)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := lockedfile.MutexAt(filepath.Join(entry, "lock")).Lock()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- BuildCached(cache, dir, pkg, filepath.Join(t.TempDir(), "bootstrap")) }()
	select {
	case err := <-done:
		t.Fatalf("BuildCached returned (%v) while another held the lock", err)
	case <-time.After(time.Second): // an up-to-date build takes a tenth of that
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A build removes the binaries no build has used for CacheUnused, and
// keeps the others.
func TestBuildCachedTrimsUnusedBinaries(t *testing.T) {
	cache := t.TempDir()
	used, unused, failed := module(t, mainPrinting("a")), module(t, mainPrinting("b")), module(t, "package main\n")
	buildCached(t, cache, unused)
	if err := BuildCached(cache, failed, pkg, filepath.Join(t.TempDir(), "bootstrap")); err == nil {
		t.Fatal("a package without func main built")
	}
	old := time.Now().Add(-CacheUnused - time.Hour)
	recent := time.Now().Add(-CacheUnused + time.Hour)
	entries := map[string]string{}
	for name, dir := range map[string]string{"unused": unused, "failed": failed, "used": used} {
		entry, err := cacheEntry(cache, dir, pkg)
		if err != nil {
			t.Fatal(err)
		}
		entries[name] = entry
	}
	for _, file := range []string{filepath.Join(entries["unused"], "bootstrap"), filepath.Join(entries["failed"], "lock")} {
		if err := os.Chtimes(file, old, old); err != nil {
			t.Fatal(err)
		}
	}
	buildCached(t, cache, used)
	kept := func(name string, want bool) {
		t.Helper()
		if _, err := os.Stat(entries[name]); (err == nil) != want {
			t.Errorf("entry of the %s module kept = %v, want %v", name, err == nil, want)
		}
	}
	kept("unused", false)
	kept("failed", false)
	kept("used", true)
	// Used a while ago, but within CacheUnused: kept.
	if err := os.Chtimes(filepath.Join(entries["used"], "bootstrap"), recent, recent); err != nil {
		t.Fatal(err)
	}
	buildCached(t, cache, unused)
	kept("used", true)
	kept("unused", true)
}

func TestCacheDirIsInTheUsersCache(t *testing.T) {
	if got := CacheDir(); !strings.HasSuffix(got, filepath.Join("", "fleetapi", "functions")) {
		t.Errorf("CacheDir() = %q, want a directory fleetapi/functions", got)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	if got := CacheDir(); got != "" {
		t.Errorf("CacheDir() without a home = %q, want none (the construct then builds without the cache)", got)
	}
}
