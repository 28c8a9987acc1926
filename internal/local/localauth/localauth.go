// Package localauth is the local stand-in of what gives callers their
// identities on a deployed stage, for make local and the tests: a thing
// registry with a local certificate authority (AWS IoT Core's registry of
// certificates and things), the IoT Core credentials provider (mutual
// TLS, role alias, x-amzn-iot-thingname), STS's AssumeRole into the
// vehicle role, the fleet's long-lived keys, and SigV4 verification of
// whatever they sign. Every decision is IAM's evaluation (package
// iampolicy) of the same statements the construct deploys (package
// access). It listens nowhere itself: its handlers are served by the
// local API (plain HTTP) and by a TLS listener of its own config.
package localauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/construct/access"
	"github.com/fleetapi/fleetapi/internal/local/iampolicy"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// The local account, Region and API, as a deployed stage's ARNs name them.
const (
	Account = "000000000000"
	Region  = "eu-west-1"
	// ApiID and Stage name the local API in execute-api ARNs.
	ApiID = "localapi"
	Stage = "local"
)

// The local account's roles and users.
const (
	VehicleRole     = "arn:aws:iam::" + Account + ":role/fleetapi-local-vehicles"
	CertificateRole = "arn:aws:iam::" + Account + ":role/fleetapi-local-vehicle-certificates"
	// RoleAlias is the role alias vehicles name in the credentials URL.
	RoleAlias = "fleetapi-local-vehicles"
	// AdminUser and ReaderUser hold the fleet classes' long-lived keys.
	AdminUser  = "arn:aws:iam::" + Account + ":user/fleetapi-local-admin"
	ReaderUser = "arn:aws:iam::" + Account + ":user/fleetapi-local-reader"
	// DeveloperUser is who an unsigned request is, when the local API
	// accepts them (-no-auth): both fleet classes, no vehicle.
	DeveloperUser = "arn:aws:iam::" + Account + ":user/fleetapi-local-developer"
	// OperatorUser is the operator who may invoke the local functions
	// directly (Lambda's Invoke): no caller class of the API is, since an
	// event handed to a function says who the caller is.
	OperatorUser = "arn:aws:iam::" + Account + ":user/fleetapi-local-operator"
)

// Paths of the local stand-ins beside the local API (no path of the API
// starts so): STS's AssumeRole, the registration of certificates, and
// Lambda's Invoke of the local functions.
const (
	STSPath          = "/_local/sts"
	ProvisioningPath = "/_local/iot"
	// LambdaPath is the base of the local functions' Lambda Invoke API.
	LambdaPath = "/_local/lambda"
)

// UploadRule is the local upload rule's name, as a deployed stack names
// its (FleetApi_STAGE_Fleet_Uploads): vehicles publish to
// contract.BasicIngestTopic(UploadRule, VID).
const UploadRule = "FleetApi_" + Stage + "_Fleet_Uploads"

// RoleAliasArn is the ARN of the local role alias.
const RoleAliasArn = "arn:aws:iot:" + Region + ":" + Account + ":rolealias/" + RoleAlias

// The fleet's long-lived keys, fixed so that make local prints them the
// same each time; they open nothing but this machine's local API.
var (
	AdminKeys  = aws.Credentials{AccessKeyID: "AKIDFLEETAPILOCALADMIN", SecretAccessKey: "fleetapi-local-admin-secret"}
	ReaderKeys = aws.Credentials{AccessKeyID: "AKIDFLEETAPILOCALREADER", SecretAccessKey: "fleetapi-local-reader-secret"}
	// OperatorKeys invoke the local functions (make redrive); they may call
	// no operation of the API.
	OperatorKeys = aws.Credentials{AccessKeyID: "AKIDFLEETAPILOCALOPERATOR", SecretAccessKey: "fleetapi-local-operator-secret"}
)

// ExecuteApiArn is the execute-api ARN of a method and path of the local
// stage, as API Gateway authorizes a call against it.
func ExecuteApiArn(method, path string) string {
	return "arn:aws:execute-api:" + Region + ":" + Account + ":" + ApiID + "/" + Stage + "/" + method + path
}

// Principal is an identity the authority knows: who signs with a key.
type Principal struct {
	ARN         string
	Credentials aws.Credentials
	// Context holds the condition keys the principal's requests carry:
	// its session tags, the credentials provider's thing name.
	Context map[string][]string
	// Policies are its identity-based policies.
	Policies []iampolicy.Document
}

// Authority holds the local identities and decides with their policies.
type Authority struct {
	now func() time.Time

	mu sync.Mutex
	// keys are the principals by access key ID: the fleet's users and
	// every session issued.
	keys     map[string]*Principal
	registry *Registry

	// The deployed statements, with the local ARNs.
	vehicleTrust iampolicy.Document
	certPolicies []iampolicy.Document
	certPolicy   iampolicy.Document // the IoT policy of vehicle certificates
	classes      map[string][]iampolicy.Document
	developer    []iampolicy.Document
}

// New returns the authority of the local API: the policies of the spec's
// caller classes, the fleet's users, and the registry (which may be nil:
// no vehicle certificates).
func New(spec *api.Spec, registry *Registry, now func() time.Time) (*Authority, error) {
	if now == nil {
		now = time.Now
	}
	a := &Authority{now: now, keys: map[string]*Principal{}, registry: registry, classes: map[string][]iampolicy.Document{}}
	// The policies the construct gives each class's role, and the
	// developer's, of both fleet classes' operations.
	invoke := func(ops []api.Operation, class string) ([]iampolicy.Document, error) {
		statements := []access.Statement{access.Invoke(ops, class, ExecuteApiArn)}
		if d := access.Beyond(spec, ops, class, ExecuteApiArn); d != nil {
			statements = append(statements, *d)
		}
		doc, err := document(statements, "")
		return []iampolicy.Document{doc}, err
	}
	for _, class := range contract.CallerClasses() {
		var err error
		if a.classes[class], err = invoke(access.Operations(spec, class), class); err != nil {
			return nil, err
		}
	}
	var err error
	if a.developer, err = invoke(access.FleetOperations(spec), contract.CallerFleetAdmin); err != nil {
		return nil, err
	}
	if a.vehicleTrust, err = document(access.VehicleRoleTrust(CertificateRole).Statements(), "arn:aws:iam::"+Account+":root"); err != nil {
		return nil, err
	}
	doc, err := document(access.EnterVehicleRole(VehicleRole).Statements(), "")
	if err != nil {
		return nil, err
	}
	a.certPolicies = []iampolicy.Document{doc}
	if a.certPolicy, err = document([]access.Statement{access.CertificatePolicy(RoleAliasArn)}, ""); err != nil {
		return nil, err
	}
	a.keys[AdminKeys.AccessKeyID] = &Principal{ARN: AdminUser, Credentials: AdminKeys, Policies: a.classes[contract.CallerFleetAdmin]}
	a.keys[ReaderKeys.AccessKeyID] = &Principal{ARN: ReaderUser, Credentials: ReaderKeys, Policies: a.classes[contract.CallerFleetRead]}
	a.keys[OperatorKeys.AccessKeyID] = &Principal{ARN: OperatorUser, Credentials: OperatorKeys}
	return a, nil
}

// Developer is the principal of an unsigned request (-no-auth): both fleet
// classes.
func (a *Authority) Developer() *Principal {
	return &Principal{ARN: DeveloperUser, Policies: a.developer}
}

// Grants lists, for the functions (contract.EnvPrincipals), the operations
// each fleet user may call, as the construct grants them.
func (a *Authority) Grants(spec *api.Spec) map[string][]string {
	out := map[string][]string{}
	for arn, class := range map[string]string{AdminUser: contract.CallerFleetAdmin, ReaderUser: contract.CallerFleetRead} {
		for _, op := range access.Operations(spec, class) {
			out[arn] = append(out[arn], op.ID)
		}
	}
	for _, op := range access.FleetOperations(spec) {
		out[DeveloperUser] = append(out[DeveloperUser], op.ID)
	}
	return out
}

// document writes statements as an IAM policy document; with principal
// set, as a trust policy for that role (no resources).
func document(statements []access.Statement, principal string) (iampolicy.Document, error) {
	var out []map[string]any
	for _, s := range statements {
		m := map[string]any{"Effect": "Allow", "Action": s.Actions}
		if s.Deny {
			m["Effect"] = "Deny"
		}
		if principal != "" {
			m["Principal"] = map[string]any{"AWS": principal}
		} else {
			m["Resource"] = s.Resources
		}
		if len(s.Conditions) > 0 {
			m["Condition"] = s.Conditions
		}
		out = append(out, m)
	}
	b, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": out})
	if err != nil {
		return iampolicy.Document{}, err
	}
	return iampolicy.Parse(b)
}

// issue starts a session of role for a principal, with its context and
// policies, valid for d.
func (a *Authority) issue(role, session string, ctx map[string][]string, policies []iampolicy.Document, d time.Duration) *Principal {
	roleName := role[strings.LastIndex(role, "/")+1:]
	p := &Principal{
		ARN: "arn:aws:sts::" + Account + ":assumed-role/" + roleName + "/" + session,
		Credentials: aws.Credentials{
			AccessKeyID: "ASIA" + strings.ToUpper(randomHex(8)), SecretAccessKey: randomHex(20), SessionToken: randomHex(32),
			CanExpire: true, Expires: a.now().Add(d).UTC().Truncate(time.Second),
		},
		Context: ctx, Policies: policies,
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, old := range a.keys { // forget expired sessions
		if old.Credentials.CanExpire && a.now().After(old.Credentials.Expires) {
			delete(a.keys, k)
		}
	}
	a.keys[p.Credentials.AccessKeyID] = p
	return p
}

// EndSessions ends every session issued of role before now, as a restart
// of make local does, or in AWS a deny of the role's sessions issued
// before a time (aws:TokenIssueTime): their credentials are refused from
// then on, though they have not expired. It returns how many it ended.
func (a *Authority) EndSessions(role string) int {
	prefix := "arn:aws:sts::" + Account + ":assumed-role/" + role[strings.LastIndex(role, "/")+1:] + "/"
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for k, p := range a.keys {
		if strings.HasPrefix(p.ARN, prefix) {
			delete(a.keys, k)
			n++
		}
	}
	return n
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Refusals of Verify, as API Gateway's gateway responses name them.
const (
	MissingToken     = "MISSING_AUTHENTICATION_TOKEN"
	InvalidSignature = "INVALID_SIGNATURE"
	ExpiredToken     = "EXPIRED_TOKEN"
)

// maxSkew is how far a request's signing time may be from the clock, as
// SigV4 allows.
const maxSkew = 15 * time.Minute

// Verify checks a request's SigV4 signature for service against the key
// it names and returns who signed, or the refusal: no signature, a key or
// signature that does not match (or a session's token missing), a key
// expired or signed too long ago.
func (a *Authority) Verify(req *http.Request, body []byte, service string) (*Principal, string) {
	auth := req.Header.Get("Authorization")
	const algorithm = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algorithm) {
		return nil, MissingToken
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(strings.TrimPrefix(auth, algorithm), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/") // key/date/region/service/aws4_request
	signedAt, err := time.Parse("20060102T150405Z", req.Header.Get("X-Amz-Date"))
	// The credential scope names "the Region you are targeting" and the
	// service (IAM User Guide, "Elements of an AWS API request
	// signature"): a signature scoped to another is refused, as AWS
	// refuses one ("Credential should be scoped to a valid region").
	if len(scope) != 5 || scope[2] != Region || scope[3] != service || scope[4] != "aws4_request" || err != nil {
		return nil, InvalidSignature
	}
	a.mu.Lock()
	p, known := a.keys[scope[0]]
	a.mu.Unlock()
	if !known {
		return nil, InvalidSignature
	}
	if p.Credentials.SessionToken != "" && req.Header.Get("X-Amz-Security-Token") != p.Credentials.SessionToken {
		return nil, InvalidSignature
	}
	now := a.now()
	if d := now.Sub(signedAt); d > maxSkew || d < -maxSkew || (p.Credentials.CanExpire && now.After(p.Credentials.Expires)) {
		return nil, ExpiredToken
	}
	// Sign the same request, with only the headers the client signed, and
	// compare: the signature proves the secret and the request.
	again, _ := http.NewRequestWithContext(req.Context(), req.Method, req.URL.String(), nil)
	again.Host = req.Host
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		switch h {
		case "host":
		case "content-length": // the signer reads it from the request, not its headers
			again.ContentLength = int64(len(body))
		default:
			again.Header[http.CanonicalHeaderKey(h)] = req.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := p.Credentials
	creds.SessionToken = "" // signed as a header already, if the client sent it
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, again, hex.EncodeToString(sum[:]), service, Region, signedAt); err != nil {
		return nil, InvalidSignature
	}
	if again.Header.Get("Authorization") != auth {
		return nil, InvalidSignature
	}
	return p, ""
}

// MayInvoke reports whether p may call method and path on the local
// stage: IAM's evaluation of p's policies for execute-api:Invoke.
func (a *Authority) MayInvoke(p *Principal, method, path string) bool {
	req := iampolicy.Request{Principal: p.ARN, Action: "execute-api:Invoke", Resource: ExecuteApiArn(method, path), Context: p.Context}
	return iampolicy.Evaluate(req, p.Policies, nil) == iampolicy.Allow
}

// String describes a principal for logs.
func (p *Principal) String() string { return fmt.Sprintf("%s (%s)", p.ARN, p.Credentials.AccessKeyID) }
