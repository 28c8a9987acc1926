package docblock

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFields(t *testing.T) {
	dir := t.TempDir()
	src := `package p

type Props struct {
	// How long it waits,
	// in seconds.
	// Default: 10.
	Wait *float64
	// The least and the most, each.
	// Default: - none.
	Min  *float64
	Max  *float64

	// Named is "a|b".
	Named string ` + "`json:\"named\"`" + `
	hidden int
}
`
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	fields, err := Fields(dir, "Props")
	if err != nil {
		t.Fatal(err)
	}
	got := Table("prop", fields)
	want := "| prop | type | default | what it is |\n| --- | --- | --- | --- |\n" +
		"| `Wait` | `*float64` | 10. | How long it waits, in seconds. |\n" +
		"| `Min`, `Max` | `*float64` | none. | The least and the most, each. |\n" +
		"| `Named` | `string` | required | Named is \"a\\|b\". |\n"
	if got != want {
		t.Errorf("Table:\n%s\nwant\n%s", got, want)
	}
	if len(fields[2].Tags) != 1 || fields[2].Tags[0] != `json:"named"` || len(fields[1].Tags) != 2 {
		t.Errorf("tags %q, %q", fields[1].Tags, fields[2].Tags)
	}
	if _, err := Fields(dir, "Nope"); err == nil {
		t.Error("Fields of a missing type: no error")
	}
}
