// Package gobuild builds the functions' one binary with the local Go
// toolchain (never Docker) for Lambda's provided.al2023 runtime on arm64:
// the one definition of that build, which synthesis and `make lambdas` share.
package gobuild

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/rogpeppe/go-internal/lockedfile"
)

// Package is the main package of every function but the history writer,
// in the FleetApi module.
const Package = "lambdas/fleetapi"

// HistoryPackage is the history writer's main package: a binary of its
// own, which keeps Parquet and S3 out of the others.
const HistoryPackage = "lambdas/history"

// Env is what the build adds to the environment: Linux on arm64 (Graviton),
// a static binary.
var Env = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}

// Flags are the flags of `go build`: reproducible (no paths, no VCS
// stamp), without the RPC mode the provided runtimes never use, without
// net/http's HTTP/2 (build tag nethttpomithttp2: the functions only call
// DynamoDB and Secrets Manager, whose JSON APIs are served over HTTP/1.1;
// a third of a megabyte less), stripped.
var Flags = []string{"-trimpath", "-buildvcs=false", "-tags", "lambda.norpc,nethttpomithttp2", "-ldflags", "-s -w"}

// Build compiles the package pkg of the module in moduleDir into output,
// the function's bootstrap. The error holds the compiler's message.
func Build(moduleDir, pkg, output string) error {
	if err := goBuild(moduleDir, Env, append(append([]string{}, Flags...), "-o", output, "./"+pkg)...); err != nil {
		return fmt.Errorf("build function %s (GOOS=linux GOARCH=arm64): %w", pkg, err)
	}
	return nil
}

// CacheDir is where BuildCached keeps the functions' binaries between
// builds: a directory of the user's cache ("" when the system names none).
func CacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "fleetapi", "functions")
}

// BuildCached builds as Build does, into a binary kept in cacheDir, and
// copies that to output. go build leaves a binary that is up to date as
// it is, so building again with nothing changed does not link again (the
// link is most of a build's time and memory); a change to anything the
// binary is built from (its packages, go.mod, flags, toolchain) rebuilds
// it: output always holds what Build would write. Each module directory
// and package has a binary of its own, built by one process at a time.
func BuildCached(cacheDir, moduleDir, pkg, output string) error {
	dir, err := cacheEntry(cacheDir, moduleDir, pkg)
	if err != nil {
		return fmt.Errorf("build function %s: %w", pkg, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("build function %s: cache: %w", pkg, err)
	}
	unlock, err := lockedfile.MutexAt(filepath.Join(dir, "lock")).Lock()
	if err != nil {
		return fmt.Errorf("build function %s: lock the cache: %w", pkg, err)
	}
	defer unlock()
	cached := filepath.Join(dir, "bootstrap")
	if err := Build(moduleDir, pkg, cached); err != nil {
		return err
	}
	// go build reads an existing binary's build ID from its start: a copy
	// cut short (a machine stopped while go wrote it) would pass as up to
	// date. Such a binary is removed and built again.
	if err := wholeELF(cached); err != nil {
		if err := os.Remove(cached); err != nil {
			return fmt.Errorf("build function %s: %w", pkg, err)
		}
		if err := Build(moduleDir, pkg, cached); err != nil {
			return err
		}
	}
	if err := copyExecutable(cached, output); err != nil {
		return fmt.Errorf("build function %s: %w", pkg, err)
	}
	// The binary's time is its last use: trimCache keeps what is in use.
	now := time.Now()
	if err := os.Chtimes(cached, now, now); err != nil {
		return fmt.Errorf("build function %s: %w", pkg, err)
	}
	trimCache(cacheDir, now.Add(-CacheUnused))
	return nil
}

// CacheUnused is how long a binary of the cache may go unused before a
// build removes it (a checkout deleted, a module version no longer built),
// as Go's build cache trims what it has not used for five days.
const CacheUnused = 5 * 24 * time.Hour

// trimCache removes the entries of cacheDir last used before cutoff. It
// is best effort: a failure only leaves an entry for the next build.
func trimCache(cacheDir string, cutoff time.Time) {
	entries, _ := os.ReadDir(cacheDir)
	for _, e := range entries {
		dir := filepath.Join(cacheDir, e.Name())
		info, err := os.Stat(filepath.Join(dir, "bootstrap"))
		if err != nil {
			info, err = os.Stat(filepath.Join(dir, "lock")) // never built
		}
		if err == nil && info.ModTime().Before(cutoff) {
			os.RemoveAll(dir)
		}
	}
}

// wholeELF reports an ELF file whose sections do not all lie within it.
func wholeELF(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	for _, sec := range f.Sections {
		if sec.Type != elf.SHT_NOBITS && sec.Offset+sec.FileSize > uint64(info.Size()) {
			return fmt.Errorf("%s: section %s ends at %d, past the end of the file (%d bytes)", path, sec.Name, sec.Offset+sec.FileSize, info.Size())
		}
	}
	return nil
}

// cacheEntry is the directory of the binary of pkg in moduleDir: its lock
// file and the binary.
func cacheEntry(cacheDir, moduleDir, pkg string) (string, error) {
	abs, err := filepath.Abs(moduleDir)
	if err != nil {
		return "", err
	}
	key := sha256.Sum256([]byte(abs + "\x00" + pkg))
	return filepath.Join(cacheDir, hex.EncodeToString(key[:8])), nil
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// BuildHere builds pkg as Build does, but for this machine: to run it
// under the Lambda runtime interface emulator in tests and benchmarks.
func BuildHere(moduleDir, pkg, output string) error {
	if err := goBuild(moduleDir, []string{"CGO_ENABLED=0"}, append(append([]string{}, Flags...), "-o", output, "./"+pkg)...); err != nil {
		return fmt.Errorf("build %s for this machine: %w", pkg, err)
	}
	return nil
}

// Emulator is the Lambda runtime interface emulator's command, pinned in
// the tools module (tools/go.mod).
const Emulator = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// BuildEmulator builds the emulator from the tools module in toolsDir.
func BuildEmulator(toolsDir, output string) error {
	if err := goBuild(toolsDir, nil, "-o", output, Emulator); err != nil {
		return fmt.Errorf("build the runtime interface emulator: %w", err)
	}
	return nil
}

func goBuild(dir string, env []string, args ...string) error {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}
