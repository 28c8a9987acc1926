package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const hash = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"

func TestMaskReplacesAssetHashesOnly(t *testing.T) {
	in := `{"Resources":{"FnA1B2C3D4":{"Properties":{"Code":{"S3Key":"` + hash + `.zip"}},
		"Metadata":{"aws:asset:path":"asset.` + hash + `"}}},
		"Outputs":{"` + hash + `":{"Value":"x"}},
		"Parameters":{"Short":{"Default":"` + hash[:63] + `"}}}`
	got, err := Mask([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	if strings.Contains(s, hash) {
		t.Errorf("hash left in masked template:\n%s", s)
	}
	for _, want := range []string{`"S3Key": "ASSET-HASH.zip"`, `"aws:asset:path": "asset.ASSET-HASH"`, `"ASSET-HASH": {`, `"FnA1B2C3D4"`, hash[:63]} {
		if !strings.Contains(s, want) {
			t.Errorf("masked template lacks %s:\n%s", want, s)
		}
	}
	if !strings.HasSuffix(s, "}\n") || !strings.Contains(s, "\n \"Outputs\"") {
		t.Errorf("masked template is not one-space indented with a final newline:\n%s", s)
	}
}

func TestMaskRejectsNonJSON(t *testing.T) {
	if _, err := Mask([]byte("Resources: {}")); err == nil {
		t.Fatal("Mask accepted YAML")
	}
}

func TestMaskAssemblyMasksTemplatesAndCopiesTheRest(t *testing.T) {
	dir, out := t.TempDir(), filepath.Join(t.TempDir(), "masked")
	manifest := `{"version":"x","artifacts":{}}`
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("S.template.json", `{"Resources":{"K":{"S3Key":"`+hash+`.zip"}}}`)
	write("manifest.json", manifest)
	if err := os.Mkdir(filepath.Join(dir, "asset."+hash), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := MaskAssembly(dir, out); err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile(filepath.Join(out, "S.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(tmpl), "ASSET-HASH.zip") || strings.Contains(string(tmpl), hash) {
		t.Errorf("template not masked: %s", tmpl)
	}
	if got, err := os.ReadFile(filepath.Join(out, "manifest.json")); err != nil || string(got) != manifest {
		t.Errorf("manifest = %q, %v; want a verbatim copy", got, err)
	}
	if _, err := os.Stat(filepath.Join(out, "asset."+hash)); err == nil {
		t.Error("asset directory copied; only files are needed")
	}
	if err := MaskAssembly(filepath.Join(dir, "missing"), out); err == nil {
		t.Error("MaskAssembly of a missing directory succeeded")
	}
}
