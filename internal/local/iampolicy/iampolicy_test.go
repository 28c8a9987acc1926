package iampolicy

import "testing"

type evalCase struct {
	name string
	req  Request
	want Decision
}

func run(t *testing.T, identity []Document, resource *Document, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		if got := Evaluate(c.req, identity, resource); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

const david = "arn:aws:iam::111122223333:user/David"

// IAM User Guide, "IAM policy elements: Variables and tags", the first
// example: each user lists and uses only the folder of its own name.
func TestUsernameVariable(t *testing.T) {
	p := MustParse(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::amzn-s3-demo-bucket"],
		 "Condition":{"StringLike":{"s3:prefix":["${aws:username}/*"]}}},
		{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::amzn-s3-demo-bucket/${aws:username}/*"]}]}`)
	as := func(ctx map[string][]string) map[string][]string { return ctx }
	run(t, []Document{p}, nil, []evalCase{
		{"David's own object", Request{Principal: david, Action: "s3:GetObject", Resource: "arn:aws:s3:::amzn-s3-demo-bucket/David/notes.txt", Context: as(map[string][]string{"aws:username": {"David"}})}, Allow},
		{"Bob's object", Request{Principal: david, Action: "s3:GetObject", Resource: "arn:aws:s3:::amzn-s3-demo-bucket/Bob/notes.txt", Context: as(map[string][]string{"aws:username": {"David"}})}, ImplicitDeny},
		{"listing his prefix", Request{Principal: david, Action: "s3:ListBucket", Resource: "arn:aws:s3:::amzn-s3-demo-bucket", Context: map[string][]string{"aws:username": {"David"}, "s3:prefix": {"David/2026"}}}, Allow},
		{"listing another's", Request{Principal: david, Action: "s3:ListBucket", Resource: "arn:aws:s3:::amzn-s3-demo-bucket", Context: map[string][]string{"aws:username": {"David"}, "s3:prefix": {"Bob/"}}}, ImplicitDeny},
		// "Policy variables with no value": a role session has no
		// aws:username, so the statements naming it match nothing.
		{"no user name (a role session)", Request{Principal: "arn:aws:sts::111122223333:assumed-role/r/s", Action: "s3:GetObject", Resource: "arn:aws:s3:::amzn-s3-demo-bucket//notes.txt"}, ImplicitDeny},
		// Condition keys are matched without regard to case.
		{"key case", Request{Principal: david, Action: "s3:GetObject", Resource: "arn:aws:s3:::amzn-s3-demo-bucket/David/x", Context: map[string][]string{"AWS:UserName": {"David"}}}, Allow},
		// The value itself is case sensitive.
		{"value case", Request{Principal: david, Action: "s3:GetObject", Resource: "arn:aws:s3:::amzn-s3-demo-bucket/David/x", Context: map[string][]string{"aws:username": {"david"}}}, ImplicitDeny},
	})
}

// Same page, "Specifying default values": a principal without the team
// tag gets the company-wide folder.
func TestDefaultValues(t *testing.T) {
	p := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],
		"Resource":["arn:aws:s3:::amzn-s3-demo-bucket/${aws:PrincipalTag/team, 'company-wide'}/*"]}]}`)
	run(t, []Document{p}, nil, []evalCase{
		{"team tag", Request{Principal: david, Action: "s3:GetObject", Resource: "arn:aws:s3:::amzn-s3-demo-bucket/red/x", Context: map[string][]string{"aws:PrincipalTag/team": {"red"}}}, Allow},
		{"no team tag", Request{Principal: david, Action: "s3:GetObject", Resource: "arn:aws:s3:::amzn-s3-demo-bucket/company-wide/x"}, Allow},
		{"no team tag, another folder", Request{Principal: david, Action: "s3:GetObject", Resource: "arn:aws:s3:::amzn-s3-demo-bucket/red/x"}, ImplicitDeny},
	})
}

// Same page, "Special characters": ${*}, ${?} and ${$} are the characters
// themselves; a variable's value is taken literally, its '*' no wildcard.
func TestSpecialCharacters(t *testing.T) {
	p := MustParse(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${*}"},
		{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/${aws:username}"}]}`)
	run(t, []Document{p}, nil, []evalCase{
		{"a literal star", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/*"}, Allow},
		{"not a wildcard", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/x"}, ImplicitDeny},
		{"a value with a star is literal", Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/anything", Context: map[string][]string{"aws:username": {"*"}}}, ImplicitDeny},
	})
}

// "Policy evaluation logic": an explicit deny in any policy overrides any
// allow; no allow is an implicit deny.
func TestExplicitDenyWins(t *testing.T) {
	allow := MustParse(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`)
	deny := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}]}`)
	run(t, []Document{allow, deny}, nil, []evalCase{
		{"allowed", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Allow},
		{"denied", Request{Action: "s3:DeleteObject", Resource: "arn:aws:s3:::b/k"}, ExplicitDeny},
		{"another service", Request{Action: "dynamodb:GetItem", Resource: "arn:aws:dynamodb:eu-west-1:111122223333:table/t"}, ImplicitDeny},
	})
	run(t, nil, nil, []evalCase{{"no policy", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, ImplicitDeny}})
}

// "IAM JSON policy elements: Action": action names are not case
// sensitive; ": Resource": ARNs are, '*' matching any characters ('/'
// among them) and '?' one; NotAction and NotResource match what is not
// listed.
func TestWildcardsAndCase(t *testing.T) {
	p := MustParse(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"execute-api:invoke","Resource":"arn:aws:execute-api:eu-west-1:111122223333:abc/prod/GET/vehicles/*"},
		{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/file-?.txt"}]}`)
	not := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:s3:::secret/*"}]}`)
	const api = "arn:aws:execute-api:eu-west-1:111122223333:abc/prod/"
	run(t, []Document{p}, nil, []evalCase{
		{"action case", Request{Action: "execute-api:Invoke", Resource: api + "GET/vehicles/car-1"}, Allow},
		{"'*' spans segments", Request{Action: "execute-api:Invoke", Resource: api + "GET/vehicles/car-1/events/e"}, Allow},
		{"resource case", Request{Action: "execute-api:Invoke", Resource: api + "get/vehicles/car-1"}, ImplicitDeny},
		{"'?' one character", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/file-1.txt"}, Allow},
		{"'?' not two", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/file-12.txt"}, ImplicitDeny},
		{"'?' not none", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/file-.txt"}, ImplicitDeny},
	})
	run(t, []Document{not}, nil, []evalCase{
		{"NotAction: another action", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Allow},
		{"NotAction: an iam action", Request{Action: "iam:CreateUser", Resource: "*"}, ImplicitDeny},
		{"NotResource: the excluded resource", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::secret/k"}, ImplicitDeny},
	})
}

// "IAM JSON policy elements: Condition", evaluation logic: keys of a
// condition are ANDed, values of a key ORed.
func TestConditionLogic(t *testing.T) {
	p := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
		"Condition":{"StringEquals":{"aws:PrincipalTag/department":["finance","hr","legal"],"aws:PrincipalTag/role":["audit","security"]}}}]}`)
	req := func(dept, role string) Request {
		return Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: map[string][]string{"aws:PrincipalTag/department": {dept}, "aws:PrincipalTag/role": {role}}}
	}
	run(t, []Document{p}, nil, []evalCase{
		{"hr auditor", req("hr", "audit"), Allow},
		{"legal security", req("legal", "security"), Allow},
		{"hr developer", req("hr", "dev"), ImplicitDeny},
		{"sales auditor", req("sales", "audit"), ImplicitDeny},
	})
}

// "Condition operators": ForAllValues is true when every value of the
// request is among the policy's, and when the key is missing (the
// documented pitfall); ForAnyValue needs one. Null tests presence.
// Negated operators are true when the key is missing; IfExists skips a
// missing key.
func TestConditionOperators(t *testing.T) {
	tags := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:TagSession","Resource":"*",
		"Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}]}`)
	any := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:TagSession","Resource":"*",
		"Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment"]}}}]}`)
	null := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"true"}}}]}`)
	notEq := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"red"}}}]}`)
	ifExists := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:PrincipalTag/team":"red"}}}]}`)
	boolean := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true}}}]}`)
	tagReq := func(keys ...string) Request {
		r := Request{Action: "sts:TagSession", Resource: "arn:aws:iam::111122223333:role/r"}
		if keys != nil {
			r.Context = map[string][]string{"aws:TagKeys": keys}
		}
		return r
	}
	get := func(ctx map[string][]string) Request {
		return Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: ctx}
	}
	run(t, []Document{tags}, nil, []evalCase{
		{"all listed", tagReq("environment"), Allow},
		{"one not listed", tagReq("environment", "owner"), ImplicitDeny},
		{"no tag keys", tagReq(), Allow},
	})
	run(t, []Document{any}, nil, []evalCase{
		{"one listed", tagReq("owner", "environment"), Allow},
		{"none listed", tagReq("owner"), ImplicitDeny},
		{"no tag keys", tagReq(), ImplicitDeny},
	})
	run(t, []Document{null}, nil, []evalCase{
		{"long-term keys: no token time", get(nil), Allow},
		{"temporary credentials", get(map[string][]string{"aws:TokenIssueTime": {"2026-12-01T00:00:00Z"}}), ImplicitDeny},
	})
	run(t, []Document{notEq}, nil, []evalCase{
		{"another team", get(map[string][]string{"aws:PrincipalTag/team": {"blue"}}), Allow},
		{"that team", get(map[string][]string{"aws:PrincipalTag/team": {"red"}}), ImplicitDeny},
		{"no team: negated operators match", get(nil), Allow},
	})
	run(t, []Document{ifExists}, nil, []evalCase{
		{"no team", get(nil), Allow},
		{"that team", get(map[string][]string{"aws:PrincipalTag/team": {"red"}}), Allow},
		{"another team", get(map[string][]string{"aws:PrincipalTag/team": {"blue"}}), ImplicitDeny},
	})
	run(t, []Document{boolean}, nil, []evalCase{
		{"TLS", get(map[string][]string{"aws:SecureTransport": {"true"}}), Allow},
		{"plain", get(map[string][]string{"aws:SecureTransport": {"false"}}), ImplicitDeny},
	})
}

// "Policy evaluation logic", within one account: a resource-based policy
// naming the caller allows on its own; a role's trust policy must allow
// the caller, and when it names only the account, the caller's own
// identity-based policy must allow sts:AssumeRole too.
func TestSameAccountResourceAndTrustPolicies(t *testing.T) {
	const (
		caller = "arn:aws:sts::111122223333:assumed-role/broker/session-1"
		role   = "arn:aws:iam::111122223333:role/target"
	)
	bucket := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/broker"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`)
	run(t, nil, &bucket, []evalCase{
		{"a session of the named role", Request{Principal: caller, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Allow},
		{"another role", Request{Principal: "arn:aws:sts::111122223333:assumed-role/other/s", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, ImplicitDeny},
	})
	assume := Request{Principal: caller, Action: "sts:AssumeRole", Resource: role}
	named := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/broker"},"Action":"sts:AssumeRole"}]}`)
	account := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`)
	mayAssume := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/target"}]}`)
	service := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"credentials.iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	for _, tt := range []struct {
		name     string
		req      Request
		identity []Document
		trust    Document
		want     Decision
	}{
		{"trust names the caller's role", assume, nil, named, Allow},
		{"trust names the account, no identity grant", assume, nil, account, ImplicitDeny},
		{"trust names the account, identity grant", assume, []Document{mayAssume}, account, Allow},
		{"no trust for the caller", assume, []Document{mayAssume}, service, ImplicitDeny},
		{"the service the trust names", Request{Service: "credentials.iot.amazonaws.com", Action: "sts:AssumeRole", Resource: role}, nil, service, Allow},
		{"another service", Request{Service: "lambda.amazonaws.com", Action: "sts:AssumeRole", Resource: role}, nil, service, ImplicitDeny},
		{"a deny in the caller's policy", assume, []Document{MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:*","Resource":"*"}]}`)}, named, ExplicitDeny},
	} {
		if got := EvaluateAssumeRole(tt.req, tt.identity, tt.trust); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, doc := range []string{`{`, `{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}`, `{"Statement":[{"Effect":"Allow","Action":{"x":1}}]}`, `{"Statement":[{"Effect":"Allow","Principal":"x"}]}`} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("Parse(%s) succeeded", doc)
		}
	}
}

// aws:PrincipalArn is in the context of every signed request: "For IAM
// roles, the request context returns the ARN of the role, not the ARN of
// the user that assumed the role" (IAM User Guide, "AWS global condition
// context keys"); a user's is its own ARN; a service has none.
func TestPrincipalArn(t *testing.T) {
	trust := MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole",
		"Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/broker"}}}]}`)
	mayAssume := []Document{MustParse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`)}
	for _, tt := range []struct {
		caller string
		want   Decision
	}{
		{"arn:aws:sts::111122223333:assumed-role/broker/session-1", Allow},
		{"arn:aws:iam::111122223333:role/broker", Allow},
		{"arn:aws:sts::111122223333:assumed-role/other/session-1", ImplicitDeny},
		{"arn:aws:iam::111122223333:user/broker", ImplicitDeny},
		{"arn:aws:sts::111122223333:assumed-role/brokerage/session-1", ImplicitDeny},
	} {
		req := Request{Principal: tt.caller, Action: "sts:AssumeRole", Resource: "arn:aws:iam::111122223333:role/target"}
		if got := EvaluateAssumeRole(req, mayAssume, trust); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.caller, got, tt.want)
		}
	}
	// A value in the context is the one evaluated.
	req := Request{Principal: "arn:aws:sts::111122223333:assumed-role/other/s", Action: "sts:AssumeRole", Resource: "x",
		Context: map[string][]string{"aws:PrincipalArn": {"arn:aws:iam::111122223333:role/broker"}}}
	if got := EvaluateAssumeRole(req, mayAssume, trust); got != Allow {
		t.Errorf("context value: %v", got)
	}
	if got := EvaluateAssumeRole(Request{Service: "iot.amazonaws.com", Action: "sts:AssumeRole", Resource: "x"}, nil, trust); got != ImplicitDeny {
		t.Errorf("a service: %v", got)
	}
}
