package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAppCommand runs the app binary the way the CDK CLI does (context in
// CDK_CONTEXT_JSON, output directory in CDK_OUTDIR) and checks that bad input
// fails with a message that names the bad value and what is allowed, exits
// non-zero, and leaves no cloud assembly behind.
func TestAppCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fleetapi-app")
	build := exec.Command("go", "build", "-o", bin, "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	withStage := func(stageName any, edit func(stages map[string]any)) map[string]any {
		ctx := cloneJSON(t, cdkContext)
		ctx["stage"] = stageName
		if edit != nil {
			edit(ctx["stages"].(map[string]any))
		}
		return ctx
	}
	tests := []struct {
		desc    string
		context map[string]any
		want    []string // substrings of stderr; nil means success
	}{
		{"known stage", withStage("prod", nil), nil},
		{"unknown stage", withStage("qa", nil), []string{`unknown stage "qa"`, "known stages are dev, prod, staging"}},
		{"stage of the wrong type", withStage(true, nil), []string{`"stage" must be a string`}},
		{"wrong type in the table", withStage("prod", func(s map[string]any) {
			s["prod"].(map[string]any)["lambdaMemoryMiB"] = "big"
		}), []string{`stage "prod": lambdaMemoryMiB "big" is invalid: must be a number`}},
		{"value out of range", withStage("prod", func(s map[string]any) {
			s["prod"].(map[string]any)["logRetentionDays"] = 10
		}), []string{"logRetentionDays 10 is invalid", "allowed values are 1, 3, 5, 7"}},
		{"unknown setting", withStage("dev", func(s map[string]any) {
			s["dev"].(map[string]any)["colour"] = "red"
		}), []string{`unknown setting "colour"`}},
		{"malformed table", withStage("dev", func(s map[string]any) {
			s["dev"] = []any{1, 2}
		}), []string{`stage "dev": settings must be a JSON object`}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			ctxJSON, err := json.Marshal(tt.context)
			if err != nil {
				t.Fatal(err)
			}
			outdir := filepath.Join(t.TempDir(), "cdk.out")
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), "CDK_CONTEXT_JSON="+string(ctxJSON), "CDK_OUTDIR="+outdir)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			runErr := cmd.Run()
			_, statErr := os.Stat(filepath.Join(outdir, "manifest.json"))

			if tt.want == nil {
				if runErr != nil {
					t.Fatalf("app failed: %v\n%s", runErr, stderr.String())
				}
				if statErr != nil {
					t.Fatalf("no cloud assembly written: %v", statErr)
				}
				return
			}
			var exitErr *exec.ExitError
			if !errors.As(runErr, &exitErr) || exitErr.ExitCode() != 1 {
				t.Fatalf("app returned %v, want exit status 1\nstderr: %s", runErr, stderr.String())
			}
			if !errors.Is(statErr, fs.ErrNotExist) {
				t.Errorf("a cloud assembly was written despite the error (stat: %v)", statErr)
			}
			msg := stderr.String()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine") {
				t.Errorf("stderr shows a panic:\n%s", msg)
			}
		})
	}
}

// cloneJSON deep-copies a JSON-shaped value.
func cloneJSON(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
