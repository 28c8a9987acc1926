// Package preflight checks, before a stage's first deploy into an account,
// what CloudFormation cannot see until the deploy fails or a month passes:
// a resource type the Region lacks, API Gateway's account-wide CloudWatch role, the Lambda concurrency the
// stage reserves against the account's quota, the CDK bootstrap version,
// whether the budget's cost allocation tags are active, and whether anyone
// is told of the alarms. It makes read calls only.
package preflight

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/fleetapi/fleetapi/internal/app/stage"
)

// Status of a check.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
)

// Result is one check: what it found and, unless OK, what to do.
type Result struct {
	Check  string
	Status Status
	Found  string
	ToDo   string
}

func (r Result) String() string {
	s := fmt.Sprintf("%-4s %s: %s", r.Status, r.Check, r.Found)
	if r.ToDo != "" {
		s += "\n     → " + r.ToDo
	}
	return s
}

// Failed reports whether any result is a failure: the deploy would fail or
// must not happen.
func Failed(results []Result) bool {
	return slices.ContainsFunc(results, func(r Result) bool { return r.Status == Fail })
}

// Stack is what the preflight reads of a stage's synthesis (its cloud
// assembly directory, cdk.out/STAGE).
type Stack struct {
	Name string
	// Reservations is the reserved concurrency of each function.
	Reservations map[string]int
	// Logs: the API stage writes execution logs, which need the account's
	// CloudWatch role; CreatesCloudWatchRole: the stack sets it.
	Logs, CreatesCloudWatchRole bool
	// The bootstrap version the stack needs and the SSM parameter that holds
	// the environment's.
	BootstrapVersion   int
	BootstrapParameter string
	// Types are the resource types of the template, sorted.
	Types []string
}

// ReadAssembly reads a stack of a cloud assembly directory.
func ReadAssembly(dir, stackName string) (Stack, error) {
	s := Stack{Name: stackName, Reservations: map[string]int{}}
	var manifest struct {
		Artifacts map[string]struct {
			Properties struct {
				TemplateFile                      string `json:"templateFile"`
				RequiresBootstrapStackVersion     int    `json:"requiresBootstrapStackVersion"`
				BootstrapStackVersionSsmParameter string `json:"bootstrapStackVersionSsmParameter"`
			} `json:"properties"`
		} `json:"artifacts"`
	}
	if err := readJSON(filepath.Join(dir, "manifest.json"), &manifest); err != nil {
		return s, err
	}
	a, ok := manifest.Artifacts[stackName]
	if !ok || a.Properties.TemplateFile == "" {
		return s, fmt.Errorf("%s: no stack %s (synthesize the stage first: make synth STAGE=...)", dir, stackName)
	}
	s.BootstrapVersion, s.BootstrapParameter = a.Properties.RequiresBootstrapStackVersion, a.Properties.BootstrapStackVersionSsmParameter
	var template struct {
		Resources map[string]struct {
			Type       string         `json:"Type"`
			Properties map[string]any `json:"Properties"`
		} `json:"Resources"`
	}
	if err := readJSON(filepath.Join(dir, a.Properties.TemplateFile), &template); err != nil {
		return s, err
	}
	for id, r := range template.Resources {
		if !slices.Contains(s.Types, r.Type) {
			s.Types = append(s.Types, r.Type)
		}
		switch r.Type {
		case "AWS::Lambda::Function":
			if v, ok := r.Properties["ReservedConcurrentExecutions"].(float64); ok {
				s.Reservations[id] = int(v)
			}
		case "AWS::ApiGateway::Account":
			s.CreatesCloudWatchRole = true
		case "AWS::ApiGateway::Stage":
			settings, _ := r.Properties["MethodSettings"].([]any)
			for _, m := range settings {
				if level, _ := m.(map[string]any)["LoggingLevel"].(string); level != "" && level != "OFF" {
					s.Logs = true
				}
			}
		}
	}
	slices.Sort(s.Types)
	return s, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

// Clients are the read calls the checks make.
type Clients struct {
	APIGateway interface {
		GetAccount(context.Context, *apigateway.GetAccountInput, ...func(*apigateway.Options)) (*apigateway.GetAccountOutput, error)
	}
	Lambda interface {
		GetAccountSettings(context.Context, *lambda.GetAccountSettingsInput, ...func(*lambda.Options)) (*lambda.GetAccountSettingsOutput, error)
		lambda.ListFunctionsAPIClient
		GetFunctionConcurrency(context.Context, *lambda.GetFunctionConcurrencyInput, ...func(*lambda.Options)) (*lambda.GetFunctionConcurrencyOutput, error)
	}
	SSM interface {
		GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	}
	CostExplorer interface {
		ListCostAllocationTags(context.Context, *costexplorer.ListCostAllocationTagsInput, ...func(*costexplorer.Options)) (*costexplorer.ListCostAllocationTagsOutput, error)
	}
	CloudFormation interface {
		DescribeType(context.Context, *cloudformation.DescribeTypeInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeTypeOutput, error)
	}
}

// NewClients makes the clients from an AWS configuration. Cost Explorer
// answers in us-east-1 only.
func NewClients(cfg aws.Config) Clients {
	return Clients{
		APIGateway:     apigateway.NewFromConfig(cfg),
		Lambda:         lambda.NewFromConfig(cfg),
		SSM:            ssm.NewFromConfig(cfg),
		CostExplorer:   costexplorer.NewFromConfig(cfg, func(o *costexplorer.Options) { o.Region = "us-east-1" }),
		CloudFormation: cloudformation.NewFromConfig(cfg),
	}
}

// minUnreserved is the concurrency Lambda keeps unreserved in an account
// and Region: a reservation that would leave less fails.
const minUnreserved = 100

// Offline runs the checks of the stage table alone: they need no account.
func Offline(cfg stage.Config) []Result {
	r := Result{Check: "alarm subscriber", Status: OK, Found: "the alarms and the budget notify " + subscribers(cfg)}
	if err := cfg.NoAlarmSubscriber(); err != nil {
		r.Status, r.Found = Warn, "no one is told of the alarms and the budget"
		r.ToDo = "set alarmEmails (each address must confirm the subscription SNS mails it) or alarmTopicArn in cdk.json"
		if cfg.RequireAlarmSubscriber {
			r.Status = Fail
			r.ToDo += " (the stage sets requireAlarmSubscriber: it is not deployed without)"
		}
	}
	return []Result{r}
}

func subscribers(cfg stage.Config) string {
	if cfg.AlarmTopicArn != "" {
		return cfg.AlarmTopicArn
	}
	return strings.Join(cfg.AlarmEmails(), ", ") + " (e-mail: each must have confirmed its subscription)"
}

// Run runs every check for a stage's stack.
func Run(ctx context.Context, c Clients, cfg stage.Config, s Stack) []Result {
	results := Offline(cfg)
	results = append(results, resourceTypes(ctx, c, s), cloudWatchRole(ctx, c, cfg, s), concurrency(ctx, c, s), bootstrap(ctx, c, s))
	return append(results, costTags(ctx, c, cfg)...)
}

// resourceTypes asks CloudFormation's registry of the deploy's Region for
// every AWS type of the template: a Region that lacks one fails the deploy
// midway (docs/deploying.md lists them, as the CDK knew them).
func resourceTypes(ctx context.Context, c Clients, s Stack) Result {
	r := Result{Check: "resource types"}
	var missing []string
	checked := 0
	for _, typ := range s.Types {
		if !strings.HasPrefix(typ, "AWS::") {
			continue // a custom resource: the stack's own function
		}
		checked++
		_, err := c.CloudFormation.DescribeType(ctx, &cloudformation.DescribeTypeInput{Type: cftypes.RegistryTypeResource, TypeName: aws.String(typ)})
		var notFound *cftypes.TypeNotFoundException
		switch {
		case errors.As(err, &notFound):
			missing = append(missing, typ)
		case err != nil:
			return cannotRead(r, "cloudformation:DescribeType", err)
		}
	}
	if len(missing) > 0 {
		r.Status, r.Found = Fail, fmt.Sprintf("the Region lacks %s of the %d types of the template: the deploy would fail there", strings.Join(missing, ", "), checked)
		r.ToDo = "deploy the stage to another Region (its region setting, or the credentials' Region); docs/deploying.md lists where each type is missing"
		return r
	}
	r.Status, r.Found = OK, fmt.Sprintf("the Region has each of the %d types of the template", checked)
	return r
}

func cloudWatchRole(ctx context.Context, c Clients, cfg stage.Config, s Stack) Result {
	r := Result{Check: "API Gateway CloudWatch role"}
	out, err := c.APIGateway.GetAccount(ctx, &apigateway.GetAccountInput{})
	if err != nil {
		return cannotRead(r, "apigateway:GET on /account", err)
	}
	arn := aws.ToString(out.CloudwatchRoleArn)
	switch {
	case !s.Logs:
		r.Status, r.Found = OK, "the stage writes no execution logs"
	case s.CreatesCloudWatchRole:
		// Each stage that logs sets a retained role of its own: the
		// setting then always names a role that exists (docs/deploying.md).
		r.Status, r.Found = OK, "this stage's stack sets a retained role of its own (apiGatewayCloudWatchRole); the account has "+cmp.Or(arn, "none yet")
	case arn != "":
		r.Status, r.Found = Warn, "the account has "+arn+", and stage "+cfg.Name+" logs without a role of its own: deleting that role breaks its logging"
		r.ToDo = "set apiGatewayCloudWatchRole true for stage " + cfg.Name
	default:
		r.Status, r.Found = Fail, "the account has none, and stage "+cfg.Name+" logs without creating it: the deploy would fail with \"CloudWatch Logs role ARN must be set in account settings to enable logging\""
		r.ToDo = "set apiGatewayCloudWatchRole true for stage " + cfg.Name + ": each stage that logs sets a retained role of its own"
	}
	return r
}

func concurrency(ctx context.Context, c Clients, s Stack) Result {
	r := Result{Check: "Lambda concurrency"}
	need := 0
	for _, v := range s.Reservations {
		need += v
	}
	if need == 0 {
		r.Status, r.Found = OK, "the stage reserves none"
		return r
	}
	settings, err := c.Lambda.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if err != nil {
		return cannotRead(r, "lambda:GetAccountSettings", err)
	}
	limit := settings.AccountLimit
	// This stack's functions, when deployed, reserve already: their
	// reservations are replaced, not added. CloudFormation names them
	// STACK-LOGICALID-SUFFIX.
	own := 0
	pages := lambda.NewListFunctionsPaginator(c.Lambda, &lambda.ListFunctionsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return cannotRead(r, "lambda:ListFunctions", err)
		}
		for _, f := range page.Functions {
			name := aws.ToString(f.FunctionName)
			if !strings.HasPrefix(name, s.Name+"-") {
				continue
			}
			fc, err := c.Lambda.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: f.FunctionName})
			if err != nil {
				return cannotRead(r, "lambda:GetFunctionConcurrency", err)
			}
			own += int(aws.ToInt32(fc.ReservedConcurrentExecutions))
		}
	}
	after := int(aws.ToInt32(limit.UnreservedConcurrentExecutions)) + own - need
	r.Found = fmt.Sprintf("the account's quota is %d, %d unreserved; the stage reserves %d (%d functions), %d of them reserved already: %d would stay unreserved",
		limit.ConcurrentExecutions, aws.ToInt32(limit.UnreservedConcurrentExecutions), need, len(s.Reservations), own, after)
	if after >= minUnreserved {
		r.Status = OK
		return r
	}
	r.Status = Fail
	r.ToDo = fmt.Sprintf("Lambda keeps %d unreserved, so the deploy would fail (\"decreases account's UnreservedConcurrentExecution below its minimum value\"): request the Service Quotas increase of Lambda \"Concurrent executions\" to at least %d, or lower lambdaReservedConcurrency",
		minUnreserved, int(limit.ConcurrentExecutions)+minUnreserved-after)
	return r
}

func bootstrap(ctx context.Context, c Clients, s Stack) Result {
	r := Result{Check: "CDK bootstrap"}
	out, err := c.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.BootstrapParameter)})
	var notFound *ssmtypes.ParameterNotFound
	switch {
	case errors.As(err, &notFound):
		r.Status, r.Found = Fail, "the environment is not bootstrapped (no "+s.BootstrapParameter+")"
		r.ToDo = "cdk bootstrap aws://ACCOUNT/REGION with credentials of the account"
		return r
	case err != nil:
		return cannotRead(r, "ssm:GetParameter on "+s.BootstrapParameter, err)
	}
	v, err := strconv.Atoi(aws.ToString(out.Parameter.Value))
	if err != nil {
		r.Status, r.Found = Fail, fmt.Sprintf("%s is %q, not a version", s.BootstrapParameter, aws.ToString(out.Parameter.Value))
		r.ToDo = "cdk bootstrap aws://ACCOUNT/REGION again"
		return r
	}
	r.Found = fmt.Sprintf("version %d; the stack needs %d or later", v, s.BootstrapVersion)
	if v >= s.BootstrapVersion {
		r.Status = OK
	} else {
		r.Status, r.ToDo = Fail, "cdk bootstrap aws://ACCOUNT/REGION again, with this project's CDK CLI (node_modules/.bin/cdk)"
	}
	return r
}

// costTags checks that the budget's cost allocation tags are active.
// Activation is the payer account's, takes up to 24 hours, and counts only
// the costs from then on; a key Billing has not seen on a resource yet
// cannot be activated.
func costTags(ctx context.Context, c Clients, cfg stage.Config) []Result {
	keys := []string{"Project", "Stage"}
	out, err := c.CostExplorer.ListCostAllocationTags(ctx, &costexplorer.ListCostAllocationTagsInput{TagKeys: keys, Type: cetypes.CostAllocationTagTypeUserDefined})
	if err != nil {
		return []Result{cannotRead(Result{Check: "cost allocation tags"}, "ce:ListCostAllocationTags (the payer account's)", err)}
	}
	status := map[string]cetypes.CostAllocationTagStatus{}
	for _, t := range out.CostAllocationTags {
		status[aws.ToString(t.TagKey)] = t.Status
	}
	var results []Result
	for _, key := range keys {
		r := Result{Check: "cost allocation tag " + key}
		switch status[key] {
		case cetypes.CostAllocationTagStatusActive:
			r.Status, r.Found = OK, "active"
		case cetypes.CostAllocationTagStatusInactive:
			r.Status, r.Found = Warn, "inactive: the budget counts nothing of stage "+cfg.Name
			r.ToDo = "activate it in the Billing console (Cost allocation tags) of the payer account; it takes up to 24 hours and counts costs from then on, not before"
		default:
			r.Status, r.Found = Warn, "not known to Billing yet: it appears within a day of a resource carrying it"
			r.ToDo = "after the first deploy, activate it in the payer account's Billing console; until then the budget counts nothing"
		}
		results = append(results, r)
	}
	return results
}

// cannotRead is a check the credentials could not make: a warning, since
// it says nothing of the account.
func cannotRead(r Result, call string, err error) Result {
	r.Status, r.Found = Warn, "cannot read it: "+err.Error()
	r.ToDo = "run the preflight with credentials that may call " + call
	return r
}
