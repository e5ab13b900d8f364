package eksapi

import (
	"encoding/json"
	"testing"
	"time"
)

// appender is what httpx.JSONAppender asks for.
type appender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// checkAppend: AppendJSON writes what json.Marshal writes.
func checkAppend(t *testing.T, v appender) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.AppendJSON([]byte("p"))
	if err != nil || string(got) != "p"+string(want) {
		t.Errorf("AppendJSON (%v):\n got  %s\n want p%s", err, got, want)
	}
}

func TestAppendJSON(t *testing.T) {
	created := NewTime(time.UnixMilli(1795790489940))
	modified := NewTime(time.UnixMilli(1795790489007))
	early := NewTime(time.UnixMilli(-1500))
	yes, no := true, false
	full := &PodIdentityAssociation{
		ClusterName: "c1", Namespace: "ns", ServiceAccount: "sa", RoleArn: "arn:aws:iam::000000000000:role/r",
		AssociationArn: "arn:aws:eks:us-east-1:000000000000:podidentityassociation/c1/a-0123456789abcdefg",
		AssociationId:  "a-0123456789abcdefg", Tags: map[string]string{"b": "2", "a": "<1>", "ü": "\u2028\n\"\\"},
		CreatedAt: &created, ModifiedAt: &modified, OwnerArn: "arn:x", DisableSessionTags: &yes,
		TargetRoleArn: "arn:aws:iam::111122223333:role/t", ExternalId: "x&y", Policy: `{"Version":"2012-10-17"}`,
	}
	for _, v := range []appender{
		(*AssociationOutput)(nil), &AssociationOutput{}, &AssociationOutput{Association: &PodIdentityAssociation{}},
		&AssociationOutput{Association: full},
		&AssociationOutput{Association: &PodIdentityAssociation{ClusterName: "c", Tags: map[string]string{}, DisableSessionTags: &no, CreatedAt: &early}},
		&AssociationOutput{Association: &PodIdentityAssociation{Namespace: "bad\xffutf8", Policy: "\x01"}},
		(*AssumeRoleForPodIdentityOutput)(nil), &AssumeRoleForPodIdentityOutput{},
		&AssumeRoleForPodIdentityOutput{
			Subject: &Subject{Namespace: "ns", ServiceAccount: "sa"}, Audience: "pods.eks.amazonaws.com",
			PodIdentityAssociation: &PodIdentityAssociationRef{AssociationArn: "arn:a", AssociationId: "a-1"},
			AssumedRoleUser:        &AssumedRoleUser{Arn: "arn:aws:sts::0:assumed-role/r/s", AssumeRoleId: "AROA:s"},
			Credentials:            &Credentials{SessionToken: "tok+/=", SecretAccessKey: "s/k+", AccessKeyId: "ASIA", Expiration: created},
		},
		(*ListClustersOutput)(nil), &ListClustersOutput{}, &ListClustersOutput{Clusters: []string{}},
		&ListClustersOutput{Clusters: []string{"c1", "c-2_x"}, NextToken: "eyJ2IjoxfQ"},
		&ListClustersOutput{Clusters: []string{"bad\xffutf8", "<&>", "\u2028"}, NextToken: "\x01"},
	} {
		checkAppend(t, v)
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("c1", "ns", "a<b>&c", "k", "v", int64(1795790489940), true)
	f.Add("", "\u2028", "\xff", "", "\x00", int64(-1), false)
	f.Fuzz(func(t *testing.T, s1, s2, s3, k, v string, ms int64, b bool) {
		if ms > maxEpochSeconds*1000 || ms < -maxEpochSeconds*1000 {
			return
		}
		tm := NewTime(time.UnixMilli(ms))
		checkAppend(t, &AssociationOutput{Association: &PodIdentityAssociation{
			ClusterName: s1, Namespace: s2, ServiceAccount: s3, RoleArn: s1 + s2, Tags: map[string]string{k: v, v: k},
			CreatedAt: &tm, ModifiedAt: &tm, DisableSessionTags: &b, Policy: s3,
		}})
		checkAppend(t, &AssumeRoleForPodIdentityOutput{
			Subject: &Subject{Namespace: s1, ServiceAccount: s2}, Audience: s3,
			Credentials: &Credentials{SessionToken: k, SecretAccessKey: v, AccessKeyId: s1, Expiration: tm},
		})
		checkAppend(t, &ListClustersOutput{Clusters: []string{s1, s2, s3}, NextToken: k})
	})
}

// TestAppendJSONStringEveryByte: AppendJSONString quotes a string holding
// any one byte, and runs of them, as json.Marshal does.
func TestAppendJSONStringEveryByte(t *testing.T) {
	for c := range 256 {
		for _, s := range []string{string([]byte{byte(c)}), "arn:" + string([]byte{byte(c), byte(c)}) + "/x"} {
			want, _ := json.Marshal(s)
			if got := AppendJSONString([]byte("pre"), s); string(got) != "pre"+string(want) {
				t.Errorf("AppendJSONString(%q) = %s, want %s", s, got[3:], want)
			}
		}
	}
}
