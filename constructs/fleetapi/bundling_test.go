package fleetapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeModule writes a one-package module whose main.go is src.
func writeModule(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":             "module example.com/fn\n\ngo 1.26\n",
		"lambdas/fn/main.go": src,
	}
	for name, content := range files {
		writeFile(t, dir, name, content)
	}
	return dir
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGoBuildWritesAnArm64Bootstrap(t *testing.T) {
	dir := writeModule(t, "package main\n\nfunc main() {}\n")
	for name, cacheDir := range map[string]string{"without a cache": "", "through a cache": t.TempDir()} {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			b := &goBuild{moduleDir: dir, pkg: "lambdas/fn", cacheDir: cacheDir}
			if ok := b.TryBundle(&out, nil); !*ok || b.err != nil {
				t.Fatalf("TryBundle = %v, err %v", *ok, b.err)
			}
			data, err := os.ReadFile(filepath.Join(out, "bootstrap"))
			if err != nil {
				t.Fatal(err)
			}
			// An ELF file for machine EM_AARCH64 (183).
			if len(data) < 20 || string(data[1:4]) != "ELF" || data[18] != 183 {
				t.Errorf("bootstrap is not a linux/arm64 ELF executable (header % x)", data[:min(20, len(data))])
			}
		})
	}
}

func TestGoBuildKeepsTheCompilerMessage(t *testing.T) {
	dir := writeModule(t, "package main\n\nfunc main() { undefinedThing() }\n")
	out := t.TempDir()
	b := &goBuild{moduleDir: dir, pkg: "lambdas/fn"}
	b.TryBundle(&out, nil)
	if b.err == nil || !strings.Contains(b.err.Error(), "undefined: undefinedThing") || !strings.Contains(b.err.Error(), "lambdas/fn") {
		t.Fatalf("err = %v, want the compiler's message naming the package", b.err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a failed build left %d files in the bundle", len(entries))
	}
	defer func() {
		if r := recover(); r != b.err {
			t.Errorf("check panicked with %v, want the build error", r)
		}
	}()
	func() {
		defer b.check()
		panic("Bundling did not produce any output")
	}()
}
