package stage

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/fleetapi/fleetapi/internal/testutil/docblock"
)

var update = flag.Bool("update", false, "rewrite the generated table of docs/stages.md")

// settingsTable is each setting of Config (its doc comment) with its value
// in each stage of cdk.json: the table of docs/stages.md.
func settingsTable(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Context struct {
			Stages map[string]map[string]jsontext.Value `json:"stages"`
		} `json:"context"`
	}
	if err := json.Unmarshal(data, &doc, json.RejectUnknownMembers(false)); err != nil {
		t.Fatal(err)
	}
	fields, err := docblock.Fields(".", "Config")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"dev", "staging", "prod"}
	for name := range doc.Context.Stages {
		if !strings.Contains(strings.Join(names, " "), name) {
			names = append(names, name)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| setting | %s | what it is |\n| --- |%s --- |\n", strings.Join(names, " | "), strings.Repeat(" --- |", len(names)))
	for _, f := range fields {
		var keys []string
		optional := false
		for _, tag := range f.Tags {
			key, opts, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(tag, `json:"`), `"`), ",")
			if key != "-" && key != "" {
				keys = append(keys, key)
				optional = optional || opts == "omitempty"
			}
		}
		if len(keys) == 0 {
			continue
		}
		row := "| `" + strings.Join(keys, "`, `") + "`"
		if optional {
			row += " (optional)"
		}
		row += " |"
		for _, name := range names {
			var cells []string
			for _, key := range keys {
				if v, ok := doc.Context.Stages[name][key]; ok {
					v.Compact()
					cells = append(cells, "`"+string(v)+"`")
				}
			}
			cell := strings.Join(cells, ", ")
			if cell == "" {
				cell = "-"
			}
			row += " " + cell + " |"
		}
		b.WriteString(row + " " + strings.ReplaceAll(f.Doc, "|", `\|`) + " |\n")
	}
	return b.String()
}

// The settings table of docs/stages.md is the doc comments of Config and
// the values of cdk.json now (go test ./internal/app/stage -update rewrites it).
func TestStagesDocIsCurrent(t *testing.T) {
	docblock.Check(t, "../../../docs/stages.md", "<!-- settings: generated from cdk.json and internal/app/stage by its tests -->\n", "<!-- end settings -->\n",
		[]byte(settingsTable(t)), *update, "run go test ./internal/app/stage -update")
}
