package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/fleetapi/fleetapi/internal/local/localauth"
)

// A vehicle's credentials, got over real mutual TLS from the local
// stand-in of the AWS IoT Core credentials provider and its STS: cached,
// got anew before they expire, and a session of the vehicle role as that
// vehicle.
func TestVehicleCredentials(t *testing.T) {
	local := newLocal(t)
	ctx := context.Background()
	cert, _ := local.Provision(t, "car-A")
	o := local.vehicleOptions("car-A", cert)
	// Sessions of 15 minutes, refreshed when less than 15 minutes less a
	// second are left: a second after each is got.
	o.Duration, o.RefreshBefore = 15*time.Minute, 15*time.Minute-time.Second
	creds, err := NewVehicleCredentials(o)
	if err != nil {
		t.Fatal(err)
	}
	first, err := creds.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The cache moves Expires to when it gets them anew: the session's
	// 15 minutes less RefreshBefore.
	if left := time.Until(first.Expires); !first.CanExpire || left <= 0 || left > 2*time.Second {
		t.Errorf("credentials expire at %v (in %v), want in about a second", first.Expires, left)
	}
	if again, _ := creds.Retrieve(ctx); again.AccessKeyID != first.AccessKeyID {
		t.Error("the credentials were got anew at once: not cached")
	}
	time.Sleep(1200 * time.Millisecond)
	later, err := creds.Retrieve(ctx)
	if err != nil || later.AccessKeyID == first.AccessKeyID {
		t.Errorf("credentials near their expiry were not got anew: %v, %v", later.AccessKeyID, err)
	}
	// Whose they are: the vehicle role's session as car-A, its tag car-A.
	p, refusal := local.Auth.Verify(signedRequest(t, later), nil, "execute-api")
	if refusal != "" || p.ARN != "arn:aws:sts::"+localauth.Account+":assumed-role/fleetapi-local-vehicles/car-A" || p.Context["aws:PrincipalTag/vid"][0] != "car-A" {
		t.Errorf("the credentials are %v (%s), want car-A's session of the vehicle role", p, refusal)
	}
}

// What the credentials provider refuses, and the provider says so.
func TestVehicleCredentialsRefused(t *testing.T) {
	local := newLocal(t)
	ctx := context.Background()
	certB, _ := local.Provision(t, "car-B")
	revoked, revokedID := local.Provision(t, "car-C")
	if err := local.Registry.Revoke(revokedID); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		o    VehicleOptions
		want string
	}{
		// "The ThingName that you provide in x-amzn-iot-thingname must match
		// the name of the AWS IoT Thing resource assigned to a cert. If it
		// doesn't match, a 403 error is returned."
		{"a certificate not attached to the named thing", local.vehicleOptions("car-A", certB), "credentials provider answered 403"},
		{"a revoked certificate", local.vehicleOptions("car-C", revoked), "credentials provider answered 403"},
		{"a certificate of another CA", local.vehicleOptions("car-A", selfSigned(t, "car-A")), "credentials provider"},
		{"the endpoint's CA not trusted", func() VehicleOptions { o := local.vehicleOptions("car-B", certB); o.CAFile = ""; return o }(), "certificate"},
		{"another role alias", func() VehicleOptions { o := local.vehicleOptions("car-B", certB); o.RoleAlias = "admins"; return o }(), "credentials provider answered 404"},
		{"a role other than the vehicles'", func() VehicleOptions {
			o := local.vehicleOptions("car-B", certB)
			o.VehicleRoleArn = "arn:aws:iam::" + localauth.Account + ":role/admin"
			return o
		}(), "AccessDenied"},
	} {
		creds, err := NewVehicleCredentials(tt.o)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if c, err := creds.Retrieve(ctx); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, %v; want an error with %q", tt.name, c.AccessKeyID, err, tt.want)
		}
	}
	for _, o := range []VehicleOptions{
		func() VehicleOptions { o := local.vehicleOptions("car-B", certB); o.Duration = 2 * time.Hour; return o }(),
		func() VehicleOptions { o := local.vehicleOptions("car-B", certB); o.ThingName = ""; return o }(),
	} {
		if _, err := NewVehicleCredentials(o); err == nil {
			t.Errorf("NewVehicleCredentials(%+v) accepted", o)
		}
	}
}

// selfSigned is a certificate no registry signed.
func selfSigned(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// signedRequest is a request to the local API signed with creds.
func signedRequest(t *testing.T, creds aws.Credentials) *http.Request {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/vehicles/car-A", nil)
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "execute-api", localauth.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}
