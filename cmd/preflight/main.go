// Command preflight checks a stage before it is deployed into an account:
// make preflight STAGE=prod. With -offline it checks the stage table alone
// (make deploy runs that); else it also makes the read calls of package
// preflight with the AWS credentials of the environment (the SDK's
// default chain), against the account and Region the deploy would use.
// It exits 1 when a check fails.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/fleetapi/fleetapi/internal/app/fleetstack"
	"github.com/fleetapi/fleetapi/internal/app/stage"
	"github.com/fleetapi/fleetapi/internal/ops/preflight"
)

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("preflight", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stageName := fs.String("stage", stage.DefaultStage, "the stage of cdk.json to check")
	cdkJSON := fs.String("cdk-json", "cdk.json", "the app's cdk.json, with the stage table")
	assembly := fs.String("assembly", "", "the stage's synthesized cloud assembly (default cdk.out/STAGE)")
	offline := fs.Bool("offline", false, "check the stage table only, with no AWS call")
	endpoint := fs.String("endpoint", "", "send every call to this endpoint instead of AWS's (a local stand-in)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := readStage(*cdkJSON, *stageName)
	if err != nil {
		fmt.Fprintln(stderr, "preflight:", err)
		return 2
	}
	var results []preflight.Result
	if *offline {
		results = preflight.Offline(cfg)
	} else {
		dir := *assembly
		if dir == "" {
			dir = filepath.Join("cdk.out", cfg.Name)
		}
		stack, err := preflight.ReadAssembly(dir, fleetstack.StackName(cfg.Name))
		if err != nil {
			fmt.Fprintln(stderr, "preflight:", err)
			return 2
		}
		awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(cfg.Region))
		if err != nil {
			fmt.Fprintln(stderr, "preflight: AWS configuration:", err)
			return 2
		}
		if *endpoint != "" {
			awsCfg.BaseEndpoint = aws.String(*endpoint)
		}
		if awsCfg.Region == "" {
			fmt.Fprintln(stderr, "preflight: no AWS Region: set AWS_REGION (or the stage's region) to the one the deploy uses")
			return 2
		}
		fmt.Fprintf(stdout, "preflight of stage %s (stack %s) in %s\n", cfg.Name, stack.Name, awsCfg.Region)
		results = preflight.Run(ctx, preflight.NewClients(awsCfg), cfg, stack)
	}
	for _, r := range results {
		fmt.Fprintln(stdout, r)
	}
	if preflight.Failed(results) {
		fmt.Fprintf(stdout, "stage %s is not ready to deploy\n", cfg.Name)
		return 1
	}
	return 0
}

// readStage reads a stage of cdk.json's stage table, as the app does.
func readStage(path, name string) (stage.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return stage.Config{}, err
	}
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return stage.Config{}, fmt.Errorf("parse %s: %w", path, err)
	}
	return stage.Select(doc.Context[stage.ContextKeyStages], name)
}
