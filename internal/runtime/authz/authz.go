// Package authz decides, inside a function, whether the caller API Gateway
// authenticated may call an operation on the vehicle its path names. It is
// the second layer of object-level authorization: the first is the
// execute-api policy at the gateway. It trusts nothing but the identity in
// the request context, which API Gateway fills from the SigV4 signature it
// verified: the caller's ARN (requestContext.identity.userArn).
//
// A vehicle calls in a session of the vehicle role whose session name is
// its vid (the role's trust policy makes it so), so its ARN is
// arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/VID. Other callers are the
// roles and users the construct granted operations to.
package authz

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// ErrForbidden is the cause of every refusal: the caller may not call
// the operation, or not on this vehicle.
var ErrForbidden = errors.New("forbidden")

// RefusalError is a refusal, with the reason a log line and the client get.
type RefusalError struct{ Reason string }

func (e *RefusalError) Error() string { return e.Reason }

// Unwrap makes a refusal an ErrForbidden.
func (e *RefusalError) Unwrap() error { return ErrForbidden }

func refuse(format string, args ...any) error {
	return &RefusalError{Reason: fmt.Sprintf(format, args...)}
}

// principal is an IAM role or user (contract.Principal).
type principal = contract.Principal

// Caller is who called, once Check allowed it.
type Caller struct {
	// Class is contract.CallerVehicle for a vehicle, else "" (a
	// principal granted the operation).
	Class string
	// VID is the vehicle a vehicle caller acts for.
	VID string
	// ARN is the caller's ARN as the request context gave it.
	ARN string
}

// Policy is what a function knows of its callers: the vehicle role and
// the operations granted to other principals.
type Policy struct {
	vehicleRole principal
	granted     map[principal]map[string]bool
}

// New returns the policy of a function: vehicleRole is the ARN of the role
// vehicles call in (contract.EnvVehicleRole); principals maps role and
// user ARNs to the operations granted to them (contract.EnvPrincipals).
func New(vehicleRole string, principals map[string][]string) (*Policy, error) {
	role, err := contract.ParsePrincipal(vehicleRole)
	if err != nil || role.Kind != contract.KindRole {
		return nil, fmt.Errorf("vehicle role %q is not an IAM role ARN such as arn:aws:iam::123456789012:role/vehicles", vehicleRole)
	}
	p := &Policy{vehicleRole: role, granted: map[principal]map[string]bool{}}
	for arn, ops := range principals {
		pr, err := contract.ParsePrincipal(arn)
		if err != nil {
			return nil, fmt.Errorf("principal %w", err)
		}
		if pr == role {
			return nil, fmt.Errorf("principal %q is the vehicle role: its sessions act for one vehicle each, never for the fleet", arn)
		}
		if p.granted[pr] == nil {
			p.granted[pr] = map[string]bool{}
		}
		for _, op := range ops {
			p.granted[pr][op] = true
		}
	}
	return p, nil
}

// caller reads the ARN API Gateway puts in requestContext.identity.userArn
// for a SigV4-signed request: a user's ARN, or an assumed role's with the
// session name. Anything else is no identity this API knows. It is on
// every request's path, so it cuts the ARN without allocating.
func caller(arn string) (p principal, session string, err error) {
	rest, ok := strings.CutPrefix(arn, "arn:")
	partition, rest, ok2 := strings.Cut(rest, ":")
	service, rest, ok3 := strings.Cut(rest, ":")
	region, rest, ok4 := strings.Cut(rest, ":")
	account, resource, ok5 := strings.Cut(rest, ":")
	if !ok || !ok2 || !ok3 || !ok4 || !ok5 || partition == "" || region != "" || !contract.IsAccount(account) {
		return principal{}, "", errors.New("not an IAM principal's ARN")
	}
	switch {
	case service == "sts" && strings.HasPrefix(resource, "assumed-role/"):
		role, session, ok := strings.Cut(strings.TrimPrefix(resource, "assumed-role/"), "/")
		if !ok || role == "" || session == "" || strings.Contains(session, "/") {
			return principal{}, "", errors.New("not an assumed role's ARN (assumed-role/ROLE/SESSION)")
		}
		return principal{Partition: partition, Account: account, Kind: contract.KindRole, Name: role}, session, nil
	case service == "iam":
		p, err := contract.ParsePrincipal(arn)
		if err != nil || p.Kind != contract.KindUser {
			return principal{}, "", errors.New("not an IAM user's or assumed role's ARN")
		}
		return p, "", nil
	}
	return principal{}, "", errors.New("not an IAM user's or assumed role's ARN")
}

// Check decides whether the caller of ARN callerArn may call route on the
// vehicle vid of its path ("" when the path names none). A vehicle may
// call a route its class may, on its own vid only; another principal, the
// routes granted to it. Every refusal is a *RefusalError.
func (p *Policy) Check(route contract.Route, callerArn, vid string) (Caller, error) {
	if callerArn == "" {
		return Caller{}, refuse("the request carries no caller identity")
	}
	pr, session, err := caller(callerArn)
	if err != nil {
		return Caller{}, refuse("caller %q: %v", callerArn, err)
	}
	if pr == p.vehicleRole {
		if !route.Allows(contract.CallerVehicle) {
			return Caller{}, refuse("vehicle %s may not call %s: it is not an operation of vehicles", session, route.Operation)
		}
		// The session name is the vid, compared as DynamoDB and the
		// gateway's policy compare it: byte for byte.
		if vid != session {
			return Caller{}, refuse("vehicle %s may not act on vehicle %q", session, vid)
		}
		return Caller{Class: contract.CallerVehicle, VID: session, ARN: callerArn}, nil
	}
	if !p.granted[pr][route.Operation] {
		return Caller{}, refuse("%s may not call %s", pr, route.Operation)
	}
	return Caller{ARN: callerArn}, nil
}
