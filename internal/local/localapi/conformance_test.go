package localapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/fleetapi/fleetapi/internal/local/localauth"
)

// The conformance suite of the stand-ins: what third-party clients found
// they answered otherwise than AWS (issue 29), each case asserting AWS's
// answer, quoted from its page, or, where AWS documents none, the
// stand-in's stricter one (docs/development.md says which). A change that
// loosens a stand-in fails here.

// The gateway routes and authorizes one path: the request's, decoded once.
// Vehicle A's GET /vehicles/A%2Fevents%2F<eid>/events once matched A's
// getEvent grant (decoded) and was routed to listEvents (raw); now it is
// the path /vehicles/A/events/<eid>/events, which no operation has: the
// gateway's 403 for a missing authentication token, as API Gateway answers
// an unknown resource of an IAM-authorized API. A's vid percent-encoded is
// its vid: allowed, as the decoded path is its own.
func TestConformanceGatewayRoutesAndAuthorizesOnePath(t *testing.T) {
	c := newClient(t)
	if a := c.do("POST", "/vehicles", `{"vid":"carA-001","make":"BMW","model":"i3","year":2017}`, true, nil); a.status != 201 {
		t.Fatalf("register: %d %v", a.status, a.body)
	}
	carA := c.as(c.vehicle("carA-001"))
	eid := carA.upload(t, "carA-001", 5)
	const listing = `"resourcePath":"/vehicles/{vid}/events"`
	before := strings.Count(c.logs.String(), listing)
	encoded := carA.do("GET", "/vehicles/carA-001%2Fevents%2F"+eid+"/events", "", true, nil)
	wantCode(t, encoded, 403, "Forbidden")
	if msg := encoded.body["error"].(map[string]any)["message"]; !strings.Contains(msg.(string), "there is no such resource") {
		t.Errorf("an encoded slash: %v, want the gateway's unknown resource", msg)
	}
	if strings.Count(c.logs.String(), listing) != before || before == 0 {
		t.Error("an encoded slash reached listEvents")
	}
	if own := carA.do("GET", "/vehicles/%63arA-001", "", true, nil); own.status != 200 || own.body["vid"] != "carA-001" {
		t.Errorf("its own vid percent-encoded: %d %v, want its vehicle", own.status, own.body)
	}
	// Another's vid percent-encoded is another's vid.
	wantCode(t, carA.do("GET", "/vehicles/%63arB-002", "", true, nil), 403, "Forbidden")
}

// "Credential scope – This value is a string that includes the date, the
// Region you are targeting, the service you are requesting" (IAM User
// Guide, "Elements of an AWS API request signature"); AWS refuses a
// signature scoped to another Region ("Credential should be scoped to a
// valid region"). The local API and its STS refuse one too.
func TestConformanceSignatureScopedToAnotherRegion(t *testing.T) {
	c := newClient(t)
	req, _ := http.NewRequest(http.MethodGet, c.base+"/vehicles", nil)
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), localauth.ReaderKeys, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("the API, signed for us-east-1: %d, want 403", resp.StatusCode)
	}
	s := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(c.local.STSURL), Credentials: credentials.StaticCredentialsProvider{Value: localauth.ReaderKeys}})
	if _, err := s.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(localauth.VehicleRole), RoleSessionName: aws.String("x")}); err == nil {
		t.Error("STS, signed for us-east-1: answered, want refused")
	}
	// Signed for the stand-in's Region, the same request is answered.
	if a := c.as(localauth.ReaderKeys).do("GET", "/vehicles", "", true, nil); a.status != 200 {
		t.Errorf("signed for %s: %d", localauth.Region, a.status)
	}
}
