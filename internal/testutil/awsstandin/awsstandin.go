// Package awsstandin is a local stand-in, for tests, of the read calls the
// deploy preflight makes: API Gateway's GetAccount, Lambda's
// GetAccountSettings, ListFunctions and GetFunctionConcurrency, SSM's
// GetParameter and Cost Explorer's ListCostAllocationTags; of the
// failure queue the redrive reads, SQS's ReceiveMessage and DeleteMessage;
// of what the synthetic vehicle's custom resource calls, AWS IoT Core's
// certificates, things and policy attachments (iot.go) and Secrets
// Manager's PutSecretValue;
// each in its service's wire protocol (REST JSON for API Gateway and
// Lambda, JSON 1.1 for SSM and Cost Explorer, JSON 1.0 for SQS), so that the AWS SDK's own clients talk to it
// through their endpoint override. It answers from State and records the
// calls; it accepts any signature.
package awsstandin

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
)

// State is the account the stand-in answers for.
type State struct {
	// CloudWatchRoleArn is API Gateway's account setting; "" for none.
	CloudWatchRoleArn string
	// ConcurrentExecutions and UnreservedConcurrentExecutions are Lambda's
	// account limit; Functions the account's functions and their reserved
	// concurrency (0: none).
	ConcurrentExecutions, UnreservedConcurrentExecutions int
	Functions                                            map[string]int
	// Parameters are SSM's parameters by name.
	Parameters map[string]string
	// CostTags are the cost allocation tags by key, "Active" or "Inactive".
	CostTags map[string]string
	// Queue is the bodies of an SQS queue's messages (any QueueUrl).
	Queue []string
	// MissingTypes are the resource types CloudFormation's registry does
	// not have in the Region (DescribeType: TypeNotFoundException); every
	// other AWS:: type is there.
	MissingTypes []string
	// IoTPolicies are the IoT Core policies that exist (AttachPolicy).
	IoTPolicies []string
}

// Server is a running stand-in.
type Server struct {
	*httptest.Server
	mu    sync.Mutex
	state State
	calls []string
	// inFlight marks the queue's messages received and not deleted: as
	// their visibility timeout outlives a test, they are not received again.
	inFlight, deleted map[int]bool
	iot               iotState
}

// Start starts a stand-in on 127.0.0.1; stop it with Close.
func Start(state State) *Server {
	s := &Server{state: state, inFlight: map[int]bool{}, deleted: map[int]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// QueueLeft returns the bodies of the queue's messages not deleted.
func (s *Server) QueueLeft() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for i, b := range s.state.Queue {
		if !s.deleted[i] {
			out = append(out, b)
		}
	}
	return out
}

// Calls lists the operations called, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		s.calls = append(s.calls, target)
		s.json11(w, r, target)
		return
	}
	path := r.URL.Path
	if r.Method == http.MethodPost && path == "/" && r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		s.query(w, r)
		return
	}
	if s.iotRoute(w, r) {
		return
	}
	switch {
	case r.Method == http.MethodGet && path == "/account":
		s.calls = append(s.calls, "apigateway.GetAccount")
		body := map[string]any{"throttleSettings": map[string]any{"burstLimit": 5000, "rateLimit": 10000}}
		if s.state.CloudWatchRoleArn != "" {
			body["cloudwatchRoleArn"] = s.state.CloudWatchRoleArn
		}
		reply(w, "application/json", body)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/2016-08-19/account-settings"):
		s.calls = append(s.calls, "lambda.GetAccountSettings")
		reply(w, "application/json", map[string]any{
			"AccountLimit": map[string]any{
				"ConcurrentExecutions": s.state.ConcurrentExecutions, "UnreservedConcurrentExecutions": s.state.UnreservedConcurrentExecutions,
				"CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800, "TotalCodeSize": 80530636800,
			},
			"AccountUsage": map[string]any{"FunctionCount": len(s.state.Functions), "TotalCodeSize": 0},
		})
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/2015-03-31/functions"):
		s.calls = append(s.calls, "lambda.ListFunctions")
		var fns []map[string]any
		for _, name := range sortedKeys(s.state.Functions) {
			fns = append(fns, map[string]any{"FunctionName": name})
		}
		reply(w, "application/json", map[string]any{"Functions": fns})
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/2019-09-30/functions/") && strings.HasSuffix(path, "/concurrency"):
		s.calls = append(s.calls, "lambda.GetFunctionConcurrency")
		name := strings.TrimSuffix(strings.TrimPrefix(path, "/2019-09-30/functions/"), "/concurrency")
		reserved, ok := s.state.Functions[name]
		if !ok {
			fail(w, http.StatusNotFound, "application/json", "ResourceNotFoundException", "Function not found: "+name)
			return
		}
		body := map[string]any{}
		if reserved > 0 {
			body["ReservedConcurrentExecutions"] = reserved
		}
		reply(w, "application/json", body)
	default:
		fail(w, http.StatusNotFound, "application/json", "UnknownOperationException", r.Method+" "+path)
	}
}

const json11 = "application/x-amz-json-1.1"

func (s *Server) json11(w http.ResponseWriter, r *http.Request, target string) {
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(w, http.StatusBadRequest, json11, "SerializationException", err.Error())
		return
	}
	switch target {
	case "AmazonSQS.ReceiveMessage": // JSON 1.0; at most MaxNumberOfMessages
		limit, _ := in["MaxNumberOfMessages"].(float64)
		var msgs []map[string]any
		for i, b := range s.state.Queue {
			if len(msgs) >= max(int(limit), 1) {
				break
			}
			if s.inFlight[i] || s.deleted[i] {
				continue
			}
			s.inFlight[i] = true
			sum := md5.Sum([]byte(b))
			msgs = append(msgs, map[string]any{"MessageId": fmt.Sprintf("msg-%d", i), "ReceiptHandle": fmt.Sprintf("receipt-%d", i),
				"Body": b, "MD5OfBody": hex.EncodeToString(sum[:])})
		}
		reply(w, "application/x-amz-json-1.0", map[string]any{"Messages": msgs})
	case "AmazonSQS.DeleteMessage":
		var i int
		receipt, _ := in["ReceiptHandle"].(string)
		if _, err := fmt.Sscanf(receipt, "receipt-%d", &i); err != nil || i < 0 || i >= len(s.state.Queue) {
			fail(w, http.StatusBadRequest, "application/x-amz-json-1.0", "ReceiptHandleIsInvalid", receipt)
			return
		}
		s.deleted[i] = true
		reply(w, "application/x-amz-json-1.0", map[string]any{})
	case "secretsmanager.PutSecretValue":
		s.iotInit()
		id, _ := in["SecretId"].(string)
		v, _ := in["SecretString"].(string)
		s.iot.secrets[id] = v
		reply(w, json11, map[string]any{"ARN": id, "VersionId": "v1"})
	case "AmazonSSM.GetParameter":
		name, _ := in["Name"].(string)
		v, ok := s.state.Parameters[name]
		if !ok {
			fail(w, http.StatusBadRequest, json11, "ParameterNotFound", "")
			return
		}
		reply(w, json11, map[string]any{"Parameter": map[string]any{"Name": name, "Type": "String", "Value": v, "Version": 1}})
	case "AWSInsightsIndexService.ListCostAllocationTags":
		var tags []map[string]any
		keys, _ := in["TagKeys"].([]any)
		for _, k := range sortedKeys(s.state.CostTags) {
			if len(keys) > 0 && !slices.Contains(keys, any(k)) {
				continue
			}
			tags = append(tags, map[string]any{"TagKey": k, "Type": "UserDefined", "Status": s.state.CostTags[k]})
		}
		reply(w, json11, map[string]any{"CostAllocationTags": tags})
	default:
		fail(w, http.StatusBadRequest, json11, "UnknownOperationException", target)
	}
}

// query serves the AWS query protocol (form POST, XML answers):
// CloudFormation's DescribeType of a resource type.
func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	const ns = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
	action, name := r.Form.Get("Action"), r.Form.Get("TypeName")
	s.calls = append(s.calls, "cloudformation."+action)
	w.Header().Set("Content-Type", "text/xml")
	if action != "DescribeType" || r.Form.Get("Type") != "RESOURCE" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>%s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, ns, html.EscapeString(action))
		return
	}
	if slices.Contains(s.state.MissingTypes, name) || !strings.HasPrefix(name, "AWS::") {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>TypeNotFoundException</Code><Message>The type '%s' cannot be found.</Message></Error><RequestId>r</RequestId></ErrorResponse>`, ns, html.EscapeString(name))
		return
	}
	fmt.Fprintf(w, `<DescribeTypeResponse xmlns="%s"><DescribeTypeResult><TypeName>%s</TypeName><Type>RESOURCE</Type><Visibility>PUBLIC</Visibility><DeprecatedStatus>LIVE</DeprecatedStatus></DescribeTypeResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeTypeResponse>`,
		ns, html.EscapeString(name))
}

func reply(w http.ResponseWriter, contentType string, body any) {
	w.Header().Set("Content-Type", contentType)
	_ = json.NewEncoder(w).Encode(body)
}

func fail(w http.ResponseWriter, status int, contentType, code, msg string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg, "Message": msg})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// String describes the state, for a test's log.
func (st State) String() string {
	return fmt.Sprintf("role %q, concurrency %d/%d unreserved, %d functions, parameters %v, cost tags %v",
		st.CloudWatchRoleArn, st.UnreservedConcurrentExecutions, st.ConcurrentExecutions, len(st.Functions), st.Parameters, st.CostTags)
}
