package test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fleetapi/fleetapi/internal/app/fleetstack"
	"github.com/fleetapi/fleetapi/internal/release/snapshot"
)

// goldenPath is where a stage's reviewed template lives; `make diff` reads it too.
func goldenPath(stageName string) string {
	return filepath.Join("testdata", fleetstack.StackName(stageName)+".template.json")
}

// TestSnapshots compares each stage's whole template, asset hashes masked,
// with its golden file. Run with -update (or UPDATE_SNAPSHOTS=1) to rewrite
// the goldens, then review the diff before committing it.
func TestSnapshots(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		got, err := snapshot.Mask(s.template)
		if err != nil {
			t.Fatal(err)
		}
		path := goldenPath(stageName)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		want, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("no snapshot %s: run `make snapshots` and review it", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(got) == string(want) {
			return
		}
		var gotDoc, wantDoc any
		if err := json.Unmarshal(got, &gotDoc); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &wantDoc); err != nil {
			t.Fatalf("golden %s is not JSON: %v", path, err)
		}
		t.Errorf("template of stage %s differs from %s (-golden +synthesized):\n%s\nIf the change is meant, run `make snapshots` and review the diff.",
			stageName, path, cmp.Diff(wantDoc, gotDoc))
	})
}
