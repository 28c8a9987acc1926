package localauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/fleetapi/fleetapi/api"
)

// A session is verified until it expires, then refused as expired; a
// signature made too long ago is refused too (SigV4's 15 minutes).
func TestVerifyExpiry(t *testing.T) {
	spec, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	a, err := New(spec, nil, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	p := a.issue(VehicleRole, "car-1", map[string][]string{"aws:PrincipalTag/vid": {"car-1"}}, a.classes["vehicle"], 15*time.Minute)
	sign := func(at time.Time) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/vehicles/car-1", nil)
		sum := sha256.Sum256(nil)
		if err := v4.NewSigner().SignHTTP(context.Background(), p.Credentials, req, hex.EncodeToString(sum[:]), "execute-api", Region, at); err != nil {
			t.Fatal(err)
		}
		return req
	}
	if got, refusal := a.Verify(sign(clock), nil, "execute-api"); refusal != "" || got.ARN != p.ARN {
		t.Fatalf("a fresh session: %v %s", got, refusal)
	}
	if !a.MayInvoke(p, "GET", "/vehicles/car-1") || a.MayInvoke(p, "GET", "/vehicles/car-2") {
		t.Error("the session's policy: want its own vid only")
	}
	if _, refusal := a.Verify(sign(clock), nil, "sts"); refusal != InvalidSignature {
		t.Errorf("signed for another service: %q, want %s", refusal, InvalidSignature)
	}
	// "Credential should be scoped to a valid region": a signature scoped
	// to another Region than the stand-in's is refused.
	other, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/vehicles/car-1", nil)
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), p.Credentials, other, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", clock); err != nil {
		t.Fatal(err)
	}
	if _, refusal := a.Verify(other, nil, "execute-api"); refusal != InvalidSignature {
		t.Errorf("signed for us-east-1: %q, want %s", refusal, InvalidSignature)
	}
	clock = clock.Add(16 * time.Minute)
	if _, refusal := a.Verify(sign(clock), nil, "execute-api"); refusal != ExpiredToken {
		t.Errorf("an expired session: %q, want %s", refusal, ExpiredToken)
	}
	if _, refusal := a.Verify(sign(clock.Add(-20*time.Minute)), nil, "execute-api"); refusal != ExpiredToken {
		t.Errorf("signed 20 minutes ago: %q, want %s", refusal, ExpiredToken)
	}
}
