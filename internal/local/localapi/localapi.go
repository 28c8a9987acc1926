// Package localapi serves the API on a local HTTP port as the deployed
// stage would: routes, path templates and request validation from
// api/swagger.yaml (the body the construct imports), SigV4 verified and
// each caller's policies evaluated as IAM would (package localauth: the
// fleet's keys, vehicles' sessions from their certificates, the same
// statements the construct deploys), the gateway's own JSON answers, and each
// request turned into the API Gateway proxy event that the functions'
// handler code serves, each function with only the operations the spec
// gives it.
package localapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/fleetapi/fleetapi/api"
	"github.com/fleetapi/fleetapi/internal/local/localauth"
	"github.com/fleetapi/fleetapi/internal/runtime/authz"
	"github.com/fleetapi/fleetapi/internal/runtime/httpapi"
	"github.com/fleetapi/fleetapi/internal/shared/accesslog"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
)

// Stage is the stage name the local API reports in its events.
const Stage = localauth.Stage

// UploadRule is the local upload rule's name (localauth.UploadRule).
const UploadRule = localauth.UploadRule

// Upload stores an upload that came over MQTT, as the upload rule hands it
// to the ingest function (package localmqtt calls it).
func (s *Server) Upload(ctx context.Context, ev contract.RuleEvent) error {
	h, ok := s.functions["createEvent"]
	if !ok {
		return errors.New("localapi: no function serves createEvent")
	}
	return h.HandleRule(ctx, ev)
}

// Config wires a Server.
type Config struct {
	// Store serves every function's operations.
	Vehicles httpapi.VehicleStore
	Events   httpapi.EventStore
	States   httpapi.StateStore
	// Tracking, when set, keeps the vehicles' state: its store serves
	// the state's reads when States is nil, and the broker hands it the
	// lifecycle events.
	Tracking *Tracking
	// EventRetention is the stage's event retention.
	EventRetention time.Duration
	// Auth knows the callers: it verifies their SigV4 signatures, decides
	// with their policies, and serves STS and the local registration.
	// Required.
	Auth *localauth.Authority
	// AllowUnsigned makes an unsigned request the local developer's (both
	// fleet classes, no vehicle): for curl.
	AllowUnsigned bool
	// Logger gets one JSON access log line per request, and the functions' logs.
	Logger *slog.Logger
	// DocsHTML is the API reference served at /docs; nil serves none.
	DocsHTML []byte
}

// Server is the local API: an http.Handler.
type Server struct {
	cfg       Config
	router    routers.Router
	responses map[string]gatewayResponse
	functions map[string]*httpapi.Handler // by operationId
	byName    map[string]*httpapi.Handler // by function name, local-FUNCTION
	sts       http.Handler
	iot       http.Handler
	// minCompression is the spec's minimum compression size, -1 for none.
	minCompression int
}

type gatewayResponse struct {
	status int
	body   string
}

// New builds the server from the embedded spec.
func New(cfg Config) (*Server, error) {
	spec, err := api.Load()
	if err != nil {
		return nil, err
	}
	// Route whatever host the server is reached at.
	spec.Doc.Servers = openapi3.Servers{{URL: "/"}}
	router, err := gorillamux.NewRouter(spec.Doc)
	if err != nil {
		return nil, fmt.Errorf("route the spec: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Auth == nil {
		return nil, errors.New("localapi: Auth is required")
	}
	if cfg.States == nil && cfg.Tracking != nil {
		cfg.States = cfg.Tracking.Store
	}
	s := &Server{cfg: cfg, router: router, responses: map[string]gatewayResponse{}, functions: map[string]*httpapi.Handler{}, byName: map[string]*httpapi.Handler{},
		sts: cfg.Auth.STS(), iot: cfg.Auth.Provisioning(), minCompression: -1}
	if n, ok := spec.Doc.Extensions[api.ExtMinimumCompressionSize].(float64); ok {
		s.minCompression = int(n)
	}
	gr, _ := spec.Doc.Extensions[api.ExtGatewayResponses].(map[string]any)
	for kind, v := range gr {
		r, _ := v.(map[string]any)
		code, _ := r["statusCode"].(string)
		status := 0
		fmt.Sscan(code, &status)
		tmpl, _ := r["responseTemplates"].(map[string]any)["application/json"].(string)
		s.responses[kind] = gatewayResponse{status: status, body: tmpl}
	}
	for _, kind := range gatewayKinds {
		if r := s.responses[kind]; r.status == 0 || r.body == "" {
			return nil, fmt.Errorf("localapi: the spec's %s defines no %s with a statusCode and a JSON template: the local gateway answers it", api.ExtGatewayResponses, kind)
		}
	}
	// The functions know the callers as the construct tells them.
	callers, err := authz.New(localauth.VehicleRole, cfg.Auth.Grants(spec))
	if err != nil {
		return nil, err
	}
	for _, fn := range spec.Functions() {
		routes := spec.RoutesOf(fn)
		h, err := httpapi.New(httpapi.Config{
			Routes: routes, Callers: callers, Vehicles: cfg.Vehicles, Events: cfg.Events, States: cfg.States, EventRetention: cfg.EventRetention,
			Logger: cfg.Logger.With("function", fn), FunctionName: "local-" + fn,
		})
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", fn, err)
		}
		for _, r := range routes {
			s.functions[r.Operation] = h
		}
		s.byName["local-"+fn] = h
	}
	return s, nil
}

// invoke is Lambda's Invoke (RequestResponse) of the local functions,
// for the operator's keys: POST LambdaPath/2015-03-31/functions/NAME/invocations
// runs the function with the body as its event; a function error answers
// 200 with X-Amz-Function-Error and {"errorMessage", "errorType"}, as
// Lambda does. cmd/redrive invokes the ingest function so.
func (s *Server) invoke(w http.ResponseWriter, req *http.Request) {
	answer := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 6<<20)) // Lambda's synchronous payload limit
	if err != nil {
		answer(http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	// An event handed to a function says who the caller is: whoever may
	// invoke it may act as any vehicle. The operator alone may, as in a
	// stage no caller class may (docs/security.md).
	caller, refusal := s.cfg.Auth.Verify(req, body, "lambda")
	if refusal != "" || caller.ARN != localauth.OperatorUser {
		answer(http.StatusForbidden, map[string]string{"Type": "User", "message": "only the operator's keys invoke the local functions " + refusal})
		return
	}
	name, ok := strings.CutPrefix(req.URL.Path, localauth.LambdaPath+"/2015-03-31/functions/")
	name, ok2 := strings.CutSuffix(name, "/invocations")
	// A qualifier, NAME:QUALIFIER or ?Qualifier=, as Lambda takes it: the
	// alias every deployed function has, or $LATEST; make local runs one
	// version of each.
	name, qualifier, _ := strings.Cut(name, ":")
	if q := req.URL.Query().Get("Qualifier"); q != "" {
		qualifier = q
	}
	h := s.byName[name]
	if qualifier != "" && qualifier != contract.LiveAlias && qualifier != "$LATEST" {
		h, name = nil, name+":"+qualifier
	}
	if !ok || !ok2 || req.Method != http.MethodPost || h == nil {
		answer(http.StatusNotFound, map[string]string{"Type": "User", "message": "Function not found: " + name})
		return
	}
	out, err := h.Invoke(req.Context(), body)
	if err != nil {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		answer(http.StatusOK, map[string]string{"errorMessage": err.Error(), "errorType": "errorString"})
		return
	}
	if out == nil {
		out = []byte("null")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// accessLog holds the values of a request's access log line, by the
// $context variable the stage's format (package accesslog) names.
type accessLog map[string]string

func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch {
	case req.URL.Path == localauth.STSPath || req.URL.Path == localauth.STSPath+"/":
		s.sts.ServeHTTP(w, req)
		return
	case strings.HasPrefix(req.URL.Path, localauth.ProvisioningPath+"/"):
		s.iot.ServeHTTP(w, req)
		return
	case strings.HasPrefix(req.URL.Path, localauth.LambdaPath+"/"):
		s.invoke(w, req)
		return
	}
	// The API reference, beside the API (no path of the API starts so).
	if req.Method == http.MethodGet && (req.URL.Path == "/docs" || req.URL.Path == "/docs/swagger.yaml") {
		if req.URL.Path == "/docs/swagger.yaml" {
			w.Header().Set("Content-Type", "application/yaml")
			w.Write(api.SpecYAML)
			return
		}
		if s.cfg.DocsHTML != nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(s.cfg.DocsHTML)
			return
		}
	}
	start := time.Now()
	id := newID()
	entry := accessLog{"$context.requestId": id, "$context.extendedRequestId": id[:16],
		// API Gateway's requestTime: CLF, 02/Dec/2026:00:14:45 +0000.
		"$context.requestTime":        start.UTC().Format("02/Jan/2006:15:04:05 -0700"),
		"$context.identity.sourceIp":  host(req.RemoteAddr),
		"$context.identity.userAgent": req.UserAgent(),
		"$context.httpMethod":         req.Method,
		"$context.protocol":           req.Proto,
	}
	status, headers, body := s.serve(req, id, entry)
	w.Header().Set("x-amzn-RequestId", id)
	w.Header().Set("Content-Type", "application/json")
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	// The stage compresses an answer of the minimum compression size and
	// more for a client that accepts gzip (API Gateway Developer Guide,
	// "Content encoding for REST APIs").
	sent := []byte(body)
	if s.minCompression >= 0 && len(body) >= s.minCompression && acceptsGzip(req.Header.Get("Accept-Encoding")) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(sent)
		zw.Close()
		sent = buf.Bytes()
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(status)
	w.Write(sent)
	entry["$context.status"] = strconv.Itoa(status)
	entry["$context.responseLength"] = strconv.Itoa(len(body))
	entry["$context.responseLatency"] = strconv.FormatInt(time.Since(start).Milliseconds(), 10)
	s.cfg.Logger.Info("access", "log", accesslog.Line(entry))
}

// serve answers one request as the gateway and the function would.
func (s *Server) serve(req *http.Request, id string, entry accessLog) (int, map[string]string, string) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 10<<20+1))
	if err != nil || len(body) > 10<<20 {
		return s.gateway("REQUEST_TOO_LARGE", entry)
	}
	// One path for routing and for IAM: the request's, decoded once. An
	// encoded "/" is then a separator for both (AWS documents how an HTTP
	// API decodes a path, not how a REST API matches an encoded one: the
	// stand-in takes the stricter reading, and no vid or eid may hold a
	// "/" or a "%" anyway).
	routed := req.Clone(req.Context())
	routed.URL.RawPath = ""
	route, params, err := s.router.FindRoute(routed)
	for k, v := range params {
		if u, err := url.PathUnescape(v); err == nil {
			params[k] = u
		}
	}
	if err != nil {
		// API Gateway answers an unknown path or method of an IAM-signed
		// API as a missing authentication token.
		return s.gateway("MISSING_AUTHENTICATION_TOKEN", entry)
	}
	entry["$context.resourcePath"] = route.Path
	var caller *localauth.Principal
	if s.cfg.AllowUnsigned && req.Header.Get("Authorization") == "" {
		caller = s.cfg.Auth.Developer()
	} else {
		var kind string
		if caller, kind = s.cfg.Auth.Verify(req, body, "execute-api"); kind != "" {
			return s.gateway(kind, entry)
		}
	}
	entry["$context.identity.caller"], entry["$context.identity.userArn"] = caller.Credentials.AccessKeyID, caller.ARN
	// The caller's policies for execute-api:Invoke on this method and
	// path, as API Gateway's IAM authorization decides (its 403).
	if !s.cfg.Auth.MayInvoke(caller, req.Method, req.URL.Path) {
		return s.gateway("ACCESS_DENIED", entry)
	}
	if kind := validate(req, route, params, body); kind != "" {
		return s.gateway(kind, entry)
	}
	ev := proxyEvent(req, route, params, body, id, caller.Credentials.AccessKeyID, caller.ARN)
	h := s.functions[route.Operation.OperationID]
	start := time.Now()
	resp, _ := h.Handle(req.Context(), ev)
	entry["$context.integration.status"] = "200" // the invocation's, not the answer's
	entry["$context.integration.latency"] = strconv.FormatInt(time.Since(start).Milliseconds(), 10)
	return resp.StatusCode, resp.Headers, resp.Body
}

// acceptsGzip reports whether an Accept-Encoding header accepts gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// gatewayKinds are the gateway responses the local gateway answers.
var gatewayKinds = []string{
	"ACCESS_DENIED", "BAD_REQUEST_BODY", "BAD_REQUEST_PARAMETERS", "EXPIRED_TOKEN", "INVALID_SIGNATURE",
	"MISSING_AUTHENTICATION_TOKEN", "REQUEST_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE",
}

// host is the address of a remote address without its port.
func host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// gateway is one of the gateway's own answers, as the spec defines them.
func (s *Server) gateway(kind string, entry accessLog) (int, map[string]string, string) {
	entry["$context.error.responseType"] = kind
	r := s.responses[kind] // New checked that the spec defines each
	return r.status, nil, r.body
}

// validate is the validator "all" of the spec: required parameters present
// and not blank, and the body against its schema. API Gateway does not
// check parameters' schemas; the functions do.
func validate(req *http.Request, route *routers.Route, params map[string]string, body []byte) string {
	for _, p := range append(route.PathItem.Parameters, route.Operation.Parameters...) {
		if !p.Value.Required {
			continue
		}
		var v string
		switch p.Value.In {
		case "path":
			v = params[p.Value.Name]
		case "query":
			v = req.URL.Query().Get(p.Value.Name)
		case "header":
			v = req.Header.Get(p.Value.Name)
		}
		if strings.TrimSpace(v) == "" {
			return "BAD_REQUEST_PARAMETERS"
		}
	}
	if route.Operation.RequestBody == nil {
		return ""
	}
	clone := req.Clone(req.Context()) // the body was read: validate a copy
	clone.Body = io.NopCloser(bytes.NewReader(body))
	input := &openapi3filter.RequestValidationInput{
		Request: clone, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeRequestQueryParams: true},
	}
	if err := openapi3filter.ValidateRequestBody(req.Context(), input, route.Operation.RequestBody.Value); err != nil {
		var rerr *openapi3filter.RequestError
		if errors.As(err, &rerr) && strings.Contains(err.Error(), "header Content-Type") {
			return "UNSUPPORTED_MEDIA_TYPE"
		}
		return "BAD_REQUEST_BODY"
	}
	return ""
}

// proxyEvent is the API Gateway REST proxy event of a request.
func proxyEvent(req *http.Request, route *routers.Route, params map[string]string, body []byte, id, caller, callerArn string) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{
		Resource: route.Path, Path: req.URL.Path, HTTPMethod: req.Method,
		Headers: map[string]string{}, MultiValueHeaders: map[string][]string{},
		QueryStringParameters: map[string]string{}, MultiValueQueryStringParameters: map[string][]string{},
		PathParameters: params,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: id, ExtendedRequestID: id[:16], OperationName: route.Operation.OperationID,
			ResourcePath: route.Path, HTTPMethod: req.Method, Stage: Stage, Path: "/" + Stage + req.URL.Path,
			Identity: events.APIGatewayRequestIdentity{Caller: caller, UserArn: callerArn, SourceIP: req.RemoteAddr, UserAgent: req.UserAgent()},
		},
	}
	for k, vs := range req.Header {
		ev.Headers[k], ev.MultiValueHeaders[k] = vs[len(vs)-1], vs
	}
	for k, vs := range req.URL.Query() {
		ev.QueryStringParameters[k], ev.MultiValueQueryStringParameters[k] = vs[len(vs)-1], vs
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
