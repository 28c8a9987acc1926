package fleetapi

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// LambdaDeployment names one of CodeDeploy's predefined deployment
// configurations of Lambda functions (CodeDeploy User Guide, "Deployment
// configurations on an AWS Lambda compute platform"): all at once, a
// canary (10 % of the traffic, then the rest after the interval), or
// linear (10 % more every interval).
type LambdaDeployment string

// CodeDeploy's predefined configurations, without the
// CodeDeployDefault.Lambda prefix of their names.
const (
	LambdaDeploymentAllAtOnce                     LambdaDeployment = "AllAtOnce"
	LambdaDeploymentCanary10Percent5Minutes       LambdaDeployment = "Canary10Percent5Minutes"
	LambdaDeploymentCanary10Percent10Minutes      LambdaDeployment = "Canary10Percent10Minutes"
	LambdaDeploymentCanary10Percent15Minutes      LambdaDeployment = "Canary10Percent15Minutes"
	LambdaDeploymentCanary10Percent30Minutes      LambdaDeployment = "Canary10Percent30Minutes"
	LambdaDeploymentLinear10PercentEvery1Minute   LambdaDeployment = "Linear10PercentEvery1Minute"
	LambdaDeploymentLinear10PercentEvery2Minutes  LambdaDeployment = "Linear10PercentEvery2Minutes"
	LambdaDeploymentLinear10PercentEvery3Minutes  LambdaDeployment = "Linear10PercentEvery3Minutes"
	LambdaDeploymentLinear10PercentEvery10Minutes LambdaDeployment = "Linear10PercentEvery10Minutes"
)

// deploymentConfigs are the CDK's constants of each configuration.
var deploymentConfigs = map[LambdaDeployment]func() awscodedeploy.ILambdaDeploymentConfig{
	LambdaDeploymentAllAtOnce:                     awscodedeploy.LambdaDeploymentConfig_ALL_AT_ONCE,
	LambdaDeploymentCanary10Percent5Minutes:       awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_5MINUTES,
	LambdaDeploymentCanary10Percent10Minutes:      awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_10MINUTES,
	LambdaDeploymentCanary10Percent15Minutes:      awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_15MINUTES,
	LambdaDeploymentCanary10Percent30Minutes:      awscodedeploy.LambdaDeploymentConfig_CANARY_10PERCENT_30MINUTES,
	LambdaDeploymentLinear10PercentEvery1Minute:   awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_1MINUTE,
	LambdaDeploymentLinear10PercentEvery2Minutes:  awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_2MINUTES,
	LambdaDeploymentLinear10PercentEvery3Minutes:  awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_3MINUTES,
	LambdaDeploymentLinear10PercentEvery10Minutes: awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_10MINUTES,
}

// lambdaDeployments lists the configurations, in the order above.
func lambdaDeployments() []LambdaDeployment {
	return []LambdaDeployment{LambdaDeploymentAllAtOnce, LambdaDeploymentCanary10Percent5Minutes, LambdaDeploymentCanary10Percent10Minutes,
		LambdaDeploymentCanary10Percent15Minutes, LambdaDeploymentCanary10Percent30Minutes, LambdaDeploymentLinear10PercentEvery1Minute,
		LambdaDeploymentLinear10PercentEvery2Minutes, LambdaDeploymentLinear10PercentEvery3Minutes, LambdaDeploymentLinear10PercentEvery10Minutes}
}

// lambdaDeploymentWords are the configurations as a settings object names
// them: allAtOnce, canary10Percent5Minutes, ...
func lambdaDeploymentWords() []word[LambdaDeployment] {
	var out []word[LambdaDeployment]
	for _, d := range lambdaDeployments() {
		out = append(out, word[LambdaDeployment]{strings.ToLower(string(d[:1])) + string(d[1:]), d})
	}
	return out
}

// deployments are the functions' CodeDeploy deployment groups, by the
// spec's function names, and their service role.
type deployments struct {
	role    awsiam.Role
	groups  map[string]awscodedeploy.LambdaDeploymentGroup
	tracker awscodedeploy.LambdaDeploymentGroup
}

// newDeployments defines a CodeDeploy deployment group per function, in
// one application: a new version takes over the function's alias as the
// props' configuration says, and CodeDeploy moves the alias back when one
// of the function's alarms goes off during the deployment, or the
// deployment fails or is stopped.
func newDeployments(scope constructs.Construct, p FleetApiProps, fns functions, tr *trackerResource, a alarms) deployments {
	app := awscodedeploy.NewLambdaApplication(scope, jsii.String("Deployments"), nil)
	// One service role for the groups: each group adds the policy the
	// CodeDeploy User Guide names for Lambda deployments,
	// AWSCodeDeployRoleForLambdaLimited (once: the role keeps it by ARN).
	role := awsiam.NewRole(scope, jsii.String("DeploymentRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("codedeploy.amazonaws.com"), nil),
		Description: jsii.String("CodeDeploy's role for the functions' deployments: reads their alarms, moves their aliases"),
	})
	out := deployments{role: role, groups: map[string]awscodedeploy.LambdaDeploymentGroup{}}
	group := func(id string, alias awslambda.Alias, rollback []awscloudwatch.Alarm) awscodedeploy.LambdaDeploymentGroup {
		var alarms []interfacesawscloudwatch.IAlarmRef
		for _, a := range rollback {
			alarms = append(alarms, a)
		}
		return awscodedeploy.NewLambdaDeploymentGroup(scope, jsii.String(id+"Deployment"), &awscodedeploy.LambdaDeploymentGroupProps{
			Application:      app,
			Role:             role,
			Alias:            alias,
			DeploymentConfig: deploymentConfigs[p.Deployment](),
			Alarms:           &alarms,
			AutoRollback: &awscodedeploy.AutoRollbackConfig{
				FailedDeployment: jsii.Bool(true), StoppedDeployment: jsii.Bool(true), DeploymentInAlarm: jsii.Bool(true),
			},
		})
	}
	for _, name := range fns.sorted() {
		out.groups[name] = group(exportedName(name), fns.aliases[name], a.rollback[name])
	}
	// The tracker's: a version that fails its invocations goes back.
	out.tracker = group("Tracker", tr.alias, a.trackerRollback)
	return out
}

// newAlias is the alias live of a function, on its current version.
func newAlias(scope constructs.Construct, id string, fn awslambda.Function) awslambda.Alias {
	return awslambda.NewAlias(scope, jsii.String(id+"Live"), &awslambda.AliasProps{
		AliasName:   jsii.String(contract.LiveAlias),
		Version:     fn.CurrentVersion(),
		Description: jsii.String("What every caller invokes; deployments move it to a new version"),
	})
}
