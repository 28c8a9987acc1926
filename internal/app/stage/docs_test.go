package stage

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/testutil/docblock"
)

var update = flag.Bool("update", false, "rewrite the generated table of docs/stages.md")

// settingsTable is each setting of a stage with its value in each stage
// of cdk.json and what it is: the construct's settings
// (fleetapi.Settings) by the doc comment of the prop each sets, then the
// stack's own by Config's: the table of docs/stages.md.
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
	props, err := docblock.Fields("../../../constructs/fleetapi", "FleetApiProps")
	if err != nil {
		t.Fatal(err)
	}
	own, err := docblock.Fields(".", "Config")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"dev", "staging", "prod"}
	for name := range doc.Context.Stages {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| setting | %s | what it is |\n| --- |%s --- |\n", strings.Join(names, " | "), strings.Repeat(" --- |", len(names)))
	row := func(key string, optional bool, what string) {
		cell := "`" + key + "`"
		if optional {
			cell += " (optional)"
		}
		b.WriteString("| " + cell + " |")
		for _, name := range names {
			v, ok := doc.Context.Stages[name][key]
			value := "-"
			if ok {
				v.Compact()
				value = "`" + string(v) + "`"
			}
			b.WriteString(" " + value + " |")
		}
		b.WriteString(" " + strings.ReplaceAll(what, "|", `\|`) + " |\n")
	}
	for _, s := range fleetapi.Settings() {
		field := strings.ToUpper(s.Prop[:1]) + s.Prop[1:]
		i := slices.IndexFunc(props, func(f docblock.Field) bool { return slices.Contains(f.Names, field) })
		if i < 0 {
			t.Fatalf("setting %s sets prop %s, which FleetApiProps does not document", s.Key, field)
		}
		row(s.Key, s.Optional, fmt.Sprintf("%s (`%s`; its default: %s)", props[i].Doc, field, strings.TrimSuffix(props[i].Default, ".")))
	}
	for _, f := range own {
		for i, tag := range f.Tags {
			key, opts, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(tag, `json:"`), `"`), ",")
			if key == "" || key == "-" {
				continue
			}
			what := f.Doc
			if len(f.Names) > 1 {
				what = fmt.Sprintf("(%s) %s", f.Names[i], f.Doc)
			}
			row(key, opts == "omitempty", what)
		}
	}
	return b.String()
}

// The settings table of docs/stages.md is the doc comments of the props
// and of Config, and the values of cdk.json, now (go test
// ./internal/app/stage -update rewrites it).
func TestStagesDocIsCurrent(t *testing.T) {
	docblock.Check(t, "../../../docs/stages.md", "<!-- settings: generated from cdk.json, constructs/fleetapi and internal/app/stage by its tests -->\n", "<!-- end settings -->\n",
		[]byte(settingsTable(t)), *update, "run go test ./internal/app/stage -update")
}
