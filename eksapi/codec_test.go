package eksapi_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/podid/podid/eksapi"
)

var (
	created  = time.Date(2023, 11, 24, 21, 52, 14, 922_000_000, time.UTC)
	modified = time.Date(2025, 5, 25, 0, 40, 13, 961_000_000, time.UTC)
)

// fullAssociation sets every member.
func fullAssociation() *eksapi.PodIdentityAssociation {
	return &eksapi.PodIdentityAssociation{
		ClusterName:        "eks-customer",
		Namespace:          "default",
		ServiceAccount:     "my-sa",
		RoleArn:            "arn:aws:iam::111122223333:role/my-role",
		AssociationArn:     "arn:aws:eks:us-west-2:111122223333:podidentityassociation/eks-customer/a-8mvwvh57cu74mgcst",
		AssociationId:      "a-8mvwvh57cu74mgcst",
		Tags:               map[string]string{"team": "a&b <c>", "env": "prod", "": "empty key"},
		CreatedAt:          new(eksapi.NewTime(created)),
		ModifiedAt:         new(eksapi.NewTime(modified)),
		OwnerArn:           "arn:aws:eks:us-west-2:111122223333:addon/eks-customer/vpc-cni/1234",
		DisableSessionTags: new(true),
		TargetRoleArn:      "arn:aws:iam::444455556666:role/target",
		ExternalId:         "us-west-2/111122223333/eks-customer/default/my-sa",
		Policy:             `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`,
	}
}

// minimalAssociation has no optional member and empty (not nil) tags.
func minimalAssociation() *eksapi.PodIdentityAssociation {
	return &eksapi.PodIdentityAssociation{
		ClusterName:        "c1",
		Namespace:          "ns",
		ServiceAccount:     "sa",
		RoleArn:            "arn:aws:iam::000000000000:role/r",
		AssociationArn:     "arn:aws:eks:us-east-1:000000000000:podidentityassociation/c1/a-00000000000000000",
		AssociationId:      "a-00000000000000000",
		Tags:               map[string]string{},
		CreatedAt:          new(eksapi.NewTime(created)),
		ModifiedAt:         new(eksapi.NewTime(created)),
		DisableSessionTags: new(false),
	}
}

func listOutput() *eksapi.ListPodIdentityAssociationsOutput {
	return eksapi.NewListPodIdentityAssociationsOutput([]eksapi.PodIdentityAssociationSummary{
		fullAssociation().Summary(),
		minimalAssociation().Summary(),
	}, "opaque/token+=")
}

func associationOutputs() map[string]*eksapi.AssociationOutput {
	return map[string]*eksapi.AssociationOutput{
		"full":     eksapi.NewUpdatePodIdentityAssociationOutput(fullAssociation()),
		"minimal":  eksapi.NewAssociationOutput(minimalAssociation()),
		"nil tags": eksapi.NewAssociationOutput(&eksapi.PodIdentityAssociation{AssociationId: "a-1"}),
		"empty":    eksapi.NewAssociationOutput(nil),
	}
}

func listOutputs() map[string]*eksapi.ListPodIdentityAssociationsOutput {
	return map[string]*eksapi.ListPodIdentityAssociationsOutput{
		"two items":  listOutput(),
		"last page":  eksapi.NewListPodIdentityAssociationsOutput(nil, ""),
		"nil list":   {},
		"token only": {Associations: []eksapi.PodIdentityAssociationSummary{{AssociationId: "a-2"}}, NextToken: "t"},
	}
}

// testJSONRoundTrip checks that each value encodes and parses back equal.
func testJSONRoundTrip[T any](t *testing.T, cases map[string]*T, parse func([]byte) (*T, error)) {
	t.Helper()
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parse(b)
			if err != nil {
				t.Fatalf("parsing %s: %v", b, err)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("round trip of %s (-got +want):\n%s", b, diff)
			}
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	t.Run("association outputs", func(t *testing.T) {
		testJSONRoundTrip(t, associationOutputs(), eksapi.ParseUpdatePodIdentityAssociationOutput)
	})
	t.Run("list outputs", func(t *testing.T) {
		testJSONRoundTrip(t, listOutputs(), eksapi.ParseListPodIdentityAssociationsOutput)
	})
	t.Run("associations", func(t *testing.T) {
		testJSONRoundTrip(t, map[string]*eksapi.PodIdentityAssociation{
			"full": fullAssociation(), "minimal": minimalAssociation(), "zero": {},
		}, eksapi.ParsePodIdentityAssociation)
	})
}

func TestAssociationJSONWireForm(t *testing.T) {
	b, err := json.Marshal(eksapi.NewAssociationOutput(minimalAssociation()))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"association":{"clusterName":"c1","namespace":"ns","serviceAccount":"sa",` +
		`"roleArn":"arn:aws:iam::000000000000:role/r",` +
		`"associationArn":"arn:aws:eks:us-east-1:000000000000:podidentityassociation/c1/a-00000000000000000",` +
		`"associationId":"a-00000000000000000","tags":{},"createdAt":1700862734.922,"modifiedAt":1700862734.922,` +
		`"disableSessionTags":false}}`
	if got := string(b); got != want {
		t.Errorf("JSON:\n got %s\nwant %s", got, want)
	}
	b, err = json.Marshal(eksapi.NewListPodIdentityAssociationsOutput(nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"associations":[]}`; got != want {
		t.Errorf("empty list JSON: got %s, want %s", got, want)
	}
}

func TestParseAssociationOutputLikeTheSDK(t *testing.T) {
	tests := []struct {
		name, body string
		want       *eksapi.AssociationOutput
		wantErr    bool
	}{
		{name: "unknown members skipped", body: `{"association":{"associationId":"a-1","future":{"x":[1]}},"other":1}`,
			want: &eksapi.AssociationOutput{Association: &eksapi.PodIdentityAssociation{AssociationId: "a-1"}}},
		{name: "null members absent", body: `{"association":{"associationId":null,"createdAt":null,"disableSessionTags":null}}`,
			want: &eksapi.AssociationOutput{Association: &eksapi.PodIdentityAssociation{}}},
		{name: "integer and exponent timestamps", body: `{"association":{"createdAt":1700862734,"modifiedAt":1.7e9}}`,
			want: &eksapi.AssociationOutput{Association: &eksapi.PodIdentityAssociation{
				CreatedAt:  new(eksapi.NewTime(time.Unix(1700862734, 0))),
				ModifiedAt: new(eksapi.NewTime(time.Unix(1.7e9, 0))),
			}}},
		{name: "string timestamp rejected", body: `{"association":{"createdAt":"2023-11-24T21:52:14Z"}}`, wantErr: true},
		{name: "huge timestamp rejected", body: `{"association":{"createdAt":1e300}}`, wantErr: true},
		{name: "wrong member type", body: `{"association":{"tags":[]}}`, wantErr: true},
		{name: "not JSON", body: `oops`, wantErr: true},
		{name: "empty object", body: `{}`, want: &eksapi.AssociationOutput{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := eksapi.ParseAssociationOutput([]byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseAssociationOutput(%s) error = %v, want error %v", tt.body, err, tt.wantErr)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("ParseAssociationOutput(%s) (-got +want):\n%s", tt.body, diff)
			}
		})
	}
}

// testXMLRoundTrip checks that each value, as an XML response document of
// op, parses back equal.
func testXMLRoundTrip[T any](t *testing.T, op string, cases map[string]*T) {
	t.Helper()
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := eksapi.MarshalResponseXML(op, want)
			if err != nil {
				t.Fatal(err)
			}
			got := new(T)
			if err := eksapi.UnmarshalResponseXML(b, got); err != nil {
				t.Fatalf("parsing %s: %v", b, err)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("round trip of %s (-got +want):\n%s", b, diff)
			}
		})
	}
}

func TestXMLRoundTrip(t *testing.T) {
	t.Run("association outputs", func(t *testing.T) {
		testXMLRoundTrip(t, eksapi.OpUpdatePodIdentityAssociation, associationOutputs())
	})
	t.Run("list outputs", func(t *testing.T) {
		testXMLRoundTrip(t, eksapi.OpListPodIdentityAssociations, listOutputs())
	})
	t.Run("Parse…XML", func(t *testing.T) {
		for name, want := range associationOutputs() {
			b, err := eksapi.MarshalResponseXML(eksapi.OpUpdatePodIdentityAssociation, want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := eksapi.ParseUpdatePodIdentityAssociationOutputXML(b)
			if err != nil {
				t.Fatalf("%s: parsing %s: %v", name, b, err)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("%s: round trip of %s (-got +want):\n%s", name, b, diff)
			}
		}
	})
}

func TestAssociationXMLDocument(t *testing.T) {
	a := minimalAssociation()
	a.Tags = map[string]string{"b": "2", "a": "1"}
	b, err := eksapi.MarshalResponseXML(eksapi.OpUpdatePodIdentityAssociation, eksapi.NewAssociationOutput(a))
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<UpdatePodIdentityAssociationResponse xmlns="https://eks.amazonaws.com/doc/2017-11-01/">` +
		`<UpdatePodIdentityAssociationResult><Association>` +
		`<ClusterName>c1</ClusterName><Namespace>ns</Namespace><ServiceAccount>sa</ServiceAccount>` +
		`<RoleArn>arn:aws:iam::000000000000:role/r</RoleArn>` +
		`<AssociationArn>arn:aws:eks:us-east-1:000000000000:podidentityassociation/c1/a-00000000000000000</AssociationArn>` +
		`<AssociationId>a-00000000000000000</AssociationId>` +
		`<Tags><entry><key>a</key><value>1</value></entry><entry><key>b</key><value>2</value></entry></Tags>` +
		`<CreatedAt>2023-11-24T21:52:14.922Z</CreatedAt><ModifiedAt>2023-11-24T21:52:14.922Z</ModifiedAt>` +
		`<DisableSessionTags>false</DisableSessionTags>` +
		`</Association></UpdatePodIdentityAssociationResult></UpdatePodIdentityAssociationResponse>`
	if got := string(b); got != want {
		t.Errorf("XML:\n got %s\nwant %s", got, want)
	}
}

func TestUnmarshalResponseXMLForms(t *testing.T) {
	want := &eksapi.AssociationOutput{Association: &eksapi.PodIdentityAssociation{
		AssociationId: "a-1", CreatedAt: new(eksapi.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))),
	}}
	tests := map[string]string{
		"result wrapper, other namespace": `<x:UpdatePodIdentityAssociationResponse xmlns:x="urn:x"><x:updatePodIdentityAssociationRESULT>` +
			`<Association><AssociationId>a-1</AssociationId><CreatedAt>2024-01-02T03:04:05Z</CreatedAt></Association>` +
			`</x:updatePodIdentityAssociationRESULT></x:UpdatePodIdentityAssociationResponse>`,
		"bare root": `<UpdatePodIdentityAssociationResponse><Association><AssociationId>a-1</AssociationId>` +
			`<CreatedAt>2024-01-02T04:04:05+01:00</CreatedAt></Association></UpdatePodIdentityAssociationResponse>`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := eksapi.ParseUpdatePodIdentityAssociationOutputXML([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"", "<a>", "not xml", `<R><Association><CreatedAt>yesterday</CreatedAt></Association></R>`,
		`<R><Association><DisableSessionTags>maybe</DisableSessionTags></Association></R>`} {
		if got, err := eksapi.ParseUpdatePodIdentityAssociationOutputXML([]byte(bad)); err == nil {
			t.Errorf("ParseUpdatePodIdentityAssociationOutputXML(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestToQuery(t *testing.T) {
	got := eksapi.NewUpdatePodIdentityAssociationOutput(fullAssociation()).ToQuery()
	want := url.Values{
		"Association.ClusterName":        {"eks-customer"},
		"Association.Namespace":          {"default"},
		"Association.ServiceAccount":     {"my-sa"},
		"Association.RoleArn":            {"arn:aws:iam::111122223333:role/my-role"},
		"Association.AssociationArn":     {"arn:aws:eks:us-west-2:111122223333:podidentityassociation/eks-customer/a-8mvwvh57cu74mgcst"},
		"Association.AssociationId":      {"a-8mvwvh57cu74mgcst"},
		"Association.Tags.entry.1.key":   {""},
		"Association.Tags.entry.1.value": {"empty key"},
		"Association.Tags.entry.2.key":   {"env"},
		"Association.Tags.entry.2.value": {"prod"},
		"Association.Tags.entry.3.key":   {"team"},
		"Association.Tags.entry.3.value": {"a&b <c>"},
		"Association.CreatedAt":          {"2023-11-24T21:52:14.922Z"},
		"Association.ModifiedAt":         {"2025-05-25T00:40:13.961Z"},
		"Association.OwnerArn":           {"arn:aws:eks:us-west-2:111122223333:addon/eks-customer/vpc-cni/1234"},
		"Association.DisableSessionTags": {"true"},
		"Association.TargetRoleArn":      {"arn:aws:iam::444455556666:role/target"},
		"Association.ExternalId":         {"us-west-2/111122223333/eks-customer/default/my-sa"},
		"Association.Policy":             {fullAssociation().Policy},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("AssociationOutput.ToQuery (-got +want):\n%s", diff)
	}

	got = listOutput().ToQuery()
	want = url.Values{
		"Associations.member.1.ClusterName":    {"eks-customer"},
		"Associations.member.1.Namespace":      {"default"},
		"Associations.member.1.ServiceAccount": {"my-sa"},
		"Associations.member.1.AssociationArn": {fullAssociation().AssociationArn},
		"Associations.member.1.AssociationId":  {"a-8mvwvh57cu74mgcst"},
		"Associations.member.1.OwnerArn":       {fullAssociation().OwnerArn},
		"Associations.member.2.ClusterName":    {"c1"},
		"Associations.member.2.Namespace":      {"ns"},
		"Associations.member.2.ServiceAccount": {"sa"},
		"Associations.member.2.AssociationArn": {minimalAssociation().AssociationArn},
		"Associations.member.2.AssociationId":  {"a-00000000000000000"},
		"NextToken":                            {"opaque/token+="},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("ListPodIdentityAssociationsOutput.ToQuery (-got +want):\n%s", diff)
	}

	if got := minimalAssociation().ToQuery().Get("DisableSessionTags"); got != "false" {
		t.Errorf("DisableSessionTags=%q, want false", got)
	}
	if got := eksapi.NewAssociationOutput(nil).ToQuery(); len(got) != 0 {
		t.Errorf("empty output ToQuery = %v, want no keys", got)
	}
}

// encodable is what every association shape offers besides JSON and XML.
type encodable interface {
	ToQuery() url.Values
	ToValue() map[string]any
}

// encodables are all the association fixtures, by name.
func encodables() map[string]encodable {
	cases := map[string]encodable{}
	for name, o := range associationOutputs() {
		cases["association output "+name] = o
	}
	for name, o := range listOutputs() {
		cases["list output "+name] = o
	}
	cases["association"] = fullAssociation()
	cases["summary"] = new(fullAssociation().Summary())
	return cases
}

// TestToValueIsTheJSONTree checks ToValue against what encoding/json decodes
// from the wire form.
func TestToValueIsTheJSONTree(t *testing.T) {
	for name, v := range encodables() {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(v.ToValue(), want); diff != "" {
				t.Errorf("ToValue vs JSON %s (-got +want):\n%s", b, diff)
			}
		})
	}
}

func TestClusterExtraMembers(t *testing.T) {
	c := eksapi.Cluster{
		Name:   "c1",
		Status: "ACTIVE",
		Tags:   map[string]string{},
		Extra: json.RawMessage(`{"resourcesVpcConfig": {"subnetIds": ["subnet-1"]},
			"name": "loses", "STATUS": "loses too", "accessConfig": {"authenticationMode": "API"}}`),
	}
	b, err := json.Marshal(eksapi.ClusterOutput{Cluster: &c})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"cluster":{"name":"c1","status":"ACTIVE","tags":{},` +
		`"accessConfig":{"authenticationMode":"API"},"resourcesVpcConfig":{"subnetIds":["subnet-1"]}}}`
	if string(b) != want {
		t.Errorf("cluster JSON:\n got %s\nwant %s", b, want)
	}

	got, err := eksapi.ParseClusterOutput(b)
	if err != nil {
		t.Fatal(err)
	}
	wantCluster := &eksapi.Cluster{
		Name: "c1", Status: "ACTIVE", Tags: map[string]string{},
		Extra: json.RawMessage(`{"accessConfig":{"authenticationMode":"API"},"resourcesVpcConfig":{"subnetIds":["subnet-1"]}}`),
	}
	if diff := cmp.Diff(got.Cluster, wantCluster); diff != "" {
		t.Errorf("parsed cluster (-got +want):\n%s", diff)
	}

	for _, extra := range []string{``, `null`, `{}`} {
		c := eksapi.Cluster{Name: "c", Extra: json.RawMessage(extra)}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("Extra %q: %v", extra, err)
		}
		if got, want := string(b), `{"name":"c","tags":null}`; got != want {
			t.Errorf("Extra %q: got %s, want %s", extra, got, want)
		}
	}
	if b, err := json.Marshal(eksapi.Cluster{Extra: json.RawMessage(`[1]`)}); err == nil {
		t.Errorf("Extra [1] marshalled to %s, want an error", b)
	}
	var empty eksapi.Cluster
	if err := json.Unmarshal([]byte(`{"name":"x"}`), &empty); err != nil || empty.Extra != nil || empty.Name != "x" {
		t.Errorf("Unmarshal without extra members = %+v, %v; want Name x and nil Extra", empty, err)
	}
}

func TestTimeJSON(t *testing.T) {
	for _, tt := range []struct {
		in   time.Time
		want string
	}{
		{created, "1700862734.922"},
		{time.Unix(5, 0), "5.000"},
		{time.UnixMilli(-1500), "-1.500"},
	} {
		b, err := json.Marshal(eksapi.NewTime(tt.in))
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tt.in, b, err, tt.want)
		}
		var got eksapi.Time
		if err := json.Unmarshal(b, &got); err != nil || !got.Equal(tt.in) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", b, got, err, tt.in)
		}
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// queryTree reads the AWS query form back into the JSON-like tree of the
// value form: names get their JSON spelling (ClusterName → clusterName),
// X.entry.N.key/value become a map and X.member.N.… a list. Values stay
// strings; normalizeQueryScalars converts the typed ones.
func queryTree(t *testing.T, q url.Values) map[string]any {
	t.Helper()
	root := map[string]any{}
	for key, vals := range q {
		if len(vals) != 1 {
			t.Fatalf("query key %s has %d values", key, len(vals))
		}
		parts := strings.Split(key, ".")
		node := root
		for i := 0; i < len(parts); i++ {
			name := strings.ToLower(parts[i][:1]) + parts[i][1:]
			switch {
			case i+3 < len(parts) && parts[i+1] == "entry":
				// name.entry.N.key|value
				m, _ := node[name].(map[string]any)
				if m == nil {
					m = map[string]any{}
					node[name] = m
				}
				entries, _ := m["\x00entries"].(map[string][2]string)
				if entries == nil {
					entries = map[string][2]string{}
					m["\x00entries"] = entries
				}
				e := entries[parts[i+2]]
				if parts[i+3] == "key" {
					e[0] = vals[0]
				} else {
					e[1] = vals[0]
				}
				entries[parts[i+2]] = e
				i = len(parts)
			case i+2 < len(parts) && parts[i+1] == "member":
				m, _ := node[name].(map[string]any)
				if m == nil {
					m = map[string]any{}
					node[name] = m
				}
				m["\x00list"] = true
				item, _ := m[parts[i+2]].(map[string]any)
				if item == nil {
					item = map[string]any{}
					m[parts[i+2]] = item
				}
				node = item
				i += 2
			case i == len(parts)-1:
				node[name] = vals[0]
			default:
				child, _ := node[name].(map[string]any)
				if child == nil {
					child = map[string]any{}
					node[name] = child
				}
				node = child
			}
		}
	}
	return finishQueryTree(root).(map[string]any)
}

// finishQueryTree turns the entry and member markers into maps and lists.
func finishQueryTree(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if entries, ok := m["\x00entries"].(map[string][2]string); ok {
		out := map[string]any{}
		for _, e := range entries {
			out[e[0]] = e[1]
		}
		return out
	}
	if m["\x00list"] == true {
		delete(m, "\x00list")
		list := make([]any, len(m))
		for k, item := range m {
			n, _ := strconv.Atoi(k)
			list[n-1] = finishQueryTree(item)
		}
		return list
	}
	for k, child := range m {
		m[k] = finishQueryTree(child)
	}
	return m
}

// normalizeQueryScalars converts the query form's strings of timestamps and
// booleans to what the value form holds.
func normalizeQueryScalars(t *testing.T, v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			switch s, _ := child.(string); k {
			case "createdAt", "modifiedAt":
				ts, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					t.Fatalf("%s=%q: %v", k, s, err)
				}
				v[k] = float64(ts.UnixMilli()) / 1e3
			case "disableSessionTags":
				b, err := strconv.ParseBool(s)
				if err != nil {
					t.Fatalf("%s=%q: %v", k, s, err)
				}
				v[k] = b
			default:
				v[k] = normalizeQueryScalars(t, child)
			}
		}
	case []any:
		for i := range v {
			v[i] = normalizeQueryScalars(t, v[i])
		}
	}
	return v
}

// TestQueryCarriesTheValue reads every ToQuery back and checks it holds the
// same tree as ToValue, so the query form loses nothing the wire form has
// (but empty maps and lists and null tags, which it cannot write).
func TestQueryCarriesTheValue(t *testing.T) {
	dropEmpty := cmpopts.IgnoreMapEntries(func(k string, v any) bool {
		switch v := v.(type) {
		case nil:
			return true
		case map[string]any:
			return len(v) == 0 && k == "tags"
		case []any:
			return len(v) == 0
		}
		return false
	})
	for name, v := range encodables() {
		t.Run(name, func(t *testing.T) {
			got := normalizeQueryScalars(t, queryTree(t, v.ToQuery()))
			if diff := cmp.Diff(got, any(v.ToValue()), dropEmpty); diff != "" {
				t.Errorf("query form read back vs ToValue (-got +want):\n%s", diff)
			}
		})
	}
}
