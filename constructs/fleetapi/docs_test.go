package fleetapi_test

import (
	"flag"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/testutil/docblock"
)

var update = flag.Bool("update", false, "rewrite the generated tables of docs/construct.md")

// The props, thresholds and objectives tables of docs/construct.md are
// the doc comments of FleetApiProps, AlarmThresholds and
// ServiceLevelObjective now.
func TestConstructDocIsCurrent(t *testing.T) {
	for _, tt := range []struct{ typ, block string }{{"FleetApiProps", "props"}, {"AlarmThresholds", "thresholds"}, {"ServiceLevelObjective", "objectives"}} {
		fields, err := docblock.Fields(".", tt.typ)
		if err != nil {
			t.Fatal(err)
		}
		docblock.Check(t, "../../docs/construct.md", "<!-- "+tt.block+": generated from constructs/fleetapi by its tests -->\n", "<!-- end "+tt.block+" -->\n",
			[]byte(docblock.Table("prop", fields)), *update, "run go test ./constructs/fleetapi -run TestConstructDocIsCurrent -update")
	}
}

// Each threshold's and each objective's documented default is the one the
// construct applies (DefaultAlarmThresholds, DefaultServiceLevelObjective),
// and every field documents one.
func TestDefaultsAreDocumented(t *testing.T) {
	for typ, defaults := range map[string]any{
		"AlarmThresholds":       fleetapi.DefaultAlarmThresholds(),
		"ServiceLevelObjective": fleetapi.DefaultServiceLevelObjective(),
	} {
		fields, err := docblock.Fields(".", typ)
		if err != nil {
			t.Fatal(err)
		}
		d := reflect.ValueOf(defaults)
		if len(fields) != d.NumField() {
			t.Fatalf("%d documented fields, %s has %d", len(fields), typ, d.NumField())
		}
		for _, f := range fields {
			for _, name := range f.Names {
				v := d.FieldByName(name)
				var applied string
				switch x := v.Interface().(type) {
				case *float64:
					applied = strconv.FormatFloat(*x, 'f', -1, 64)
				default: // Period, an awscdk.Duration
					applied = "awscdk.Duration_Minutes(jsii.Number(" + fmt.Sprint(*v.MethodByName("ToMinutes").Call([]reflect.Value{reflect.Zero(v.MethodByName("ToMinutes").Type().In(0))})[0].Interface().(*float64)) + "))"
				}
				if documented := strings.TrimSuffix(f.Default, "."); documented != applied {
					t.Errorf("%s.%s: documented default %q, applied %s", typ, name, f.Default, applied)
				}
			}
		}
	}
}
