package localauth

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fleetapi/fleetapi/internal/local/iampolicy"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// CredentialDuration is how long the local credentials provider's
// credentials last, as the role alias's credentialDurationSeconds.
const CredentialDuration = time.Hour

// maxChained is the longest session of a role assumed with a role's
// credentials ("role chaining", IAM User Guide: at most one hour).
const maxChained = time.Hour

// CredentialsProvider serves what the AWS IoT Core credentials provider
// serves (Developer Guide, "Authorizing direct calls to AWS services
// using AWS IoT Core credential provider"): GET
// /role-aliases/ALIAS/credentials over mutual TLS with a registered,
// active certificate whose IoT policy allows iot:AssumeRoleWithCertificate
// on the alias; a thing named in x-amzn-iot-thingname must be the one the
// certificate is attached to ("If it doesn't match, a 403 error is
// returned"), and becomes credentials-iot:ThingName in the credentials'
// context. The answer is {"credentials": {accessKeyId, secretAccessKey,
// sessionToken, expiration}}.
func (a *Authority) CredentialsProvider() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		refuse := func(status int, msg string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]string{"message": msg})
		}
		alias, ok := strings.CutPrefix(req.URL.Path, "/role-aliases/")
		alias, ok2 := strings.CutSuffix(alias, "/credentials")
		if req.Method != http.MethodGet || !ok || !ok2 {
			refuse(http.StatusNotFound, "no such resource")
			return
		}
		if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 || a.registry == nil {
			refuse(http.StatusForbidden, "Certificate is invalid on this endpoint")
			return
		}
		der := req.TLS.PeerCertificates[0].Raw
		thing, status, registered := a.registry.Lookup(der)
		if !registered || status != StatusActive {
			refuse(http.StatusForbidden, "Certificate is invalid on this endpoint")
			return
		}
		aliasArn := "arn:aws:iot:" + Region + ":" + Account + ":rolealias/" + alias
		if alias != RoleAlias {
			refuse(http.StatusNotFound, "Role alias does not exist")
			return
		}
		may := iampolicy.Request{Principal: "arn:aws:iot:" + Region + ":" + Account + ":cert/" + CertificateID(der), Action: "iot:AssumeRoleWithCertificate", Resource: aliasArn}
		if iampolicy.Evaluate(may, []iampolicy.Document{a.certPolicy}, nil) != iampolicy.Allow {
			refuse(http.StatusForbidden, "Access Denied")
			return
		}
		ctx := map[string][]string{"credentials-iot:AwsCertificateId": {CertificateID(der)}}
		if named := req.Header.Get("x-amzn-iot-thingname"); named != "" {
			if named != thing {
				refuse(http.StatusForbidden, "Access Denied")
				return
			}
			ctx["credentials-iot:ThingName"] = []string{thing}
		}
		// The credentials provider assumes the alias's role (it is trusted
		// by credentials.iot.amazonaws.com on a deployed stage).
		p := a.issue(CertificateRole, CertificateID(der), ctx, a.certPolicies, CredentialDuration)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"credentials": map[string]string{
			"accessKeyId": p.Credentials.AccessKeyID, "secretAccessKey": p.Credentials.SecretAccessKey,
			"sessionToken": p.Credentials.SessionToken, "expiration": p.Credentials.Expires.Format(time.RFC3339),
		}})
	})
}

// STS serves STS's AssumeRole (query protocol, POST form, XML answer) into
// the vehicle role: signed with a principal's credentials, allowed as IAM
// allows it under the caller's policies and the role's trust policy,
// session tags and their keys in the context. Other actions and roles are
// refused.
func (a *Authority) STS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 64<<10))
		if err != nil {
			stsError(w, http.StatusBadRequest, "InvalidRequest", "unreadable body")
			return
		}
		caller, refusal := a.Verify(req, body, "sts")
		if refusal != "" {
			stsError(w, http.StatusForbidden, "InvalidClientTokenId", "the security token included in the request is invalid ("+refusal+")")
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("Action") != "AssumeRole" {
			stsError(w, http.StatusBadRequest, "InvalidAction", "only AssumeRole is served here")
			return
		}
		role, session := form.Get("RoleArn"), form.Get("RoleSessionName")
		if role != VehicleRole {
			stsError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf("%s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, role))
			return
		}
		duration := time.Hour
		if s := form.Get("DurationSeconds"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 900 {
				stsError(w, http.StatusBadRequest, "ValidationError", "DurationSeconds must be at least 900")
				return
			}
			duration = time.Duration(n) * time.Second
		}
		if duration > maxChained {
			stsError(w, http.StatusBadRequest, "ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
			return
		}
		ctx := map[string][]string{"sts:RoleSessionName": {session}}
		for k, v := range caller.Context {
			ctx[k] = v
		}
		tags := map[string]string{}
		var keys []string
		for i := 1; form.Has(fmt.Sprintf("Tags.member.%d.Key", i)); i++ {
			k, v := form.Get(fmt.Sprintf("Tags.member.%d.Key", i)), form.Get(fmt.Sprintf("Tags.member.%d.Value", i))
			tags[k] = v
			keys = append(keys, k)
			ctx["aws:RequestTag/"+k] = []string{v}
		}
		if len(keys) > 0 {
			ctx["aws:TagKeys"] = keys
		}
		actions := []string{"sts:AssumeRole"}
		if len(keys) > 0 {
			actions = append(actions, "sts:TagSession")
		}
		for _, action := range actions {
			r := iampolicy.Request{Principal: caller.ARN, Action: action, Resource: role, Context: ctx}
			if iampolicy.EvaluateAssumeRole(r, caller.Policies, a.vehicleTrust) != iampolicy.Allow {
				stsError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", caller.ARN, action, role))
				return
			}
		}
		sessionCtx := map[string][]string{}
		for k, v := range tags {
			sessionCtx["aws:PrincipalTag/"+k] = []string{v}
		}
		p := a.issue(VehicleRole, session, sessionCtx, a.classes[contract.CallerVehicle], duration)
		type credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		}
		type result struct {
			XMLName xml.Name `xml:"AssumeRoleResponse"`
			Result  struct {
				Credentials credentials `xml:"Credentials"`
				User        struct {
					Arn string `xml:"Arn"`
					ID  string `xml:"AssumedRoleId"`
				} `xml:"AssumedRoleUser"`
			} `xml:"AssumeRoleResult"`
		}
		var out result
		out.Result.Credentials = credentials{p.Credentials.AccessKeyID, p.Credentials.SecretAccessKey, p.Credentials.SessionToken, p.Credentials.Expires.Format(time.RFC3339)}
		out.Result.User.Arn, out.Result.User.ID = p.ARN, "AROALOCALVEHICLES:"+session
		w.Header().Set("Content-Type", "text/xml")
		xml.NewEncoder(w).Encode(out)
	})
}

func stsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	type errorResponse struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Error   struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
	}
	var e errorResponse
	e.Error.Type, e.Error.Code, e.Error.Message = "Sender", code, msg
	xml.NewEncoder(w).Encode(e)
}

// Provisioning serves the local registration of a vehicle's certificate
// under ProvisioningPath, signed by the fleet admin's keys: POST
// /certificates?thing=VID with a PEM certificate request signs it and
// attaches it to the thing (an Issued as JSON); POST
// /certificates/ID/revoke revokes one. On a
// deployed stage these are AWS IoT Core's own APIs (docs/vehicle-registration.md).
func (a *Authority) Provisioning() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		answer := func(status int, v any) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(v)
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, 64<<10))
		if err != nil || a.registry == nil {
			answer(http.StatusBadRequest, map[string]string{"message": "no registry"})
			return
		}
		caller, refusal := a.Verify(req, body, "iot")
		if refusal != "" || caller.ARN != AdminUser {
			answer(http.StatusForbidden, map[string]string{"message": "only the fleet admin's keys register certificates" + refusalText(refusal)})
			return
		}
		path := strings.TrimPrefix(req.URL.Path, ProvisioningPath)
		switch {
		case req.Method == http.MethodPost && path == "/certificates":
			issued, err := a.registry.CreateFromCSR(req.URL.Query().Get("thing"), body)
			if err != nil {
				answer(http.StatusBadRequest, map[string]string{"message": err.Error()})
				return
			}
			answer(http.StatusOK, issued)
		case req.Method == http.MethodPost && strings.HasPrefix(path, "/certificates/") && strings.HasSuffix(path, "/revoke"):
			id := strings.TrimSuffix(strings.TrimPrefix(path, "/certificates/"), "/revoke")
			if err := a.registry.Revoke(id); err != nil {
				answer(http.StatusNotFound, map[string]string{"message": err.Error()})
				return
			}
			answer(http.StatusOK, map[string]string{"certificateId": id, "status": StatusRevoked})
		default:
			answer(http.StatusNotFound, map[string]string{"message": "no such resource"})
		}
	})
}

func refusalText(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}
