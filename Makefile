# FleetApi: synthesize, test and diff the CDK app. Every tool comes from this
# repository's own files: Go modules from go.mod, the CDK CLI and Node.js 22
# (which runs jsii and the CLI) from package-lock.json.

# A failing command in a pipe fails its recipe.
SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c

STAGE  ?= dev
# The stages cdk.json declares.
STAGES := $(shell node -p "Object.keys(require('./cdk.json').context.stages).join(' ')")

# node_modules/.bin first: its Node.js 22 runs jsii and the CDK CLI.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
# The CLI must not try the network.
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := true
export REDOCLY_TELEMETRY := off
export REDOCLY_SUPPRESS_UPDATE_NOTICE := true

CDK        := cdk --no-notices
NPM_STAMP  := node_modules/.install-stamp
GO_TEST    := go test -count=1
# Packages whose tests build or run code in other processes (the functions'
# bundling, the CDK CLI, oapi-codegen, the Lambda emulator, go list): Go's test cache
# cannot see what those read, so their tests always run (-count=1); the
# others' results are cached.
UNCACHED_PKGS := ./constructs/... ./test ./client ./internal/runtime/lambdaapp ./internal/layout ./internal/release/breaking ./cmd/preflight
# Extra flags of make test's go test, e.g. -short (no synthesis) or -run.
GO_TEST_FLAGS ?=

FUZZTIME   ?= 30s
BENCHTIME  ?= 1s
# The packages whose tests mutation testing measures: the functions' code
# and the stage table (under internal/).
MUTATION_PKGS := shared/contract shared/fleet runtime/ingest runtime/httpapi runtime/samplecodec runtime/cursor app/stage runtime/dynamostore runtime/lambdaapp
# Tools pinned in tools/go.mod, a module of its own: not dependencies of the project.
TOOLS      := go tool -modfile=$(CURDIR)/tools/go.mod
GREMLINS   := $(TOOLS) gremlins
STATICCHECK := $(TOOLS) staticcheck
# The modules of the repository tidied as they are: the project, the tools.
# examples/consumer requires a version of the project only a local module
# proxy serves (make consumer-module); its test checks that it is tidy.
MODULES    := . tools
CONSUMER_VERSION := $(shell awk '$$1 == "github.com/fleetapi/fleetapi" { print $$2 }' examples/consumer/go.mod)
# Commands in a copy of examples/consumer (its go.sum gains FleetApi's sum
# there, not in the checkout), with this checkout served as that version.
CONSUMER_GO := cd .modproxy/consumer && GOPROXY=file://$(CURDIR)/.modproxy,$$(go env GOPROXY) \
	GONOSUMDB=github.com/fleetapi/fleetapi

.PHONY: history-sql agent redrive api-check breaking-check bench-coldstart bench-synth cost cost-docs local local-reset simulate help install synth synth-all test lint docs snapshots diff diff-all deploy preflight vet tidy-check consumer-module bench fuzz mutation lambdas clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(NPM_STAMP) ## install the pinned npm tools and Go modules
	go mod download

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

synth: $(NPM_STAMP) ## synthesize one stage to cdk.out/STAGE (STAGE=dev|staging|prod)
	$(CDK) synth --context stage=$(STAGE) --output cdk.out/$(STAGE) --quiet
	@echo "synthesized cdk.out/$(STAGE)/FleetApi-$(STAGE).template.json"

synth-all: ## synthesize every stage
	@for s in $(STAGES); do $(MAKE) --no-print-directory synth STAGE=$$s || exit 1; done

test: lint ## run every test: the spec's lint, then Go's (-count=1 only where Go's cache cannot see the code a test builds; -short skips synthesis)
	go test $(GO_TEST_FLAGS) $$(go list ./... | grep -vxF "$$(go list $(UNCACHED_PKGS))")
	$(GO_TEST) $(GO_TEST_FLAGS) $(UNCACHED_PKGS)

lint: $(NPM_STAMP) ## lint api/swagger.yaml: Redocly (redocly.yaml), Spectral with OWASP's ruleset (.spectral.yaml); fails on any error
	redocly lint --format stylish api/swagger.yaml
	spectral lint --ruleset .spectral.yaml --fail-severity error api/swagger.yaml

docs: $(NPM_STAMP) ## render the API reference from api/swagger.yaml to docs/api.html (self-contained: Redoc inlined)
	redocly build-docs api/swagger.yaml --inlineBundle --output docs/api.html

vet: consumer-module ## go vet and staticcheck (pinned in tools/go.mod) the module and the example app
	go vet ./...
	$(CONSUMER_GO) go vet ./...
	$(STATICCHECK) ./...
	$(CONSUMER_GO) $(STATICCHECK) ./...

consumer-module: ## serve this checkout to a copy of examples/consumer from .modproxy/, as a version of its own (the version it requires and a hash of the files)
	@rm -rf .modproxy && mkdir -p .modproxy/consumer
	go run ./cmd/modproxy .modproxy $(CONSUMER_VERSION) > .modproxy/version
	cp $$(git ls-files examples/consumer) .modproxy/consumer/
	$(CONSUMER_GO) go mod edit -require=github.com/fleetapi/fleetapi@$$(cat ../version)
	$(CONSUMER_GO) go mod tidy

tidy-check: ## fail when a go.mod or go.sum of the repository is not what go mod tidy makes
	@for m in $(MODULES); do (cd $$m && go mod tidy -diff) || { echo "$$m: run go mod tidy"; exit 1; }; done

snapshots: $(NPM_STAMP) ## rewrite the golden templates in test/testdata; review the diff before committing
	$(GO_TEST) ./test -run TestSnapshots -update

# The semantic diff of a stage's fresh synthesis against its committed
# snapshot, offline. Asset hashes are masked on both sides. With CI=true a
# difference fails.
diff: synth ## print the template diff of STAGE against its snapshot
	@rm -rf cdk.out/$(STAGE).masked
	go run ./cmd/maskassembly cdk.out/$(STAGE) cdk.out/$(STAGE).masked
	$(CDK) diff --app cdk.out/$(STAGE).masked --template test/testdata/FleetApi-$(STAGE).template.json \
		$(if $(filter true,$(CI)),--fail) FleetApi-$(STAGE)

diff-all: ## diff every stage against its snapshot
	@for s in $(STAGES); do $(MAKE) --no-print-directory diff STAGE=$$s || exit 1; done

# The release a change is checked against: the last v* tag, else (a clone
# without tags) the commit that gave CHANGELOG.md its newest version heading,
# else the first commit.
LAST_RELEASE := $(shell sed -n 's/^\#\# \[\([0-9][^]]*\)\].*/\1/p' CHANGELOG.md | head -1)
BASE ?= $(shell git describe --tags --abbrev=0 --match 'v*' 2>/dev/null || \
	git log --reverse --format=%H -F -S'## [$(LAST_RELEASE)]' -- CHANGELOG.md | head -1 | grep . || \
	git rev-list --max-parents=0 HEAD | tail -1)
breaking-check: $(NPM_STAMP) ## fail when deploying this checkout over BASE (default: the last release tag) would delete, orphan or replace a stateful resource of a stage, unless breaking-changes.yaml acknowledges it
	@for s in $(STAGES); do $(MAKE) --no-print-directory synth STAGE=$$s >/dev/null || exit 1; rm -rf cdk.out/$$s.masked; go run ./cmd/maskassembly cdk.out/$$s cdk.out/$$s.masked || exit 1; done
	go run ./cmd/breakingcheck -base $(BASE) -stages "$$(echo $(STAGES) | tr ' ' ',')"

api-check: ## fail on an incompatible change of the Go API of constructs/fleetapi, client and agent against BASE (apidiff) that CHANGELOG.md's Unreleased section does not name
	go run ./cmd/apicheck -base $(BASE)

deploy: $(NPM_STAMP) ## deploy STAGE to the AWS account of your credentials (refused while a stage that requires an alarm subscriber has none; run make preflight first in a new account)
	go run ./cmd/preflight -stage $(STAGE) -offline
	$(CDK) deploy --context stage=$(STAGE)

preflight: synth ## with AWS credentials, read calls only: check what a deploy of STAGE needs of the account (API Gateway's CloudWatch role, Lambda concurrency quota, CDK bootstrap, active cost allocation tags, an alarm subscriber)
	go run ./cmd/preflight -stage $(STAGE) -assembly cdk.out/$(STAGE)

bench: $(NPM_STAMP) ## rerun every figure of docs/performance.md: write units and bytes per upload, DynamoDB call latency, the handlers' benchmarks (BENCHTIME, default 1s), a read of a 10,000-vehicle fleet's state, the history's writing and the bytes its queries scan, binary size, cold starts (STARTS), synthesis (SYNTH_RUNS)
	go test -count=1 -run 'TestWriteUnitsPerUpload' -v ./internal/runtime/dynamostore | grep -E 'write units|ok|FAIL'
	go test -run '^$$' -bench BenchmarkStoreCallLatency -benchtime 300x ./internal/runtime/dynamostore | grep -E 'Benchmark|ok|FAIL'
	go test -count=1 -run 'TestMeasuredFiguresAreCurrent' -v ./internal/ops/costmodel | grep -E 'item|ok|FAIL'
	go test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem ./internal/runtime/httpapi ./internal/runtime/samplecodec ./internal/runtime/authz ./internal/shared/contract
	go test -run '^$$' -bench BenchmarkFleetState -benchtime 5x ./internal/local/localapi
	go test -run '^$$' -bench BenchmarkQueryScans -benchtime 1x ./internal/local/localathena
	$(MAKE) --no-print-directory lambdas
	$(MAKE) --no-print-directory bench-coldstart
	$(MAKE) --no-print-directory bench-synth

STARTS ?= 20
bench-coldstart: $(NPM_STAMP) ## cold and warm starts of each function under the Lambda runtime interface emulator against dynalite, beside a hello-world baseline (STARTS fresh starts each, default 20)
	go run ./cmd/benchcoldstart -starts $(STARTS)

SYNTH_RUNS ?= 5
bench-synth: $(NPM_STAMP) ## time `cdk synth` of STAGE as a developer runs it: median of SYNTH_RUNS runs (default 5) after a warm-up
	go run ./cmd/benchsynth -stage $(STAGE) -runs $(SYNTH_RUNS)

fuzz: $(NPM_STAMP) ## run each fuzz target for FUZZTIME (default 30s; a count such as 1000x also works)
	go test -run '^$$' -fuzz '^FuzzCreateEvent$$' -fuzztime $(FUZZTIME) ./internal/runtime/httpapi
	go test -run '^$$' -fuzz '^FuzzCreateVehicle$$' -fuzztime $(FUZZTIME) ./internal/runtime/httpapi
	go test -run '^$$' -fuzz '^FuzzUpdateVehicle$$' -fuzztime $(FUZZTIME) ./internal/runtime/httpapi
	go test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/runtime/cursor
	go test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/runtime/samplecodec
	go test -run '^$$' -fuzz '^FuzzEncodeRoundTrip$$' -fuzztime $(FUZZTIME) ./internal/runtime/samplecodec

local: $(NPM_STAMP) docs ## run the whole API on http://127.0.0.1:3000 as the deployed stage would (LOCAL_FLAGS=-no-auth for curl); Ctrl-C stops it
	@# Built, then run as itself: under go run, a stop (SIGINT) would end in exit status 1.
	go build -o .local/bin/localapi ./cmd/localapi
	exec .local/bin/localapi -docs docs/api.html $(LOCAL_FLAGS)

VEHICLES ?= 10
MINUTES  ?= 5
SPEEDUP  ?= 60
API_URL  ?= http://127.0.0.1:3000
# make local's vehicles' credentials endpoint and its CA.
CREDENTIALS_URL ?= https://127.0.0.1:3001
# make local's MQTT broker.
MQTT_ENDPOINT ?= 127.0.0.1:8883
# How vehicles upload: https, mqtt, or https,mqtt (a run each, in turn).
PROTOCOL ?= https
SIMULATE_FLAGS ?=
simulate: ## drive VEHICLES vehicles, each with its own certificate, for MINUTES of driving, SPEEDUP times faster, uploading over PROTOCOL (https|mqtt|https,mqtt) to API_URL or MQTT_ENDPOINT (make local's by default); reads it all back
	go run ./cmd/simulate -url $(API_URL) -credentials-url $(CREDENTIALS_URL) -mqtt-endpoint $(MQTT_ENDPOINT) -protocol $(PROTOCOL) \
		-vehicles $(VEHICLES) -minutes $(MINUTES) -speedup $(SPEEDUP) $(SIMULATE_FLAGS)

VID ?= car-1
AGENT_FLAGS ?=
agent: ## run the vehicle agent for VID against make local: simulated samples, batched, journaled in .local/agent/VID, uploaded over PROTOCOL (mqtt|https; AGENT_FLAGS: go run ./cmd/agent -h); Ctrl-C stops it
	@# Built, then run as itself: under go run, a stop (SIGINT) would end in exit status 1.
	go build -o .local/bin/agent ./cmd/agent
	exec .local/bin/agent -vid $(VID) -protocol $(PROTOCOL) -url $(API_URL) -credentials-url $(CREDENTIALS_URL) -mqtt-endpoint $(MQTT_ENDPOINT) $(AGENT_FLAGS)

REDRIVE_FLAGS ?= -dead-letters .local/iot/upload-failures.jsonl -url $(API_URL)
redrive: ## store again the MQTT uploads that could not be stored: make local's dead-letter file, or a stage's failure queue with REDRIVE_FLAGS="-queue-url URL -function NAME" (stack outputs UploadFailureQueueUrl, IngestFunctionName) and your AWS credentials
	go run ./cmd/redrive $(REDRIVE_FLAGS)

COST_FLAGS ?=
cost: synth ## estimate STAGE's monthly AWS bill at 100 to 100,000 vehicles, with what-ifs and a capacity plan (COST_FLAGS: -usage FILE -vehicles N,N -format table|json|markdown)
	go run ./cmd/cost -template cdk.out/$(STAGE)/FleetApi-$(STAGE).template.json -prices cost/prices-us-east-1.yaml $(COST_FLAGS)

cost-docs: ## rewrite the figures of docs/cost.md and docs/capacity.md from prod's committed template; reread the prose around them
	$(GO_TEST) ./cmd/cost -run TestDocsAreCurrent -update

# Passed through the environment: SQL has quotes of its own.
export QUERY SQL
history-sql: $(NPM_STAMP) ## run SQL over make local's history as Athena runs it over a stage's: QUERY=NAME (an example of api/history/queries; none lists them) or SQL="SELECT ... FROM samples"
	go run ./cmd/historysql -query "$$QUERY" -sql "$$SQL"

local-reset: ## clear the data of make local: its DynamoDB's, its thing registry (CA and vehicle certificates), the agents' journals, its history
	rm -rf .local/dynalite .local/iot .local/agent .local/history

mutation: $(NPM_STAMP) ## mutation testing of each runtime package (gremlins); fails under 90 % efficacy
	@for p in $(MUTATION_PKGS); do \
		echo "=== internal/$$p"; \
		$(GREMLINS) unleash --invert-logical --invert-loopctrl --timeout-coefficient 10 --threshold-efficacy 90 ./internal/$$p || exit 1; \
	done

lambdas: ## build the functions' bootstraps into bin/ as the synthesis does (package gobuild): the API's one, the history writer's; print their sizes
	go run ./cmd/buildfunction bin

clean: ## remove synthesized output, built functions, rendered docs and the local module proxy
	rm -rf cdk.out bin docs/api.html .modproxy
