package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/podid/podid/internal/proctest"
)

// startMoto starts moto_server (skipping the test if it is not installed)
// on a free loopback port and returns its URL once it answers. A port
// taken between the pick and moto's bind is retried (three attempts).
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skip("moto_server not on PATH")
	}
	// moto_server may be a pyenv shim: it keeps HOME and PATH.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	for attempt := 1; ; attempt++ {
		port := proctest.FreePort(t)
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		p := proctest.Start(t, "moto_server", env, bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		if err := p.PollHTTP(url+"/moto-api/data.json", 60*time.Second); err == nil {
			return url
		} else if attempt == 3 {
			t.Fatalf("moto_server: %v", err)
		} else {
			t.Logf("moto_server attempt %d: %v", attempt, err)
			p.Stop(proctest.StopGrace)
		}
	}
}

// TestUpstreamSTS: with --upstream-sts, EKS Auth makes its role
// assumptions against another STS (moto's) with podid's own credentials
// from the default chain; the child's GetCallerIdentity at that STS
// shows the association's (or the target) role.
func TestUpstreamSTS(t *testing.T) {
	t.Parallel()
	const motoAccount = "123456789012" // moto's default account
	const cluster, namespace = "e2e-upstream", "ns-g"
	motoURL := startMoto(t)
	dir := t.TempDir()
	srv := startServer(t, proctest.CleanEnv(dir, "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_REGION="+region),
		"--upstream-sts", motoURL, "--account-id", motoAccount)
	c := srv.EKS(nil)
	createClusterIn(t, c, motoAccount, cluster)
	tests := []struct {
		sa, role, target string
		finalRole        string
	}{
		{sa: "plain", role: "up-role", finalRole: "up-role"},
		{sa: "chained", role: "up-hop-role", target: "up-target-role", finalRole: "up-target-role"},
	}
	for _, tt := range tests {
		in := &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster), Namespace: aws.String(namespace),
			ServiceAccount: aws.String(tt.sa), RoleArn: aws.String(roleARN(motoAccount, tt.role))}
		if tt.target != "" {
			in.TargetRoleArn = aws.String(roleARN(motoAccount, tt.target))
		}
		createAssociation(t, c, in)
	}
	srv.wait(t)
	ag := startAgent(t, srv, cluster)
	for _, tt := range tests {
		t.Run(tt.sa, func(t *testing.T) {
			p := newPod(namespace, tt.sa, "up")
			id := mustRunChild(t, ag, srv.token(t, cluster, p), motoURL)
			if re := assumedRoleRE(motoAccount, tt.finalRole, cluster, p.name); !re.MatchString(id.ARN) {
				t.Errorf("GetCallerIdentity at moto: ARN %s, want a match of %s", id.ARN, re)
			}
		})
	}
}
