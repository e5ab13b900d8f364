package enforce

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/iam/policy"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/sts"
)

// TestRequestKeys checks each condition key a request derives, looked up
// in any case, and which source wins where several give a key.
func TestRequestKeys(t *testing.T) {
	now := time.Date(2026, 12, 5, 15, 4, 5, 0, time.FixedZone("x", 3600))
	session := caller{arn: "arn:aws:sts::111122223333:assumed-role/app/s1", kind: store.KindRole, name: "app",
		roleARN: "arn:aws:iam::111122223333:role/team/app", tags: map[string]string{"Team": "blue"}}
	user := caller{arn: "arn:aws:iam::111122223333:user/ops/alice", kind: store.KindUser, name: "alice"}
	assumption := &requestKeys{now: now, secure: true, caller: session, assume: true,
		sourceARN: "arn:aws:eks:us-west-2:444455556666:cluster/c1", sessionName: "eks-c1-pod", externalID: "x-1",
		tags:         []sts.Tag{{Key: "kubernetes-namespace", Value: "ns-a"}, {Key: "Env", Value: "prod"}, {Key: "env", Value: "dev"}},
		resourceTags: map[string]string{"Owner": "team-a"}}
	authorize := &requestKeys{now: now, caller: user,
		given: policy.Context{"aws:RequestTag/Env": {"prod"}, "aws:CurrentTime": {"given"}, "aws:username": {"given"}}}
	service := &requestKeys{now: now, assume: true, sessionName: "s"}
	for _, tc := range []struct {
		name string
		keys *requestKeys
		key  string
		want []string // nil: absent
	}{
		{"time", assumption, "aws:CurrentTime", []string{"2026-12-05T14:04:05Z"}},
		{"epoch", assumption, "AWS:EPOCHTIME", []string{"1796479445"}},
		{"tls", assumption, "aws:securetransport", []string{"true"}},
		{"plain http", authorize, "aws:SecureTransport", []string{"false"}},
		{"source ARN", assumption, "aws:SourceArn", []string{"arn:aws:eks:us-west-2:444455556666:cluster/c1"}},
		{"source account", assumption, "aws:sourceaccount", []string{"444455556666"}},
		{"session name", assumption, "sts:RoleSessionName", []string{"eks-c1-pod"}},
		{"external ID", assumption, "sts:externalid", []string{"x-1"}},
		{"request tag", assumption, "aws:RequestTag/kubernetes-namespace", []string{"ns-a"}},
		{"request tag, exact case first", assumption, "aws:RequestTag/env", []string{"dev"}},
		{"request tag, other case", assumption, "AWS:REQUESTTAG/KUBERNETES-NAMESPACE", []string{"ns-a"}},
		{"missing request tag", assumption, "aws:RequestTag/nope", nil},
		{"tag keys", assumption, "aws:TagKeys", []string{"kubernetes-namespace", "Env", "env"}},
		{"session's principal ARN is its role's", assumption, "aws:PrincipalArn", []string{"arn:aws:iam::111122223333:role/team/app"}},
		{"principal account", assumption, "aws:PrincipalAccount", []string{"111122223333"}},
		{"principal tag", assumption, "aws:PrincipalTag/team", []string{"blue"}},
		{"no username for a session", assumption, "aws:username", nil},
		{"resource tag", assumption, "aws:ResourceTag/Owner", []string{"team-a"}},
		{"iam resource tag", assumption, "iam:ResourceTag/owner", []string{"team-a"}},
		{"user's principal ARN", authorize, "aws:PrincipalArn", []string{"arn:aws:iam::111122223333:user/ops/alice"}},
		{"username over given", authorize, "aws:username", []string{"alice"}},
		{"given over base", authorize, "aws:CurrentTime", []string{"given"}},
		{"given", authorize, "aws:requesttag/env", []string{"prod"}},
		{"no assumption keys outside one", authorize, "sts:RoleSessionName", nil},
		{"no principal keys for a service", service, "aws:PrincipalArn", nil},
		{"no source without one", service, "aws:SourceArn", nil},
		{"no external ID without one", service, "sts:ExternalId", nil},
		{"no tag keys without tags", service, "aws:TagKeys", nil},
		{"unknown", assumption, "aws:SourceIp", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.keys.Get(tc.key)
			if ok != (tc.want != nil) {
				t.Fatalf("Get(%q) present %v (%q), want %v", tc.key, ok, got, tc.want != nil)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("Get(%q) (-got +want):\n%s", tc.key, diff)
			}
		})
	}
}
