package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Pages of AWS's documentation the import rules stand for.
const (
	docNotes      = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-known-issues.html#api-gateway-known-issues-rest-apis"
	docResponses  = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-gateway-responses.gatewayResponse.html"
	docVariables  = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html ($context.error.message)"
	docAuthType   = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authtype.html"
	docValidation = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-request-validation.html"
	docValidators = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-request-validators.html"
	docQuotas     = "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html (integration timeout)"
	docLambda     = "https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html"
	docCompress   = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-openapi-minimum-compression-size.html"
)

// importRule is one documented behaviour of API Gateway's OpenAPI import
// that this API relies on, checked on the Body the construct imports.
type importRule struct {
	name string
	// doc says what AWS documents, and where.
	doc   string
	check func(b *importBody) []string
}

// importBody is the imported document with what the rules need beside it.
type importBody struct {
	doc map[string]any
	// functionTimeoutsMs are the Timeout of the stack's functions, by logical ID.
	functionTimeoutsMs map[string]float64
}

// TestApiGatewayImportRules checks the Body of every stage's REST API, as
// synthesized, against API Gateway's documented import rules; a broken rule
// fails naming the rule, the operation and what is wrong.
func TestApiGatewayImportRules(t *testing.T) {
	forEachStage(t, func(t *testing.T, stageName string, s *synthesis) {
		b := &importBody{functionTimeoutsMs: map[string]float64{}}
		for id, r := range s.resourcesOfType("AWS::ApiGateway::RestApi") {
			if b.doc != nil {
				t.Fatalf("more than one REST API (%s)", id)
			}
			b.doc, _ = r.Properties["Body"].(map[string]any)
		}
		if b.doc == nil {
			t.Fatal("no REST API with a Body")
		}
		for id, fn := range s.apiFunctions() {
			secs, _ := fn.Properties["Timeout"].(float64)
			b.functionTimeoutsMs[id] = secs * 1000
		}
		for _, rule := range importRules {
			for _, v := range rule.check(b) {
				t.Errorf("rule %q: %s\n    documented: %s", rule.name, v, rule.doc)
			}
		}
	})
}

// TestImportRulesCatchBrokenBodies proves each rule can fail: a body broken
// the way the rule forbids is reported.
func TestImportRulesCatchBrokenBodies(t *testing.T) {
	s := synth(t, stageNames[0])
	var body map[string]any
	for _, r := range s.resourcesOfType("AWS::ApiGateway::RestApi") {
		body, _ = r.Properties["Body"].(map[string]any)
	}
	op := func(doc map[string]any, path, method string) map[string]any {
		return dig(doc, "paths", path, method).(map[string]any)
	}
	breaks := map[string]func(doc map[string]any){
		"operation-level security": func(doc map[string]any) {
			delete(op(doc, "/vehicles", "get"), "security")
			doc["security"] = []any{map[string]any{"sigv4": []any{}}}
		},
		"gateway responses are JSON whatever is substituted": func(doc map[string]any) {
			dig(doc, "x-amazon-apigateway-gateway-responses", "BAD_REQUEST_BODY", "responseTemplates").(map[string]any)["application/json"] =
				`{"error":{"code":"BadRequest","message":"$context.error.validationErrorString"}}`
		},
		"status codes, not default or ranges": func(doc map[string]any) {
			r := op(doc, "/vehicles", "get")["responses"].(map[string]any)
			r["default"] = r["500"]
		},
		"response schemas are objects": func(doc map[string]any) {
			dig(op(doc, "/vehicles", "get"), "responses", "200", "content", "application/json").(map[string]any)["schema"] = map[string]any{"type": "string"}
		},
		"exact media types": func(doc map[string]any) {
			c := dig(op(doc, "/vehicles", "post"), "requestBody", "content").(map[string]any)
			c["application/*"] = c["application/json"]
		},
		"responses inline": func(doc map[string]any) {
			op(doc, "/vehicles", "get")["responses"].(map[string]any)["400"] = map[string]any{"$ref": "#/components/responses/BadRequest"}
		},
		"no examples": func(doc map[string]any) {
			dig(doc, "components", "schemas", "Upload").(map[string]any)["example"] = map[string]any{}
		},
		"unique parameters": func(doc map[string]any) {
			o := op(doc, "/vehicles", "get")
			o["parameters"] = append(o["parameters"].([]any), map[string]any{"name": "LIMIT", "in": "query", "schema": map[string]any{"type": "string"}})
		},
		"request schemas use what the gateway's validator enforces": func(doc map[string]any) {
			dig(doc, "components", "schemas", "NewVehicle", "properties", "make").(map[string]any)["format"] = "uuid"
		},
		"validators exist": func(doc map[string]any) {
			op(doc, "/vehicles", "get")["x-amazon-apigateway-request-validator"] = "params-only"
		},
		"integration timeout": func(doc map[string]any) {
			dig(op(doc, "/vehicles", "get"), "x-amazon-apigateway-integration").(map[string]any)["timeoutInMillis"] = 5000.0
		},
		"Lambda proxy integrations": func(doc map[string]any) {
			dig(op(doc, "/vehicles", "get"), "x-amazon-apigateway-integration").(map[string]any)["httpMethod"] = "GET"
		},
		"path segments": func(doc map[string]any) {
			paths := doc["paths"].(map[string]any)
			paths["/vehicles/v{vid}"] = paths["/vehicles/{vid}"]
		},
		"model names": func(doc map[string]any) {
			schemas := dig(doc, "components", "schemas").(map[string]any)
			schemas["Vehicle_List"] = schemas["VehicleList"]
		},
		"minimum compression size": func(doc map[string]any) {
			doc["x-amazon-apigateway-minimum-compression-size"] = 20e6
		},
	}
	for _, rule := range importRules {
		brk, ok := breaks[rule.name]
		if !ok {
			t.Errorf("rule %q has no broken body to prove it can fail", rule.name)
			continue
		}
		var doc map[string]any
		raw, _ := json.Marshal(body)
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		brk(doc)
		b := &importBody{doc: doc, functionTimeoutsMs: map[string]float64{"Fn": 10_000}}
		if len(rule.check(b)) == 0 {
			t.Errorf("rule %q passed a body broken against it", rule.name)
		}
	}
}

// hostile are values API Gateway could substitute for a variable.
var hostile = []string{`"`, `\`, `"]}`, "\n", `"},"code":"x`, "\u0000", `[object has missing required properties (["make"])]`}

// templateVariable matches a variable reference of a template: $context.x,
// $stageVariables.x, $input..., ${...}.
var templateVariable = regexp.MustCompile(`\$\{[^}]*\}|\$[A-Za-z][A-Za-z0-9_.]*`)

var (
	statusCode     = regexp.MustCompile(`^[1-5][0-9][0-9]$`)
	pathSegment    = regexp.MustCompile(`^([A-Za-z0-9_.,:-]+|\{[A-Za-z0-9_]+\+?\})$`)
	modelName      = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	methods        = []string{"get", "put", "post", "delete", "options", "head", "patch", "x-amazon-apigateway-any-method"}
	gatewayEnforce = []string{
		// JSON Schema draft 4 validation keywords the request validator applies.
		"type", "properties", "required", "additionalProperties", "items", "enum",
		"minLength", "maxLength", "pattern", "minimum", "maximum", "minProperties", "maxProperties",
		// Annotations, not validation.
		"description", "title", "$ref", "default",
	}
	// functionOnly are the places of the request schemas whose keyword the
	// gateway may not enforce, each with the function check that does;
	// docs/architecture.md's "Where requests are checked" lists them.
	functionOnly = map[string]string{
		"Timestamp format":        "httpapi decodes each timestamp as RFC 3339 (date-time), at most 35 characters",
		"Upload.samples minItems": "fleet.NewEvent refuses an upload of no sample",
		"Upload.samples maxItems": "fleet.NewEvent refuses an upload of more than 100 samples",
	}
)

var importRules = []importRule{
	{
		name: "operation-level security",
		doc:  "API Gateway ignores the root-level security of an imported OpenAPI document; security is set per operation (" + docNotes + "). A scheme is enforced only with x-amazon-apigateway-authtype, awsSigv4 for IAM (" + docAuthType + ")",
		check: func(b *importBody) []string {
			var out []string
			schemes, _ := dig(b.doc, "components", "securitySchemes").(map[string]any)
			b.eachOperation(func(where string, op map[string]any) {
				reqs, _ := op["security"].([]any)
				if len(reqs) == 0 {
					out = append(out, where+": no security of its own: it would be deployed with authorization NONE")
				}
				for _, r := range reqs {
					req, _ := r.(map[string]any)
					if len(req) == 0 {
						out = append(out, where+": an empty security requirement lets unsigned requests in")
					}
					for name := range req {
						scheme, _ := schemes[name].(map[string]any)
						if scheme["type"] != "apiKey" || scheme["x-amazon-apigateway-authtype"] != "awsSigv4" {
							out = append(out, fmt.Sprintf("%s: security scheme %q is not an apiKey scheme with x-amazon-apigateway-authtype awsSigv4", where, name))
						}
					}
				}
			})
			return out
		},
	},
	{
		name: "gateway responses are JSON whatever is substituted",
		doc:  "a gateway response template is not processed by VTL: $context variables are substituted as they are, unescaped (" + docVariables + "); its statusCode is a string (" + docResponses + ")",
		check: func(b *importBody) []string {
			var out []string
			responses, _ := b.doc["x-amazon-apigateway-gateway-responses"].(map[string]any)
			if len(responses) == 0 {
				return []string{"no gateway responses: API Gateway's default answers are not the API's JSON error shape"}
			}
			for _, kind := range slices.Sorted(maps.Keys(responses)) {
				r, _ := responses[kind].(map[string]any)
				if code, ok := r["statusCode"]; ok {
					if s, _ := code.(string); !statusCode.MatchString(s) {
						out = append(out, fmt.Sprintf("%s: statusCode %#v, want a string such as \"400\"", kind, code))
					}
				}
				templates, _ := r["responseTemplates"].(map[string]any)
				tmpl, _ := templates["application/json"].(string)
				if tmpl == "" {
					out = append(out, kind+": no application/json template")
				}
				for _, value := range hostile {
					rendered := templateVariable.ReplaceAllLiteralString(tmpl, value)
					var got struct {
						Error struct {
							Code    *string `json:"code"`
							Message *string `json:"message"`
						} `json:"error"`
					}
					if err := json.Unmarshal([]byte(rendered), &got); err != nil || got.Error.Code == nil || got.Error.Message == nil {
						out = append(out, fmt.Sprintf("%s: with %q substituted the answer is not the JSON error shape: %s", kind, value, rendered))
						break
					}
				}
			}
			return out
		},
	},
	{
		name: "status codes, not default or ranges",
		doc:  "each response of an operation becomes a method response, which is keyed by an HTTP status code (" + docNotes + ")",
		check: func(b *importBody) []string {
			var out []string
			b.eachOperation(func(where string, op map[string]any) {
				responses, _ := op["responses"].(map[string]any)
				for code := range responses {
					if !statusCode.MatchString(code) {
						out = append(out, fmt.Sprintf("%s: response %q is not a status code", where, code))
					}
				}
			})
			return out
		},
	},
	{
		name: "response schemas are objects",
		doc:  "in method responses, a schema must be of an object type, not a primitive type (" + docNotes + ")",
		check: func(b *importBody) []string {
			var out []string
			b.eachOperation(func(where string, op map[string]any) {
				responses, _ := op["responses"].(map[string]any)
				for code, r := range responses {
					content, _ := dig(r, "content").(map[string]any)
					for mediaType, m := range content {
						if schema := b.resolve(dig(m, "schema")); schema != nil && schema["type"] != "object" {
							out = append(out, fmt.Sprintf("%s: response %s %s has a schema of type %v", where, code, mediaType, schema["type"]))
						}
					}
				}
			})
			return out
		},
	},
	{
		name: "exact media types",
		doc:  "models, validation and mapping are chosen by the request's exact Content-Type (" + docValidation + ")",
		check: func(b *importBody) []string {
			var out []string
			b.eachOperation(func(where string, op map[string]any) {
				content, _ := dig(op, "requestBody", "content").(map[string]any)
				for mediaType := range content {
					if strings.Contains(mediaType, "*") {
						out = append(out, fmt.Sprintf("%s: request media type range %q", where, mediaType))
					}
				}
			})
			return out
		},
	},
	{
		name: "responses inline",
		doc:  "a response defined as a $ref to the document's responses is not supported: replace the reference by the inline definition (" + docNotes + ")",
		check: func(b *importBody) []string {
			var out []string
			b.eachOperation(func(where string, op map[string]any) {
				responses, _ := op["responses"].(map[string]any)
				for code, r := range responses {
					if ref := dig(r, "$ref"); ref != nil {
						out = append(out, fmt.Sprintf("%s: response %s is a $ref (%v)", where, code, ref))
					}
				}
			})
			return out
		},
	},
	{
		name: "no examples",
		doc:  "the example tag is not supported (" + docNotes + ")",
		check: func(b *importBody) []string {
			var out []string
			walk(b.doc, "", func(path string, m map[string]any) {
				for _, k := range []string{"example", "examples"} {
					if _, ok := m[k]; ok && !strings.HasSuffix(path, "/properties") {
						out = append(out, fmt.Sprintf("%s has %q", path, k))
					}
				}
			})
			return out
		},
	},
	{
		name: "unique parameters",
		doc:  "header names and query parameters are processed case-sensitively, and duplicated query string parameters and headers are not supported (" + docNotes + ")",
		check: func(b *importBody) []string {
			var out []string
			b.eachOperationWithPath(func(where, path string, item, op map[string]any) {
				seen := map[string]bool{}
				params := append(asList(item["parameters"]), asList(op["parameters"])...)
				for _, p := range params {
					param := b.resolve(p)
					if param == nil {
						continue
					}
					key := fmt.Sprint(param["in"], " ", strings.ToLower(fmt.Sprint(param["name"])))
					if seen[key] {
						out = append(out, fmt.Sprintf("%s: parameter %v %q declared twice (names compared without case)", where, param["in"], param["name"]))
					}
					seen[key] = true
				}
				for _, seg := range strings.Split(path, "/") {
					if name, ok := strings.CutPrefix(seg, "{"); ok && !seen["path "+strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(name, "}"), "+"))] {
						out = append(out, fmt.Sprintf("%s: path parameter %s is not declared", where, seg))
					}
				}
			})
			return out
		},
	},
	{
		name: "request schemas use what the gateway's validator enforces",
		doc:  "request models are JSON Schema draft 4, and maxItems and minItems are not in simple request validation (" + docNotes + "); keywords the gateway may not enforce are enforced by the functions, and listed",
		check: func(b *importBody) []string {
			var out []string
			b.eachOperation(func(where string, op map[string]any) {
				content, _ := dig(op, "requestBody", "content").(map[string]any)
				for _, m := range content {
					b.walkSchema(dig(m, "schema"), where+" body", map[string]bool{}, func(at, keyword string, schema map[string]any) {
						// A number's format (int32, int64, float, double) says its size
						// for code generators only: its bounds are minimum and maximum.
						if keyword == "format" && (schema["type"] == "integer" || schema["type"] == "number") &&
							slices.Contains([]any{"int32", "int64", "float", "double"}, schema["format"]) {
							return
						}
						if !slices.Contains(gatewayEnforce, keyword) && functionOnly[at+" "+keyword] == "" {
							out = append(out, fmt.Sprintf("%s: keyword %q, which the gateway's draft 4 validator does not enforce and no function check is listed for", at, keyword))
						}
					})
				}
			})
			return out
		},
	},
	{
		name: "validators exist",
		doc:  "x-amazon-apigateway-request-validator names a validator of x-amazon-apigateway-request-validators (" + docValidators + ")",
		check: func(b *importBody) []string {
			var out []string
			validators, _ := b.doc["x-amazon-apigateway-request-validators"].(map[string]any)
			b.eachOperation(func(where string, op map[string]any) {
				name, _ := op["x-amazon-apigateway-request-validator"].(string)
				v, _ := validators[name].(map[string]any)
				if v == nil {
					out = append(out, fmt.Sprintf("%s: request validator %q is not declared", where, name))
				} else if v["validateRequestBody"] != true || v["validateRequestParameters"] != true {
					out = append(out, fmt.Sprintf("%s: request validator %q does not validate both body and parameters", where, name))
				}
			})
			return out
		},
	},
	{
		name: "integration timeout",
		doc:  "an integration times out after 50 ms to 29 s, 29 s by default (" + docQuotas + "): a function must time out first, or the client gets the gateway's 504 while it still runs",
		check: func(b *importBody) []string {
			var out []string
			b.eachOperation(func(where string, op map[string]any) {
				timeout := 29_000.0
				if v, ok := dig(op, "x-amazon-apigateway-integration", "timeoutInMillis").(float64); ok {
					timeout = v
				}
				if timeout < 50 || timeout > 29_000 {
					out = append(out, fmt.Sprintf("%s: integration timeout %v ms, allowed 50 to 29000", where, timeout))
				}
				for id, fn := range b.functionTimeoutsMs {
					if fn > timeout {
						out = append(out, fmt.Sprintf("%s: function %s times out after %v ms, later than the integration's %v ms", where, id, fn, timeout))
					}
				}
			})
			return out
		},
	},
	{
		name: "Lambda proxy integrations",
		doc:  "a Lambda proxy integration is of type aws_proxy and calls the function's invocation ARN with POST (" + docLambda + ")",
		check: func(b *importBody) []string {
			var out []string
			b.eachOperation(func(where string, op map[string]any) {
				in, _ := op["x-amazon-apigateway-integration"].(map[string]any)
				uri, _ := json.Marshal(in["uri"])
				if in["type"] != "aws_proxy" || in["httpMethod"] != "POST" || !strings.Contains(string(uri), ":lambda:path/2015-03-31/functions/") {
					out = append(out, fmt.Sprintf("%s: integration type %v, httpMethod %v, uri %s", where, in["type"], in["httpMethod"], uri))
				}
			})
			return out
		},
	},
	{
		name: "path segments",
		doc:  "path segments hold only letters, digits, '-', '.', '_', ',', ':' and braces; a path parameter is a whole segment (" + docNotes + ")",
		check: func(b *importBody) []string {
			var out []string
			paths, _ := b.doc["paths"].(map[string]any)
			for path := range paths {
				for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
					if !pathSegment.MatchString(seg) {
						out = append(out, fmt.Sprintf("path %s: segment %q", path, seg))
					}
				}
			}
			return out
		},
	},
	{
		name: "model names",
		doc:  "model names hold only letters and digits (" + docNotes + ")",
		check: func(b *importBody) []string {
			var out []string
			schemas, _ := dig(b.doc, "components", "schemas").(map[string]any)
			for name := range schemas {
				if !modelName.MatchString(name) {
					out = append(out, fmt.Sprintf("schema %q", name))
				}
			}
			return out
		},
	},
	{
		name: "minimum compression size",
		doc:  "x-amazon-apigateway-minimum-compression-size is 0 to 10485760 bytes (" + docCompress + ")",
		check: func(b *importBody) []string {
			v, ok := b.doc["x-amazon-apigateway-minimum-compression-size"].(float64)
			if !ok || v < 0 || v > 10485760 || v != float64(int(v)) {
				return []string{fmt.Sprintf("x-amazon-apigateway-minimum-compression-size %v", b.doc["x-amazon-apigateway-minimum-compression-size"])}
			}
			return nil
		},
	},
}

// eachOperation calls f with "operationId (METHOD path)" and each operation.
func (b *importBody) eachOperation(f func(where string, op map[string]any)) {
	b.eachOperationWithPath(func(where, _ string, _, op map[string]any) { f(where, op) })
}

func (b *importBody) eachOperationWithPath(f func(where, path string, item, op map[string]any)) {
	paths, _ := b.doc["paths"].(map[string]any)
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		item, _ := paths[path].(map[string]any)
		for _, method := range methods {
			if op, ok := item[method].(map[string]any); ok {
				f(fmt.Sprintf("operation %v (%s %s)", op["operationId"], strings.ToUpper(method), path), path, item, op)
			}
		}
	}
}

// resolve follows a local $ref ("#/components/...") to the object it names.
func (b *importBody) resolve(v any) map[string]any {
	m, _ := v.(map[string]any)
	for i := 0; m != nil && i < 10; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		m, _ = dig(b.doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...).(map[string]any)
	}
	return m
}

// walkSchema calls f with each keyword of a schema and of the schemas in it.
func (b *importBody) walkSchema(v any, at string, seen map[string]bool, f func(at, keyword string, schema map[string]any)) {
	if m, _ := v.(map[string]any); m != nil {
		if ref, ok := m["$ref"].(string); ok {
			if seen[ref] {
				return
			}
			seen[ref] = true
			at = strings.TrimPrefix(ref, "#/components/schemas/")
		}
	}
	schema := b.resolve(v)
	for _, k := range slices.Sorted(maps.Keys(schema)) {
		f(at, k, schema)
		switch k {
		case "properties":
			props, _ := schema[k].(map[string]any)
			for _, name := range slices.Sorted(maps.Keys(props)) {
				b.walkSchema(props[name], at+"."+name, seen, f)
			}
		case "items", "additionalProperties":
			if _, ok := schema[k].(map[string]any); ok {
				b.walkSchema(schema[k], at+"["+k+"]", seen, f)
			}
		}
	}
}

// walk calls f with every JSON object in v and its path.
func walk(v any, path string, f func(path string, m map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(path, v)
		for k, child := range v {
			walk(child, path+"/"+k, f)
		}
	case []any:
		for i, child := range v {
			walk(child, path+"/"+strconv.Itoa(i), f)
		}
	}
}
