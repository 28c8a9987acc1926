// Package docblock holds a generated block of a document, between two
// marker lines, to what generates it: for tests that keep the docs true.
package docblock

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// Check fails t when the block of the file at path between the lines
// begin and end (each with its newline) is not want; with update it
// rewrites the block instead. howTo says how to regenerate it.
func Check(t testing.TB, path, begin, end string, want []byte, update bool, howTo string) {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(doc, []byte(begin)), bytes.Index(doc, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("%s: no block between %q and %q", path, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	if bytes.Equal(doc[i+len(begin):j], want) {
		return
	}
	if !update {
		t.Errorf("%s: its generated block is not what it is generated from now: %s", path, howTo)
		return
	}
	updated := append(append(append([]byte{}, doc[:i+len(begin)]...), want...), doc[j:]...)
	if err := os.WriteFile(path, updated, 0o644); err != nil {
		t.Fatal(err)
	}
}
