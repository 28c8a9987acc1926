package test

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/fleetapi/fleetapi/constructs/fleetapi"
)

// nagRule matches a finding of cdk-nag's AwsSolutions or Serverless pack.
var nagRule = regexp.MustCompile(`^(AwsSolutions|Serverless)-[A-Za-z0-9]+`)

// TestNagFindings runs cdk-nag's AwsSolutions and Serverless packs on every
// stage: any finding that is not suppressed (with its reason, in the
// construct) fails, naming the rule, the resource's path and the message.
func TestNagFindings(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		var findings []string
		for _, a := range s.annotations {
			if rule := nagRule.FindString(a.Text); rule != "" && a.Level != "aws:cdk:info" {
				msg, _, _ := strings.Cut(a.Text, "\n")
				findings = append(findings, rule+" at "+a.Path+" ("+strings.TrimPrefix(a.Level, "aws:cdk:")+"): "+msg)
			}
		}
		slices.Sort(findings)
		for _, f := range findings {
			t.Error(f)
		}
	})
}

// TestNagFindsWhatIsNotSuppressed is TestNagFindings' positive control: the
// packs run, and the construct's suppressions are narrow. A statement on
// the vehicle role beyond its execute-api resources (s3:* on *) and a
// table without point-in-time recovery next to the construct must each be
// found, though the vehicle role's policy carries an IAM5 suppression.
func TestNagFindsWhatIsNotSuppressed(t *testing.T) {
	outdir := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: &map[string]any{"@aws-cdk/core:annotationsInValidationReport": true}})
	stack := awscdk.NewStack(app, jsii.String("Control"), nil)
	api := fleetapi.NewFleetApi(stack, "Fleet", nil)
	api.VehicleRole().AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("s3:*"), Resources: jsii.Strings("*"),
	}))
	awsdynamodb.NewTable(stack, jsii.String("Unprotected"), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("k"), Type: awsdynamodb.AttributeType_STRING},
	})
	for _, pack := range []awscdk.IAspect{
		cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}),
		cdknag.NewServerlessChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}),
	} {
		awscdk.Aspects_Of(app).Add(pack, nil)
	}
	func() {
		defer func() { recover() }() // the synthesis fails validation: the report says why
		app.Synth(nil)
	}()
	failure := strings.Join(readValidationReport(filepath.Join(outdir, "validation-report.json")), "\n")
	for _, want := range []string{
		"AwsSolutions-IAM5[Action::s3:*]", "AwsSolutions-IAM5[Resource::*]", "Control/Fleet/VehicleRole/DefaultPolicy/Resource",
		"AwsSolutions-DDB3", "Control/Unprotected/Resource",
	} {
		if !strings.Contains(failure, want) {
			t.Errorf("no finding %q in what the synthesis reported:\n%s", want, failure)
		}
	}
	// And no rule finds anything else of the construct's own.
	for _, line := range strings.Split(failure, "\n") {
		isNag := strings.Contains(line, "AwsSolutions-") || strings.Contains(line, "Serverless-")
		if isNag && strings.Contains(line, "Control/Fleet/") && !strings.Contains(line, "Control/Fleet/VehicleRole/DefaultPolicy/Resource") {
			t.Errorf("a finding on the construct's own resources: %s", line)
		}
	}
}
