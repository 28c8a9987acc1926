package fleetapi

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// FleetApiAttributes are what an imported FleetApi needs: the outputs of
// the stack that deployed it (fleetstack's RestApiId, RestApiName,
// StageName, FleetReadRoleArn, FleetAdminRoleArn and the functions' names).
type FleetApiAttributes struct {
	// RestApiId and StageName make the URL.
	RestApiId *string
	StageName *string
	// RestApiName is the ApiName dimension of API Gateway's metrics.
	RestApiName *string
	// FleetReadRoleArn and FleetAdminRoleArn are the caller-class roles.
	FleetReadRoleArn  *string
	FleetAdminRoleArn *string
	// FunctionNames are the API's functions' names by the name the spec
	// gives them (vehicles, events, ingest): the dimension of their metrics.
	FunctionNames *map[string]*string
	// Account and Region of the API. Default: the importing stack's.
	Account *string
	Region  *string
}

// importedFleetApi is a FleetApi of another stack: the base's metrics and
// class grants, by its attributes.
type importedFleetApi struct {
	constructs.Construct
	*FleetApiBase
	restApiID *string
}

// FleetApi_FromFleetApiAttributes imports a FleetApi another stack
// deployed, as aws-cdk-lib's Table.fromTableAttributes does. Its grants go
// through the caller-class roles: the deploying stack's functions check
// every caller against the principals that stack granted, and that stack
// cannot be told of a grantee here; so grantee may assume the class role
// (sts:AssumeRole, which the role's trust of its account allows) whose
// operations include the named ones, and calls the API in that role. Every
// attribute is required but Account and Region; a missing one panics,
// naming it.
func FleetApi_FromFleetApiAttributes(scope constructs.Construct, id string, attrs *FleetApiAttributes) IFleetApi {
	if attrs == nil {
		attrs = &FleetApiAttributes{}
	}
	for name, v := range map[string]*string{"RestApiId": attrs.RestApiId, "StageName": attrs.StageName, "RestApiName": attrs.RestApiName,
		"FleetReadRoleArn": attrs.FleetReadRoleArn, "FleetAdminRoleArn": attrs.FleetAdminRoleArn} {
		if v == nil || *v == "" {
			panic(fmt.Errorf("fleetapi %q: FromFleetApiAttributes: %s is required (an output of the stack that deployed the FleetApi)", id, name))
		}
	}
	spec := loadSpec(nil)
	names := map[string]*string{}
	for _, fn := range spec.Functions() {
		if attrs.FunctionNames == nil || (*attrs.FunctionNames)[fn] == nil {
			panic(fmt.Errorf("fleetapi %q: FromFleetApiAttributes: FunctionNames needs %s", id, strings.Join(spec.Functions(), ", ")))
		}
		names[fn] = (*attrs.FunctionNames)[fn]
	}
	// The base is set before the construct registers itself (see FleetApi).
	f := &importedFleetApi{FleetApiBase: &FleetApiBase{}, restApiID: attrs.RestApiId}
	constructs.NewConstruct_Override(f, scope, jsii.String(id))
	roles := map[string]awsiam.IRole{
		contract.CallerFleetRead:  awsiam.Role_FromRoleArn(f, jsii.String("FleetReadRole"), attrs.FleetReadRoleArn, &awsiam.FromRoleArnOptions{Mutable: jsii.Bool(false)}),
		contract.CallerFleetAdmin: awsiam.Role_FromRoleArn(f, jsii.String("FleetAdminRole"), attrs.FleetAdminRoleArn, &awsiam.FromRoleArnOptions{Mutable: jsii.Bool(false)}),
	}
	*f.FleetApiBase = FleetApiBase{spec: spec, apiName: attrs.RestApiName, stageName: attrs.StageName, functionNames: names,
		account: attrs.Account, region: attrs.Region, fleetRoles: roles, grantClass: grantClassRole(roles)}
	return f
}

func (f *importedFleetApi) Url() *string {
	stack := awscdk.Stack_Of(f)
	region := f.region
	if region == nil {
		region = stack.Region()
	}
	return jsii.String(fmt.Sprintf("https://%s.execute-api.%s.%s/%s/", *f.restApiID, *region, *stack.UrlSuffix(), *f.stageName))
}
