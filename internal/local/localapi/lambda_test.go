package localapi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"

	"github.com/fleetapi/fleetapi/internal/local/localauth"
)

// make local serves Lambda's Invoke of its functions, through the SDK's
// own Lambda client, to the operator's keys only: a function error is
// Lambda's (FunctionError, errorMessage), an unknown function a 404, the
// fleet classes' keys a 403 (an event says who the caller is: whoever may
// invoke a function may act as any vehicle).
func TestConformanceLocalLambdaInvoke(t *testing.T) {
	c := newClient(t)
	fn := func(keys aws.Credentials) *lambda.Client {
		return lambda.New(lambda.Options{Region: localauth.Region, BaseEndpoint: aws.String(c.local.URL + localauth.LambdaPath),
			Credentials: credentials.StaticCredentialsProvider{Value: keys}})
	}
	ctx := context.Background()
	bad := []byte(`{"source":"fleetapi.uploadRule","topic":"vehicles/car-x/events","vid":"car-x","clientId":"car-x","payload":"not base64!"}`)
	out, err := fn(localauth.OperatorKeys).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("local-ingest"), Payload: bad})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "invalid: payload: is not valid base64") {
		t.Errorf("a refused upload: %v, %q %s; want a function error saying the payload is invalid", err, aws.ToString(out.FunctionError), out.Payload)
	}
	// Through the alias a deployed function's callers invoke, by name or
	// by the Qualifier parameter.
	for _, in := range []*lambda.InvokeInput{{FunctionName: aws.String("local-ingest:live")}, {FunctionName: aws.String("local-ingest"), Qualifier: aws.String("live")}} {
		in.Payload = bad
		if out, err := fn(localauth.OperatorKeys).Invoke(ctx, in); err != nil || aws.ToString(out.FunctionError) != "Unhandled" {
			t.Errorf("invoke %s qualifier %s: %v; want the function's answer", aws.ToString(in.FunctionName), aws.ToString(in.Qualifier), err)
		}
	}
	for _, tt := range []struct {
		keys   aws.Credentials
		name   string
		status int
	}{{localauth.ReaderKeys, "local-ingest", 403}, {localauth.AdminKeys, "local-ingest", 403}, {localauth.AdminKeys, "local-events", 403}, {localauth.OperatorKeys, "no-such-function", 404}, {localauth.OperatorKeys, "local-ingest:canary", 404}} {
		_, err := fn(tt.keys).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(tt.name), Payload: bad})
		var re interface{ HTTPStatusCode() int }
		var ae smithy.APIError
		if !errors.As(err, &re) || re.HTTPStatusCode() != tt.status || !errors.As(err, &ae) {
			t.Errorf("%s invoked with %s: %v, want %d", tt.name, tt.keys.AccessKeyID, err, tt.status)
		}
	}
}
