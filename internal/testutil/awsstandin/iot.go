package awsstandin

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The stand-in's AWS IoT Core, in its REST JSON protocol: certificates
// from a certificate request (signed by a CA of the stand-in's),
// things, their principals and policy attachments, with IoT Core's rules
// for deleting them (AWS IoT Core API Reference): an ACTIVE certificate
// cannot be deleted (CertificateStateException), nor one attached to a
// thing or a policy (DeleteConflictException).

// Certificate is a certificate the stand-in's IoT Core issued.
type Certificate struct {
	ID, Arn, PEM, Status string
	// Request is the certificate request it was issued for.
	Request *x509.CertificateRequest
}

// iotState is what the stand-in's IoT Core holds.
type iotState struct {
	ca         *x509.Certificate
	caKey      *ecdsa.PrivateKey
	certs      map[string]*Certificate
	things     map[string][]string // thing → attached principals (certificate ARNs)
	policyOf   map[string][]string // certificate ARN → attached policies
	secrets    map[string]string
	iotStarted bool
}

func (s *Server) iotInit() {
	if s.iot.iotStarted {
		return
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stand-in IoT CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	s.iot.ca, _ = x509.ParseCertificate(der)
	s.iot.caKey = key
	s.iot.certs, s.iot.things, s.iot.policyOf, s.iot.secrets = map[string]*Certificate{}, map[string][]string{}, map[string][]string{}, map[string]string{}
	s.iot.iotStarted = true
}

// Certificates returns the certificates IoT Core holds, by ID.
func (s *Server) Certificates() map[string]Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iotInit()
	out := map[string]Certificate{}
	for id, c := range s.iot.certs {
		out[id] = *c
	}
	return out
}

// Things returns IoT Core's things and the certificate ARNs attached to each.
func (s *Server) Things() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iotInit()
	out := map[string][]string{}
	for t, p := range s.iot.things {
		out[t] = slices.Clone(p)
	}
	return out
}

// PoliciesOf returns the policies attached to a certificate ARN.
func (s *Server) PoliciesOf(arn string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iotInit()
	return slices.Clone(s.iot.policyOf[arn])
}

// Secret returns a secret's string value, "" if none was put.
func (s *Server) Secret(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iotInit()
	return s.iot.secrets[id]
}

// iotRoute serves IoT Core's operations; false when r is none of them.
func (s *Server) iotRoute(w http.ResponseWriter, r *http.Request) bool {
	s.iotInit()
	path := r.URL.Path
	q := r.URL.Query()
	const js = "application/json"
	arnOf := func(id string) string { return "arn:aws:iot:eu-west-1:123456789012:cert/" + id }
	notFound := func(what string) {
		fail(w, http.StatusNotFound, js, "ResourceNotFoundException", what+" does not exist")
	}
	readBody := func() map[string]any {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		return body
	}
	switch {
	case r.Method == http.MethodPost && path == "/certificates":
		s.calls = append(s.calls, "iot.CreateCertificateFromCsr")
		csrPEM, _ := readBody()["certificateSigningRequest"].(string)
		block, _ := pem.Decode([]byte(csrPEM))
		if block == nil || block.Type != "CERTIFICATE REQUEST" {
			fail(w, http.StatusBadRequest, js, "InvalidRequestException", "the certificate signing request is not PEM")
			return true
		}
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil || csr.CheckSignature() != nil {
			fail(w, http.StatusBadRequest, js, "InvalidRequestException", "the certificate signing request is not valid")
			return true
		}
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: csr.Subject,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
			s.iot.ca, csr.PublicKey, s.iot.caKey)
		if err != nil {
			fail(w, http.StatusBadRequest, js, "InvalidRequestException", err.Error())
			return true
		}
		sum := sha256.Sum256(der)
		id := hex.EncodeToString(sum[:])
		status := "INACTIVE"
		if q.Get("setAsActive") == "true" {
			status = "ACTIVE"
		}
		c := &Certificate{ID: id, Arn: arnOf(id), PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), Status: status, Request: csr}
		s.iot.certs[id] = c
		reply(w, js, map[string]any{"certificateId": id, "certificateArn": c.Arn, "certificatePem": c.PEM})
	case strings.HasPrefix(path, "/certificates/"):
		id := strings.TrimPrefix(path, "/certificates/")
		c, ok := s.iot.certs[id]
		switch r.Method {
		case http.MethodGet:
			s.calls = append(s.calls, "iot.DescribeCertificate")
			if !ok {
				notFound("certificate " + id)
				return true
			}
			reply(w, js, map[string]any{"certificateDescription": map[string]any{"certificateId": id, "certificateArn": c.Arn, "status": c.Status, "certificatePem": c.PEM}})
		case http.MethodPut:
			s.calls = append(s.calls, "iot.UpdateCertificate")
			if !ok {
				notFound("certificate " + id)
				return true
			}
			c.Status = q.Get("newStatus")
			w.WriteHeader(http.StatusOK)
		case http.MethodDelete:
			s.calls = append(s.calls, "iot.DeleteCertificate")
			switch {
			case !ok:
				notFound("certificate " + id)
			case c.Status == "ACTIVE":
				fail(w, http.StatusConflict, js, "CertificateStateException", "Certificate must be deactivated (not ACTIVE) before deletion.")
			case len(s.iot.policyOf[c.Arn]) > 0 || s.attached(c.Arn):
				fail(w, http.StatusConflict, js, "DeleteConflictException", "Certificate policies and things must be detached before deletion.")
			default:
				delete(s.iot.certs, id)
				w.WriteHeader(http.StatusOK)
			}
		default:
			return false
		}
	case strings.HasPrefix(path, "/things/") && strings.HasSuffix(path, "/principals"):
		thing, _ := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(path, "/things/"), "/principals"))
		principals, ok := s.iot.things[thing]
		principal := r.Header.Get("X-Amzn-Principal")
		switch r.Method {
		case http.MethodPut:
			s.calls = append(s.calls, "iot.AttachThingPrincipal")
			if !ok {
				notFound("thing " + thing)
				return true
			}
			if !slices.Contains(principals, principal) {
				s.iot.things[thing] = append(principals, principal)
			}
			w.WriteHeader(http.StatusOK)
		case http.MethodDelete:
			s.calls = append(s.calls, "iot.DetachThingPrincipal")
			if !ok {
				notFound("thing " + thing)
				return true
			}
			s.iot.things[thing] = slices.DeleteFunc(principals, func(p string) bool { return p == principal })
			w.WriteHeader(http.StatusOK)
		case http.MethodGet:
			s.calls = append(s.calls, "iot.ListThingPrincipals")
			if !ok {
				notFound("thing " + thing)
				return true
			}
			reply(w, js, map[string]any{"principals": principals})
		default:
			return false
		}
	case strings.HasPrefix(path, "/things/"):
		thing, _ := url.PathUnescape(strings.TrimPrefix(path, "/things/"))
		switch r.Method {
		case http.MethodPost:
			s.calls = append(s.calls, "iot.CreateThing")
			if _, ok := s.iot.things[thing]; !ok {
				s.iot.things[thing] = nil
			}
			reply(w, js, map[string]any{"thingName": thing, "thingArn": "arn:aws:iot:eu-west-1:123456789012:thing/" + thing, "thingId": "t-" + thing})
		case http.MethodDelete:
			s.calls = append(s.calls, "iot.DeleteThing")
			delete(s.iot.things, thing)
			w.WriteHeader(http.StatusOK)
		default:
			return false
		}
	case strings.HasPrefix(path, "/target-policies/"):
		policy, _ := url.PathUnescape(strings.TrimPrefix(path, "/target-policies/"))
		target, _ := readBody()["target"].(string)
		switch r.Method {
		case http.MethodPut:
			s.calls = append(s.calls, "iot.AttachPolicy")
			if !slices.Contains(s.state.IoTPolicies, policy) {
				notFound("policy " + policy)
				return true
			}
			if !slices.Contains(s.iot.policyOf[target], policy) {
				s.iot.policyOf[target] = append(s.iot.policyOf[target], policy)
			}
			w.WriteHeader(http.StatusOK)
		case http.MethodPost:
			s.calls = append(s.calls, "iot.DetachPolicy")
			s.iot.policyOf[target] = slices.DeleteFunc(s.iot.policyOf[target], func(p string) bool { return p == policy })
			w.WriteHeader(http.StatusOK)
		default:
			return false
		}
	case r.Method == http.MethodGet && path == "/endpoint":
		s.calls = append(s.calls, "iot.DescribeEndpoint")
		addresses := map[string]string{"iot:CredentialProvider": "c1a2b3d4e5f6.credentials.iot.eu-west-1.amazonaws.com", "iot:Data-ATS": "a1b2c3d4e5f6-ats.iot.eu-west-1.amazonaws.com"}
		a, ok := addresses[q.Get("endpointType")]
		if !ok {
			fail(w, http.StatusBadRequest, js, "InvalidRequestException", "endpointType "+q.Get("endpointType"))
			return true
		}
		reply(w, js, map[string]any{"endpointAddress": a})
	default:
		return false
	}
	return true
}

// attached reports whether a certificate ARN is attached to a thing.
func (s *Server) attached(arn string) bool {
	for _, p := range s.iot.things {
		if slices.Contains(p, arn) {
			return true
		}
	}
	return false
}
