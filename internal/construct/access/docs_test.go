package access

import (
	"flag"
	"testing"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/testutil/docblock"
)

var update = flag.Bool("update", false, "rewrite the generated table of docs/security.md")

// The table of docs/security.md, between its markers, is what the spec
// says now (go test ./internal/construct/access -update rewrites it).
func TestSecurityDocIsCurrent(t *testing.T) {
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	docblock.Check(t, "../../../docs/security.md", "<!-- callers: generated from api/swagger.yaml by internal/construct/access -->\n", "<!-- end callers -->\n",
		[]byte(Matrix(spec)), *update, "run go test ./internal/construct/access -update")
}
