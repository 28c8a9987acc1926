package layout_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// maxTrackedBytes bounds a tracked file: anything larger is build output
// or data that belongs elsewhere.
const maxTrackedBytes = 1 << 20

// largeAllowed are the tracked files that may exceed maxTrackedBytes: the
// generated client (oapi-codegen's output, reviewed with the spec).
var largeAllowed = map[string]bool{"client/generated.go": true}

// trackedFile is a file as git tracks it.
type trackedFile struct {
	path string
	mode string // git's mode: 100644, 100755, 120000
	head []byte // its first bytes
	size int64
}

// executableMagic are the first bytes of the executables Go builds: ELF
// (Linux), Mach-O (macOS, both byte orders, and universal), PE (Windows).
var executableMagic = [][]byte{
	[]byte("\x7fELF"),
	{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe}, {0xca, 0xfe, 0xba, 0xbe},
	[]byte("MZ"),
}

// buildOutput says why a tracked file is build output ("" when it is not):
// a compiled executable, an executable file that is not a script, or a
// file over maxTrackedBytes.
func buildOutput(f trackedFile) string {
	for _, magic := range executableMagic {
		if bytes.HasPrefix(f.head, magic) {
			return "a compiled executable"
		}
	}
	if f.mode == "100755" && !bytes.HasPrefix(f.head, []byte("#!")) {
		return "executable but not a script (#!)"
	}
	if f.size > maxTrackedBytes && !largeAllowed[f.path] {
		return fmt.Sprintf("%d bytes, over %d", f.size, maxTrackedBytes)
	}
	return ""
}

// trackedFiles lists the files git tracks in the module's root.
func trackedFiles(t *testing.T, root string) []trackedFile {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-s", "-z")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("not a git checkout (git ls-files: %v)", err)
	}
	var files []trackedFile
	for entry := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		// "MODE OBJECT STAGE\tPATH"
		meta, p, ok := strings.Cut(entry, "\t")
		if !ok {
			t.Fatalf("git ls-files: unexpected entry %q", entry)
		}
		f := trackedFile{path: p, mode: strings.Fields(meta)[0]}
		fh, err := os.Open(filepath.Join(root, p))
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		info, err := fh.Stat()
		if err != nil {
			t.Fatal(err)
		}
		f.size = info.Size()
		f.head = make([]byte, 4)
		n, _ := fh.Read(f.head)
		f.head = f.head[:n]
		fh.Close()
		files = append(files, f)
	}
	return files
}

// No build output is in git: no compiled program, no executable that is
// not a script, nothing over 1 MB but the generated client.
func TestNoBuildOutputIsTracked(t *testing.T) {
	files := trackedFiles(t, "../..")
	if len(files) < 100 {
		t.Fatalf("git tracks %d files: the listing is wrong", len(files))
	}
	for _, f := range files {
		if why := buildOutput(f); why != "" {
			t.Errorf("%s is tracked: %s; remove it (git rm --cached) and let .gitignore keep it out", f.path, why)
		}
	}
}

// The check refuses what a build writes and lets sources and scripts
// through.
func TestBuildOutputCheckFindsBinaries(t *testing.T) {
	for _, tt := range []struct {
		f       trackedFile
		refused bool
	}{
		{trackedFile{path: "localapi", mode: "100755", head: []byte("\x7fELF"), size: 20 << 20}, true},
		{trackedFile{path: "tool.exe", mode: "100644", head: []byte("MZ\x90\x00"), size: 3 << 20}, true},
		{trackedFile{path: "tool", mode: "100644", head: []byte{0xcf, 0xfa, 0xed, 0xfe}, size: 2048}, true},
		{trackedFile{path: "data.bin", mode: "100755", head: []byte{0, 1, 2, 3}, size: 10}, true},
		{trackedFile{path: "dump.json", mode: "100644", head: []byte("{\n  "), size: 2 << 20}, true},
		{trackedFile{path: ".ci/run", mode: "100755", head: []byte("#!/u"), size: 4000}, false},
		{trackedFile{path: "client/generated.go", mode: "100644", head: []byte("// P"), size: 2 << 20}, false},
		{trackedFile{path: "cdk.go", mode: "100644", head: []byte("// C"), size: 900}, false},
	} {
		if got := buildOutput(tt.f) != ""; got != tt.refused {
			t.Errorf("%s: refused %v, want %v (%q)", tt.f.path, got, tt.refused, buildOutput(tt.f))
		}
	}
}

// What `go build` writes at the root is ignored: the app's binary and
// each command's, named after its directory (unless a directory of the
// same name stands there, where go build refuses to write).
func TestRootBuildOutputIsIgnored(t *testing.T) {
	mains := goList(t, "-f", "{{if eq .Name \"main\"}}{{.ImportPath}}{{end}}", "./...")
	mod := module(t)
	if len(mains) < 3 {
		t.Fatalf("go list found %d main packages", len(mains))
	}
	for _, pkg := range mains {
		name := path.Base(pkg)
		if pkg == mod {
			name = path.Base(mod)
		}
		if info, err := os.Stat(filepath.Join("../..", name)); err == nil && info.IsDir() {
			continue
		}
		cmd := exec.Command("git", "check-ignore", "-q", "--no-index", name)
		cmd.Dir = "../.."
		if err := cmd.Run(); err != nil {
			t.Errorf("go build %s writes %s at the root, which .gitignore does not ignore", pkg, name)
		}
	}
}
