package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/proctest"
)

// TestAssociationLifecycle: an update of the role is in effect for fresh
// pods once podid wait says so; after a delete, fresh pods get
// ResourceNotFoundException through the agent and from EKS Auth.
func TestAssociationLifecycle(t *testing.T) {
	t.Parallel()
	const cluster, namespace, sa = "e2e-lifecycle", "ns-b", "app"
	srv := startServer(t, nil)
	c := srv.EKS(nil)
	createCluster(t, c, cluster)
	a := createAssociation(t, c, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, "role-v1"))})
	waitFor := []string{"--cluster", cluster, "--association-id", aws.ToString(a.AssociationId)}
	srv.wait(t, waitFor...)
	ag := startAgent(t, srv, cluster)

	checkRole := func(t *testing.T, acct, role string) {
		t.Helper()
		p := newPod(namespace, sa, "web")
		id := mustRunChild(t, ag, srv.token(t, cluster, p), srv.URL)
		if re := assumedRoleRE(acct, role, cluster, p.name); !re.MatchString(id.ARN) {
			t.Errorf("GetCallerIdentity ARN = %s, want a match of %s", id.ARN, re)
		}
	}
	checkRole(t, account, "role-v1")

	updates := []struct {
		name       string
		in         eks.UpdatePodIdentityAssociationInput
		acct, role string
	}{
		{"role changed", eks.UpdatePodIdentityAssociationInput{RoleArn: aws.String(roleARN(account, "role-v2"))}, account, "role-v2"},
		{"target role added", eks.UpdatePodIdentityAssociationInput{TargetRoleArn: aws.String(roleARN(targetAccount, "role-target"))}, targetAccount, "role-target"},
	}
	for _, u := range updates {
		t.Run("update/"+u.name, func(t *testing.T) {
			in := u.in
			in.ClusterName, in.AssociationId = aws.String(cluster), a.AssociationId
			if _, err := c.UpdatePodIdentityAssociation(context.Background(), &in); err != nil {
				t.Fatal(err)
			}
			srv.wait(t, waitFor...)
			checkRole(t, u.acct, u.role)
		})
	}

	t.Run("delete", func(t *testing.T) {
		if _, err := c.DeletePodIdentityAssociation(context.Background(), &eks.DeletePodIdentityAssociationInput{
			ClusterName: aws.String(cluster), AssociationId: a.AssociationId}); err != nil {
			t.Fatal(err)
		}
		srv.wait(t, waitFor...)
		p := newPod(namespace, sa, "web")
		tok := srv.token(t, cluster, p)
		_, err := runChild(t, ag, tok, srv.URL)
		if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
			t.Errorf("child after the delete: %v; want a failure naming ResourceNotFoundException", err)
		}
		_, err = runBoto3(t, ag, srv.token(t, cluster, newPod(namespace, sa, "web")), srv.URL)
		if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
			t.Errorf("boto3 after the delete: %v; want a failure naming ResourceNotFoundException", err)
		}
		checkAgentError(t, ag.credentials(t, srv.token(t, cluster, newPod(namespace, sa, "web"))), 404, "ResourceNotFoundException")
		msg := checkEKSAuthError(t, srv.assumeRoleForPodIdentity(t, cluster, tok, &srv.Admin, "eks-auth"), 404, "ResourceNotFoundException")
		for _, want := range []string{cluster, namespace, sa} {
			if !strings.Contains(msg, want) {
				t.Errorf("ResourceNotFoundException message %q does not name %s", msg, want)
			}
		}
	})

	t.Run("cluster deleted", func(t *testing.T) {
		tokens := []string{srv.token(t, cluster, newPod(namespace, sa, "web")), srv.token(t, cluster, newPod(namespace, sa, "web"))}
		if _, err := c.DeleteCluster(context.Background(), &eks.DeleteClusterInput{Name: aws.String(cluster)}); err != nil {
			t.Fatal(err)
		}
		srv.wait(t)
		msg := checkEKSAuthError(t, srv.assumeRoleForPodIdentity(t, cluster, tokens[0], &srv.Admin, "eks-auth"), 404, "ResourceNotFoundException")
		if !strings.Contains(msg, cluster) {
			t.Errorf("ResourceNotFoundException message %q does not name the cluster", msg)
		}
		checkAgentError(t, ag.credentials(t, tokens[1]), 404, "ResourceNotFoundException")
	})
}

// revisionOf is the X-Podid-Revision of a write's response.
func revisionOf(t *testing.T, md middleware.Metadata) string {
	t.Helper()
	raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	if !ok {
		t.Fatal("no raw response in the result metadata")
	}
	rev := raw.Header.Get("X-Podid-Revision")
	if rev == "" {
		t.Fatal("the write's response has no X-Podid-Revision")
	}
	return rev
}

// TestPropagationDelay: with --propagation-delay, an update is not seen by
// EKS Auth at once; podid wait --revision (the write's X-Podid-Revision)
// returns once it is, and from then on fresh pods get the new role.
func TestPropagationDelay(t *testing.T) {
	t.Parallel()
	const delay = 2 * time.Second
	const cluster, namespace, sa = "e2e-delay", "ns-c", "app"
	srv := startServer(t, nil, "--propagation-delay", delay.String())
	c := srv.EKS(nil)
	createCluster(t, c, cluster)
	a := createAssociation(t, c, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, "old-role"))})
	srv.wait(t)

	assumedRole := func(t *testing.T, token string) string {
		t.Helper()
		r := srv.assumeRoleForPodIdentity(t, cluster, token, &srv.Admin, "eks-auth")
		var out eksapi.AssumeRoleForPodIdentityOutput
		if r.status != 200 || json.Unmarshal(r.body, &out) != nil || out.AssumedRoleUser == nil {
			t.Fatalf("AssumeRoleForPodIdentity: %d %s", r.status, r.body)
		}
		return out.AssumedRoleUser.Arn
	}
	before, after := srv.token(t, cluster, newPod(namespace, sa, "p1")), srv.token(t, cluster, newPod(namespace, sa, "p2"))

	start := time.Now()
	out, err := c.UpdatePodIdentityAssociation(context.Background(), &eks.UpdatePodIdentityAssociationInput{
		ClusterName: aws.String(cluster), AssociationId: a.AssociationId, RoleArn: aws.String(roleARN(account, "new-role"))})
	if err != nil {
		t.Fatal(err)
	}
	rev := revisionOf(t, out.ResultMetadata)
	got := assumedRole(t, before)
	if elapsed := time.Since(start); elapsed < delay/2 {
		if !strings.Contains(got, ":assumed-role/old-role/") {
			t.Errorf("%s after the update (delay %s): assumed %s, want old-role still", elapsed, delay, got)
		}
	} else {
		t.Logf("the first request came %s after the update: too late to expect the old role", elapsed)
	}
	// The CLI is a process: on a loaded machine it may return after the
	// delay, when the update is rightly in effect.
	_, err = srv.CLI(t, nil, "wait", "--revision", rev, "--timeout", "200ms")
	if elapsed := time.Since(start); elapsed < delay && exitCode(err) != 1 {
		t.Errorf("podid wait --timeout 200ms returned %s after the update: %v; want exit status 1 (not in effect before %s)", elapsed, err, delay)
	}
	srv.wait(t, "--revision", rev)
	if waited := time.Since(start); waited < delay/2 {
		t.Errorf("podid wait --revision %s returned %s after the update, want about %s (the propagation delay)", rev, waited, delay)
	}
	if got := assumedRole(t, after); !strings.Contains(got, ":assumed-role/new-role/") {
		t.Errorf("after podid wait: assumed %s, want new-role", got)
	}

	t.Run("delete", func(t *testing.T) {
		before, after := srv.token(t, cluster, newPod(namespace, sa, "p3")), srv.token(t, cluster, newPod(namespace, sa, "p4"))
		start := time.Now()
		if _, err := c.DeletePodIdentityAssociation(context.Background(), &eks.DeletePodIdentityAssociationInput{
			ClusterName: aws.String(cluster), AssociationId: a.AssociationId}); err != nil {
			t.Fatal(err)
		}
		r := srv.assumeRoleForPodIdentity(t, cluster, before, &srv.Admin, "eks-auth")
		if elapsed := time.Since(start); elapsed < delay/2 && r.status != 200 {
			t.Errorf("%s after the delete (delay %s): %d %s, want the association still served", elapsed, delay, r.status, r.body)
		}
		srv.wait(t, "--cluster", cluster, "--association-id", aws.ToString(a.AssociationId))
		if waited := time.Since(start); waited < delay/2 {
			t.Errorf("podid wait for the deleted association returned %s after the delete, want about %s", waited, delay)
		}
		checkEKSAuthError(t, srv.assumeRoleForPodIdentity(t, cluster, after, &srv.Admin, "eks-auth"), 404, "ResourceNotFoundException")
	})
}

// exitCode is the exit status in a cli error (-1 if it is not one).
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// TestRestart: podid serve stops cleanly on SIGTERM and, restarted on the
// same data directory and address, keeps its admin keys (not printed
// again), clusters, associations and token signing keys (a token minted
// before still works), and its session key (credentials vended before
// still sign requests); the running agent carries on against it.
func TestRestart(t *testing.T) {
	t.Parallel()
	const cluster, namespace, sa = "e2e-restart", "ns-r", "app"
	dir := filepath.Join(t.TempDir(), "data")
	// On a port of its own choosing (a port found free beforehand may be
	// taken by another process by the time the server binds it); Restart
	// listens on the same port again.
	srv := startServerWith(t, proctest.DataDir(dir))
	c := srv.EKS(nil)
	createCluster(t, c, cluster)
	createAssociation(t, c, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, "restart-role"))})
	srv.wait(t)
	ag := startAgent(t, srv, cluster)
	p := newPod(namespace, sa, "r1")
	token := srv.token(t, cluster, p)
	before := mustRunChild(t, ag, token, srv.URL)
	vended := vend(t, srv, cluster, srv.token(t, cluster, newPod(namespace, sa, "r0")), &srv.Admin)
	later := srv.token(t, cluster, newPod(namespace, sa, "r2")) // first used after the restart

	srv.Proc.Stop(10 * time.Second)
	if code := srv.Proc.State().ExitCode(); code != 0 {
		t.Errorf("podid serve exited with status %d on SIGTERM, want 0", code)
	}
	again := &server{srv.Restart(t)}
	if again.URL != srv.URL || again.Admin != srv.Admin {
		t.Fatalf("restarted server: %s, admin key %s; want %s and the same admin keys", again.URL, again.Admin.AccessKeyID, srv.URL)
	}
	if strings.Contains(again.Proc.Log(), again.Admin.SecretAccessKey) {
		t.Error("the restarted server printed the admin secret again")
	}
	again.wait(t)

	out, err := again.STS(proctest.StaticCredentials(vended)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || !assumedRoleRE(account, "restart-role", cluster, "r0").MatchString(aws.ToString(out.Arn)) {
		t.Errorf("credentials vended before the restart: %v; want them still accepted", err)
	}
	if v := again.inspect(t, before.SessionToken); v.AssumedRoleARN != before.ARN {
		t.Errorf("session from before the restart inspects as %s, want %s", v.AssumedRoleARN, before.ARN)
	}
	r := again.assumeRoleForPodIdentity(t, cluster, token, &again.Admin, "eks-auth")
	var fresh eksapi.AssumeRoleForPodIdentityOutput
	if r.status != 200 || json.Unmarshal(r.body, &fresh) != nil || !assumedRoleRE(account, "restart-role", cluster, p.name).MatchString(fresh.AssumedRoleUser.Arn) {
		t.Errorf("token minted before the restart: %d %s", r.status, r.body)
	}
	id := mustRunChild(t, ag, later, srv.URL)
	if re := assumedRoleRE(account, "restart-role", cluster, "r2"); !re.MatchString(id.ARN) {
		t.Errorf("through the agent after the restart: ARN %s, want a match of %s", id.ARN, re)
	}
}
