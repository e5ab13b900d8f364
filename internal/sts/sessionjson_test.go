package sts

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/podid/podid/eksapi"
)

func checkSessionJSON(t *testing.T, s *Session) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.appendJSON(nil); !bytes.Equal(got, want) {
		t.Errorf("appendJSON:\n got %s\nwant %s", got, want)
	}
}

func TestSessionJSON(t *testing.T) {
	now := time.Date(2026, 12, 5, 13, 30, 0, 0, time.UTC)
	full := &Session{
		AccessKeyID: "ASIAEXAMPLE", RoleARN: "arn:aws:iam::111122223333:role/r", RoleID: "AROAEXAMPLE",
		RoleSessionName: "eks-c1-app1-0cda7f85", Partition: "aws", Account: "111122223333",
		Tags:              []Tag{{"eks-cluster-arn", "arn:aws:eks:us-west-2:111122223333:cluster/c1"}, {"k<&>", "v\"\\\u2028é\x00"}},
		TransitiveTagKeys: []string{"eks-cluster-arn", "k<&>"},
		Policy:            `{"Version":"2012-10-17"}`, PolicyARNs: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"},
		ExternalID: "x-1", Chain: []string{"arn:aws:sts::111122223333:assumed-role/a/s"},
		SourcePrincipal: EKSServicePrincipal, SourceContext: map[string]string{"zone": "usw2-az1", "eksNodeName": "n1", "instanceId": "i-1"},
		Issued: now, Expiration: now.Add(6*time.Hour + 123456789),
	}
	for name, s := range map[string]*Session{
		"full":          full,
		"zero":          {},
		"empty slices":  {Tags: []Tag{}, TransitiveTagKeys: []string{}, PolicyARNs: []string{}, Chain: []string{}, SourceContext: map[string]string{}},
		"invalid UTF-8": {AccessKeyID: "a\xffb", Tags: []Tag{{"\xc3", "\xe2\x80"}}},
		"zoned time":    {Issued: now.In(time.FixedZone("x", 5*3600+30*60)), Expiration: now.In(time.FixedZone("y", -8*3600))},
	} {
		t.Run(name, func(t *testing.T) { checkSessionJSON(t, s) })
	}
}

func FuzzSessionJSON(f *testing.F) {
	f.Add("ASIA", "arn:aws:iam::111122223333:role/r", "k", "v", "zone", "a<b>&\"c\"", int64(1764941400), int64(123))
	f.Add("", "", "", "", "", "\u2028\xff", int64(-62135596800), int64(0))
	f.Fuzz(func(t *testing.T, akid, role, key, value, ctxKey, other string, sec, nsec int64) {
		at := time.Unix(sec, nsec).UTC()
		if !eksapi.TimeJSONOK(at) {
			return // seal takes json.Marshal for these
		}
		checkSessionJSON(t, &Session{
			AccessKeyID: akid, RoleARN: role, RoleID: other, RoleSessionName: other, Partition: key, Account: value,
			Tags: []Tag{{key, value}, {other, akid}}, TransitiveTagKeys: []string{key, other},
			Policy: other, PolicyARNs: []string{role}, ExternalID: value, Chain: []string{role, other},
			SourcePrincipal: other, SourceContext: map[string]string{ctxKey: value, other: key},
			Issued: at, Expiration: at.Add(time.Hour),
		})
	})
}
