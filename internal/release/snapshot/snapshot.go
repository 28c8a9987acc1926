// Package snapshot turns synthesized CloudFormation templates into stable,
// reviewable snapshots: asset hashes, which change with every toolchain and
// every byte of bundled code, are replaced by a fixed marker.
package snapshot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// AssetHashMarker replaces every asset hash in a masked template.
const AssetHashMarker = "ASSET-HASH"

// CDK names assets by the hex SHA-256 of their content.
var assetHash = regexp.MustCompile(`\b[0-9a-f]{64}\b`)

// Mask returns the template with asset hashes masked, re-encoded the way the
// CDK writes templates (one-space indent), ending in a newline.
func Mask(template []byte) ([]byte, error) {
	var doc any
	if err := json.Unmarshal(template, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(maskValue(doc)); err != nil {
		return nil, fmt.Errorf("encode template: %w", err)
	}
	return buf.Bytes(), nil
}

func maskValue(v any) any {
	switch v := v.(type) {
	case string:
		return assetHash.ReplaceAllString(v, AssetHashMarker)
	case []any:
		for i := range v {
			v[i] = maskValue(v[i])
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, val := range v {
			out[assetHash.ReplaceAllString(k, AssetHashMarker)] = maskValue(val)
		}
		return out
	default:
		return v
	}
}

// MaskAssembly copies the cloud assembly in dir to out, masking every
// template in it, so that `cdk diff --app out --template golden` compares
// like with like.
func MaskAssembly(dir, out string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read cloud assembly: %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	for _, e := range entries {
		// Asset directories are not needed to compare templates.
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("read %s: %w", e.Name(), err)
		}
		if strings.HasSuffix(e.Name(), ".template.json") {
			if data, err = Mask(data); err != nil {
				return fmt.Errorf("%s: %w", e.Name(), err)
			}
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", e.Name(), err)
		}
	}
	return nil
}
