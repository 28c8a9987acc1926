package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const prod = "../../test/testdata/FleetApi-prod.template.json"

func TestRunFormats(t *testing.T) {
	for _, format := range []string{"table", "markdown", "json"} {
		var out bytes.Buffer
		if err := run([]string{"-template", prod, "-prices", "../../cost/prices-us-east-1.yaml", "-format", format}, &out); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		for _, want := range []string{"10,000", "1,048.05"} {
			if format != "json" && !strings.Contains(out.String(), want) {
				t.Errorf("%s output lacks %q", format, want)
			}
		}
		if format == "json" {
			var r struct {
				Estimates []struct{ Vehicles int }
				WhatIfs   []struct{ Change string }
			}
			if err := json.Unmarshal(out.Bytes(), &r); err != nil || len(r.Estimates) != 4 || len(r.WhatIfs) == 0 {
				t.Errorf("json: %v, %+v", err, r)
			}
		}
	}
}

// Each input that is missing or malformed is named in the error.
func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "usage.yaml")
	if err := os.WriteFile(bad, []byte("samplesPerUpload: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	prices := "../../cost/prices-us-east-1.yaml"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-template", filepath.Join(dir, "none.template.json"), "-prices", prices}, "none.template.json"},
		{[]string{"-template", prod, "-prices", filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{[]string{"-template", prod, "-prices", prices, "-usage", bad}, bad},
		{[]string{"-template", prod, "-prices", prices, "-format", "csv"}, `-format "csv": allowed are table, json, markdown`},
		{[]string{"-template", prod, "-prices", prices, "-vehicles", "100,lots"}, `"lots" is not a fleet size`},
		{[]string{"-prices", prices}, "-template is required"},
	} {
		err := run(tt.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}
