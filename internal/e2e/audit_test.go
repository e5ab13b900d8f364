package e2e

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/podid/podid/internal/audit"
	"github.com/podid/podid/internal/proctest"
	"github.com/podid/podid/internal/store/postgres/pgtest"
)

const podTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"sts:AssumeRole"}]}`

// TestAuditTrailHoldsNoSecret runs a full flow (credentials through the
// agent, STS AssumeRole, IAM CreateAccessKey, a refused credential
// request), reads each event back through CloudTrail's LookupEvents and
// podid audit, restarts the server and reads them again, and then greps
// the SQLite files for every secret the flow saw: none may be stored.
func TestAuditTrailHoldsNoSecret(t *testing.T) {
	t.Parallel()
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		auditFlow(t, nil, func(t *testing.T, srv *server) map[string][]byte {
			files, _ := filepath.Glob(filepath.Join(srv.DataDir, "podid.db*"))
			if len(files) == 0 {
				t.Fatal("no database files")
			}
			out := map[string][]byte{}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				out[filepath.Base(f)] = b
			}
			return out
		})
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		base := pgtest.DSN(t)
		pgDump, err := exec.LookPath("pg_dump")
		if err != nil {
			found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
			if len(found) == 0 {
				t.Skip("no pg_dump (ci/postgres.sh installs PostgreSQL)")
			}
			pgDump = found[len(found)-1]
		}
		dsn := pgtest.Schema(t, base)
		u, err := url.Parse(dsn)
		if err != nil {
			t.Skip("the PostgreSQL DSN is not a URL")
		}
		schema := u.Query().Get("search_path")
		auditFlow(t, []proctest.ServerOption{proctest.Store(dsn)}, func(t *testing.T, srv *server) map[string][]byte {
			out, err := exec.Command(pgDump, "--data-only", "--schema", schema, "--dbname", base).Output()
			if err != nil {
				t.Fatalf("pg_dump: %v", err)
			}
			if !bytes.Contains(out, []byte("audit_events")) {
				t.Fatalf("pg_dump of schema %s has no audit_events:\n%.500s", schema, out)
			}
			return map[string][]byte{"pg_dump": out}
		})
	})
}

// auditFlow is TestAuditTrailHoldsNoSecret on a server started with opts;
// dump returns the store's contents by name.
func auditFlow(t *testing.T, opts []proctest.ServerOption, dump func(*testing.T, *server) map[string][]byte) {
	const cluster = "e2e-audit"
	srv := startServerWith(t, opts...)
	ctx := t.Context()
	var secrets []string
	secrets = append(secrets, srv.Admin.SecretAccessKey)

	ic := iam.New(iam.Options{Region: region, BaseEndpoint: aws.String(srv.URL), Credentials: proctest.StaticCredentials(srv.Admin), RetryMaxAttempts: 3})
	if _, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("audit-app"), AssumeRolePolicyDocument: aws.String(podTrust)}); err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	c := srv.EKS(nil)
	createCluster(t, c, cluster)
	a := createAssociation(t, c, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster), Namespace: aws.String("default"),
		ServiceAccount: aws.String("app"), RoleArn: aws.String(roleARN(account, "audit-app"))})
	srv.wait(t)

	// Credentials through the agent.
	ag := startAgent(t, srv, cluster)
	p := newPod("default", "app", "audit-pod")
	token := srv.token(t, cluster, p)
	secrets = append(secrets, token, token[strings.LastIndexByte(token, '.')+1:])
	r := ag.credentials(t, token)
	var creds struct{ AccessKeyId, SecretAccessKey, Token string }
	if err := json.Unmarshal(r.body, &creds); err != nil || creds.SecretAccessKey == "" {
		t.Fatalf("agent answered %d %s", r.status, r.body)
	}
	secrets = append(secrets, creds.SecretAccessKey, creds.Token)
	// A refused request: a service account without an association.
	other := srv.token(t, cluster, newPod("default", "nobody", "lost-pod"))
	secrets = append(secrets, other)
	if r := ag.credentials(t, other); r.status < 400 {
		t.Fatalf("credentials without an association: %d", r.status)
	}

	// STS AssumeRole with the admin keys, and with the pod's session.
	out, err := srv.STS(nil).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN(account, "audit-app")), RoleSessionName: aws.String("audit-s1")})
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	secrets = append(secrets, aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))

	// IAM: a user and its access key.
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("audit-user")}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	key, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("audit-user")})
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	secrets = append(secrets, aws.ToString(key.AccessKey.SecretAccessKey))
	// IAM: an OpenID Connect provider, named in its events' resources.
	const oidcURL = "https://oidc.e2e.example/id/AUDIT"
	oidcARN := "arn:aws:iam::" + account + ":oidc-provider/oidc.e2e.example/id/AUDIT"
	if _, err := ic.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String(oidcURL)}); err != nil {
		t.Fatalf("CreateOpenIDConnectProvider: %v", err)
	}
	if _, err := ic.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{
		OpenIDConnectProviderArn: aws.String(oidcARN), ClientID: aws.String("sts.amazonaws.com")}); err != nil {
		t.Fatalf("AddClientIDToOpenIDConnectProvider: %v", err)
	}

	// Every decision and write is in the trail.
	trail := cloudtrail.New(cloudtrail.Options{Region: region, BaseEndpoint: aws.String(srv.URL), Credentials: proctest.StaticCredentials(srv.Admin), RetryMaxAttempts: 3})
	want := map[string]int{"CreateRole": 1, "CreateCluster": 1, "CreatePodIdentityAssociation": 1, "AssumeRoleForPodIdentity": 2,
		"AssumeRole": 1, "CreateUser": 1, "CreateAccessKey": 1, "MintToken": 2,
		"CreateOpenIDConnectProvider": 1, "AddClientIDToOpenIDConnectProvider": 1}
	events := lookupUntil(t, trail, want)
	for _, e := range events {
		if !strings.Contains(e.EventName, "OpenIDConnectProvider") {
			continue
		}
		if len(e.Resources) != 1 || e.Resources[0].Type != "AWS::IAM::OIDCProvider" || e.Resources[0].ARN != oidcARN || e.EventSource != "iam.amazonaws.com" {
			t.Errorf("%s's event: resources %+v, source %s; want the provider %s", e.EventName, e.Resources, e.EventSource, oidcARN)
		}
	}
	var granted, refused *audit.Record
	for i, e := range events {
		if e.EventName != "AssumeRoleForPodIdentity" {
			continue
		}
		if e.ErrorCode == "" {
			granted = &events[i]
		} else {
			refused = &events[i]
		}
	}
	if granted == nil || refused == nil {
		t.Fatalf("credential events: granted %v, refused %v", granted, refused)
	}
	if granted.RequestParameters["podName"] != "audit-pod" || granted.AdditionalEventData["associationId"] != aws.ToString(a.AssociationId) ||
		granted.AdditionalEventData["roleArn"] != roleARN(account, "audit-app") || granted.AdditionalEventData["outcome"] != "Success" {
		t.Errorf("granted request's event: %+v", granted)
	}
	if refused.AdditionalEventData["reason"] != "NoAssociation" || refused.ErrorCode != "ResourceNotFoundException" {
		t.Errorf("refused request's event: %+v", refused)
	}

	// podid audit prints them.
	table := srv.mustCLI(t, "audit", "--cluster", cluster, "--event-name", "AssumeRoleForPodIdentity")
	if !strings.Contains(table, "NoAssociation") || !strings.Contains(table, cluster+"/default/app/audit-pod") {
		t.Errorf("podid audit printed:\n%s", table)
	}
	lines := srv.mustCLI(t, "audit", "--output", "json", "--outcome", "failure", "--event-name", "AssumeRoleForPodIdentity")
	if n := strings.Count(strings.TrimSpace(lines), "\n") + 1; n != 1 || !strings.Contains(lines, `"NoAssociation"`) {
		t.Errorf("podid audit --outcome failure printed %d lines:\n%s", n, lines)
	}

	// The events survive a restart.
	srv.Stop(t)
	srv.Server = srv.Restart(t)
	trail = cloudtrail.New(cloudtrail.Options{Region: region, BaseEndpoint: aws.String(srv.URL), Credentials: proctest.StaticCredentials(srv.Admin), RetryMaxAttempts: 3})
	lookupUntil(t, trail, want)

	// Nothing secret is stored, while the records are there to be read:
	// the pod session's access key ID (no secret) is in one.
	stored := dump(t, srv)
	seen := false
	for _, b := range stored {
		seen = seen || bytes.Contains(b, []byte(creds.AccessKeyId))
	}
	if !seen {
		t.Errorf("no stored record names the pod session's key %s: the grep reads nothing", creds.AccessKeyId)
	}
	for name, b := range stored {
		for _, s := range secrets {
			if len(s) >= 16 && bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret (%.8s...)", name, s)
			}
		}
	}
}

// lookupUntil reads the whole trail until it holds at least want's count
// of each event name (bounded wait: appends are batched).
func lookupUntil(t *testing.T, c *cloudtrail.Client, want map[string]int) []audit.Record {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var recs []audit.Record
		got := map[string]int{}
		p := cloudtrail.NewLookupEventsPaginator(c, &cloudtrail.LookupEventsInput{})
		for n := 0; p.HasMorePages() && n < 100; n++ {
			page, err := p.NextPage(t.Context())
			if err != nil {
				t.Fatalf("LookupEvents: %v", err)
			}
			for _, e := range page.Events {
				var r audit.Record
				if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &r); err != nil {
					t.Fatalf("CloudTrailEvent %q: %v", aws.ToString(e.CloudTrailEvent), err)
				}
				recs = append(recs, r)
				got[r.EventName]++
			}
		}
		done := true
		for name, n := range want {
			done = done && got[name] >= n
		}
		if done {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the trail holds %v, want at least %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAuditFollow runs podid audit --follow: it prints the events already
// there, then each new one once as it arrives, and exits 0 on SIGINT.
func TestAuditFollow(t *testing.T) {
	t.Parallel()
	srv := startServerWith(t)
	c := srv.EKS(nil)
	createCluster(t, c, "follow-before")

	p := proctest.Start(t, "podid audit --follow", proctest.CleanEnv(t.TempDir()), bins.podid, "audit", "--follow",
		"--poll-interval", "100ms", "--output", "json", "--event-name", "CreateCluster",
		"--endpoint", srv.URL, "--data-dir", srv.DataDir)
	p.WaitLine(t, regexp.MustCompile(`"follow-before"`), 20*time.Second)

	createCluster(t, c, "follow-after")
	p.WaitLine(t, regexp.MustCompile(`"follow-after"`), 20*time.Second)
	// A later event proves at least one more poll re-read both: neither may
	// be printed twice.
	createCluster(t, c, "follow-last")
	p.WaitLine(t, regexp.MustCompile(`"follow-last"`), 20*time.Second)

	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("podid audit --follow did not exit within 20s of SIGINT")
	}
	if st := p.State(); !st.Success() {
		t.Fatalf("podid audit --follow exited with %v after SIGINT:\n%s", st, p.Log())
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(p.Log()), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("podid audit --output json printed %q: %v", line, err)
		}
		if r.EventName != "CreateCluster" {
			t.Errorf("--event-name CreateCluster printed a %s event", r.EventName)
		}
		name, _ := r.RequestParameters["name"].(string)
		names = append(names, name)
	}
	if want := []string{"follow-before", "follow-after", "follow-last"}; !slices.Equal(names, want) {
		t.Errorf("podid audit --follow printed clusters %q, want each once in order: %q", names, want)
	}
}
