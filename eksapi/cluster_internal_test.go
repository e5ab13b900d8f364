package eksapi

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// generalMerge is MarshalJSON's general path: decode Extra, drop modeled
// members, compact and sort the rest.
func generalMerge(known []byte, raw json.RawMessage) ([]byte, error) {
	extra, err := extraMembers(raw)
	if err != nil || len(extra) == 0 {
		return known, err
	}
	var buf bytes.Buffer
	buf.Write(known[:len(known)-1])
	first := len(known) == 2
	for _, k := range sortedKeys(extra) {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(extra[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

var extraSeeds = []string{
	``, `null`, ` null `, `{}`, ` { } `, `[1]`, `"x"`, `{`, `{"a":1,}`,
	`{"resourcesVpcConfig":{"subnetIds":["subnet-1","subnet-2"],"securityGroupIds":[],"endpointPublicAccess":true,"endpointPrivateAccess":false,"publicAccessCidrs":["0.0.0.0/0"]},"kubernetesNetworkConfig":{"serviceIpv4Cidr":"10.100.0.0/16","ipFamily":"ipv4"},"accessConfig":{"bootstrapClusterCreatorAdminPermissions":true,"authenticationMode":"CONFIG_MAP"}}`,
	`{"b":1,"a":2}`, `{"a":1,"a":2}`, `{"a" : 1 , "b" :[1, 2]}`, `{"a":[1,2] ,"b":{"c":" x "}}`,
	`{"name":"x","a":1}`, `{"NAME":"x"}`, `{"tags":{}}`, `{"a\u0062":1}`, `{"a<b":1}`, `{"é":1}`,
	`{"a":"\"}","b":"\\"}`, `{"z":null,"y":true,"x":false,"w":-1.5e3}`, "{\"a\":\n1}", `{"a":{"b":{}}}`,
	`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17}`,
}

// TestAppendExtraFast: wherever the fast path answers, it writes what the
// general path writes.
func TestAppendExtraFast(t *testing.T) {
	for _, known := range []string{`{}`, `{"name":"c1","tags":{}}`} {
		for _, extra := range extraSeeds {
			checkFast(t, []byte(known), json.RawMessage(extra))
		}
	}
	fast := 0
	for _, extra := range extraSeeds {
		if _, ok := appendExtraFast([]byte(`{}`), json.RawMessage(extra)); ok {
			fast++
		}
	}
	if fast < 10 {
		t.Errorf("the fast path took %d of the %d seeds, want at least 10", fast, len(extraSeeds))
	}
}

func checkFast(t *testing.T, known []byte, extra json.RawMessage) {
	t.Helper()
	got, ok := appendExtraFast(known, extra)
	if !ok {
		return
	}
	want, err := generalMerge(known, extra)
	if err != nil {
		t.Fatalf("Extra %q: the fast path wrote %s, the general path fails: %v", extra, got, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Extra %q:\n fast    %s\n general %s", extra, got, want)
	}
}

func FuzzAppendExtraFast(f *testing.F) {
	for _, s := range extraSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, extra []byte) {
		checkFast(t, []byte(`{"name":"c"}`), extra)
	})
}

func BenchmarkClusterMarshalJSON(b *testing.B) {
	created := NewTime(time.UnixMilli(1795790489940))
	c := Cluster{
		Name: "c-000", Arn: "arn:aws:eks:us-east-1:000000000000:cluster/c-000", CreatedAt: &created, Version: "1.34",
		Endpoint: "http://127.0.0.1:18931", RoleArn: "arn:aws:iam::000000000000:role/eks",
		Identity: &ClusterIdentity{OIDC: &OIDC{Issuer: "http://127.0.0.1:18931/clusters-oidc/c-000"}},
		Status:   "ACTIVE", ClientRequestToken: "e775593a-b1db-4155-b0c5-a890c56542cb", PlatformVersion: "eks.1",
		Tags: map[string]string{},
	}
	for _, bc := range []struct {
		name  string
		extra string
	}{
		{"Fast", extraSeeds[9]},
		{"General", `{"a":[1, 2],` + extraSeeds[9][1:]}, // whitespace in a value: not the fast path
	} {
		b.Run(bc.name, func(b *testing.B) {
			c.Extra = json.RawMessage(bc.extra)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(ClusterOutput{Cluster: &c}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkExtraMerge(b *testing.B) {
	known := []byte(`{"name":"c-000","tags":{}}`)
	extra := json.RawMessage(extraSeeds[9])
	b.Run("Fast", func(b *testing.B) {
		for b.Loop() {
			appendExtraFast(known, extra)
		}
	})
	b.Run("General", func(b *testing.B) {
		for b.Loop() {
			generalMerge(known, extra)
		}
	})
}

// TestClusterOutputAppendJSON: AppendJSON writes what json.Marshal writes,
// for every Extra seed and for values json.Marshal escapes.
func TestClusterOutputAppendJSON(t *testing.T) {
	created := NewTime(time.UnixMilli(1795790489940))
	base := Cluster{
		Name: "c-000", Arn: "arn:aws:eks:us-east-1:000000000000:cluster/c-000", CreatedAt: &created, Version: "1.34",
		Identity: &ClusterIdentity{OIDC: &OIDC{Issuer: "http://127.0.0.1:18931/clusters-oidc/c-000"}},
		Status:   "ACTIVE", Tags: map[string]string{"k": "v"},
	}
	outs := []*ClusterOutput{nil, {}}
	for _, extra := range append(extraSeeds, `{"certificateAuthority":{"data":"x"},"z":"<&>\u2028"}`) {
		c := base
		c.Extra = json.RawMessage(extra)
		outs = append(outs, &ClusterOutput{Cluster: &c})
	}
	c := base
	c.Tags = map[string]string{"a": "<b>&"}
	outs = append(outs, &ClusterOutput{Cluster: &c})
	for _, o := range outs {
		want, wantErr := json.Marshal(o)
		got, err := o.AppendJSON([]byte("prefix"))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("AppendJSON error %v, json.Marshal error %v", err, wantErr)
			continue
		}
		if err == nil && string(got) != "prefix"+string(want) {
			t.Errorf("AppendJSON:\n got  %s\n want prefix%s", got, want)
		}
	}
}
