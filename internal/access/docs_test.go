package access

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/fleetapi/fleetapi/api"
)

var update = flag.Bool("update", false, "rewrite the generated table of docs/security.md")

// The table of docs/security.md, between its markers, is what the spec
// says now (go test ./internal/access -update rewrites it).
func TestSecurityDocIsCurrent(t *testing.T) {
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/security.md"
	const begin, end = "<!-- callers: generated from api/swagger.yaml by internal/access -->\n", "<!-- end callers -->\n"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no generated table between %q and %q", path, begin, end)
	}
	want := doc[:i+len(begin)] + Matrix(spec) + doc[j:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if doc != want {
		t.Errorf("%s: the table of callers is not what api/swagger.yaml says: run go test ./internal/access -update", path)
	}
}
