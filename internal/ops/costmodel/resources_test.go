package costmodel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every resource type of every stage's template, as synthesized and
// committed in test/testdata, is priced or listed as free: a template that
// gains a type fails here until the cost model knows it.
func TestEveryResourceTypeIsKnown(t *testing.T) {
	files, err := filepath.Glob("../../../test/testdata/FleetApi-*.template.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no stage templates found: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := UnknownTypes(b); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
		counts, _ := ResourceTypes(b)
		for _, priced := range []string{"AWS::DynamoDB::Table", "AWS::Lambda::Function", "AWS::ApiGateway::RestApi"} {
			if counts[priced] == 0 {
				t.Errorf("%s has no %s: not a FleetApi stack", filepath.Base(f), priced)
			}
		}
	}
}

func TestUnknownTypesNamesThem(t *testing.T) {
	tmpl := `{"Resources":{"B":{"Type":"AWS::EFS::FileSystem"},"Q":{"Type":"AWS::Kinesis::Stream"},"R":{"Type":"AWS::IAM::Role"}}}`
	err := UnknownTypes([]byte(tmpl))
	if err == nil || !strings.Contains(err.Error(), "AWS::EFS::FileSystem, AWS::Kinesis::Stream") || strings.Contains(err.Error(), "IAM") {
		t.Errorf("UnknownTypes = %v, want both unknown types named, and only them", err)
	}
	if b, err := BillingOf("AWS::IAM::Role"); err != nil || !b.Free() {
		t.Errorf("IAM role: %+v %v, want free", b, err)
	}
	if b, err := BillingOf("AWS::DynamoDB::Table"); err != nil || b.Free() {
		t.Errorf("table: %+v %v, want priced", b, err)
	}
}

func TestResourceTypesRefusesWhatIsNotATemplate(t *testing.T) {
	for name, in := range map[string]string{
		"not JSON":     `Resources:`,
		"no resources": `{"Resources":{}}`,
		"no type":      `{"Resources":{"X":{"Properties":{}}}}`,
	} {
		if _, err := ResourceTypes([]byte(in)); err == nil || !strings.Contains(err.Error(), "read template") {
			t.Errorf("%s: %v, want a read template error", name, err)
		}
	}
}
