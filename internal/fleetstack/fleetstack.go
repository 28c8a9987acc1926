// Package fleetstack builds the deployable FleetApi stack of one stage: the
// FleetApi construct configured from the stage table, plus stack-level
// settings (name, termination protection, cost allocation tags).
package fleetstack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
	"github.com/fleetapi/fleetapi/internal/stage"
)

// Project is the value of the Project cost allocation tag.
const Project = "FleetApi"

// ConstructID of the FleetApi construct inside the stack: part of every
// logical ID, so it must never change.
const ConstructID = "Fleet"

// CostTagKeys are the cost allocation tags put on every taggable resource.
var CostTagKeys = []string{"Project", "Stage", "CostCenter", "Owner"}

// StackName returns the CloudFormation stack name of a stage, e.g. FleetApi-prod.
func StackName(stageName string) string { return Project + "-" + stageName }

// FromContext reads the stage named by the "stage" context key (default dev)
// from the "stages" table in app's context and builds its stack.
func FromContext(app awscdk.App) (awscdk.Stack, error) {
	node := app.Node()
	cfg, err := stage.Select(node.TryGetContext(jsii.String(stage.ContextKeyStages)), node.TryGetContext(jsii.String(stage.ContextKeyStage)))
	if err != nil {
		return nil, err
	}
	return New(app, cfg), nil
}

// New builds the stack of the stage cfg, which must be valid.
func New(scope constructs.Construct, cfg stage.Config) awscdk.Stack {
	name := StackName(cfg.Name)
	tags := costTags(cfg)
	stackTags := make(map[string]*string, len(tags))
	for key, value := range tags {
		stackTags[key] = jsii.String(value)
	}
	stack := awscdk.NewStack(scope, jsii.String(name), &awscdk.StackProps{
		StackName:             jsii.String(name),
		Description:           jsii.String(fmt.Sprintf("FleetApi vehicle-telemetry API, stage %s", cfg.Name)),
		TerminationProtection: jsii.Bool(cfg.DeletionProtection),
		// Stack tags: CloudFormation also puts them on resources it creates.
		Tags: &stackTags,
	})
	// Resource tags, in the template itself, on every taggable resource.
	for key, value := range tags {
		awscdk.Tags_Of(stack).Add(jsii.String(key), jsii.String(value), nil)
	}

	fleetapi.NewFleetApi(stack, ConstructID, &fleetapi.FleetApiProps{
		RemovalPolicy:       removalPolicy(cfg.RemovalPolicy),
		DeletionProtection:  jsii.Bool(cfg.DeletionProtection),
		PointInTimeRecovery: jsii.Bool(cfg.PointInTimeRecovery),
	})
	return stack
}

// costTags returns the cost allocation tags of a stage, keyed as CostTagKeys.
func costTags(cfg stage.Config) map[string]string {
	return map[string]string{
		"Project":    Project,
		"Stage":      cfg.Name,
		"CostCenter": cfg.CostCenter,
		"Owner":      cfg.Owner,
	}
}

func removalPolicy(name string) awscdk.RemovalPolicy {
	if name == stage.RemovalPolicyDestroy {
		return awscdk.RemovalPolicy_DESTROY
	}
	return awscdk.RemovalPolicy_RETAIN
}
