package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store"
)

// formerBuild is how build made an event before it wrote records itself
// (json.Marshal of the Record, the body decoded into a map, Scrub's
// copies): the tests hold build to it byte for byte.
func (rc *Recorder) formerBuild(r *http.Request, c httpx.Completed, d *Detail) (store.Event, bool) {
	form := formOf(r, c)
	op := c.Op
	if op == "" && form != nil {
		op = form.Get("Action")
	}
	ok, readOnly := recorded(r, c, op)
	if !ok {
		return store.Event{}, false
	}
	rec := Record{
		EventVersion:       "1.08",
		UserIdentity:       identityOf(r),
		EventTime:          c.Start.UTC().Format(time.RFC3339),
		EventSource:        sources[c.Family.Name],
		EventName:          op,
		AWSRegion:          authz.Region(r.Context(), rc.cfg.Region),
		SourceIPAddress:    sourceIP(r.RemoteAddr),
		UserAgent:          clip(r.UserAgent(), 256),
		ErrorCode:          c.ErrorCode,
		ErrorMessage:       c.ErrorMessage,
		RequestID:          c.RequestID,
		EventID:            c.RequestID,
		ReadOnly:           readOnly,
		EventType:          "AwsApiCall",
		ManagementEvent:    true,
		RecipientAccountID: rc.cfg.AccountID,
		EventCategory:      "Management",
	}
	if rec.UserIdentity.AccountID == "" && rec.UserIdentity.Type != "Unknown" {
		rec.UserIdentity.AccountID = rc.cfg.AccountID
	}
	params := d.RequestParameters
	if params == nil {
		params = formerRequestParameters(r, c, form)
	}
	rec.RequestParameters, _ = Scrub(params).(map[string]any)
	if d.ResponseElements != nil {
		rec.ResponseElements, _ = Scrub(d.ResponseElements).(map[string]any)
	}
	if d.AdditionalEventData != nil {
		rec.AdditionalEventData, _ = Scrub(d.AdditionalEventData).(map[string]any)
	}
	rec.Resources = rc.formerResources(r, form, d.Resources)
	body, err := json.Marshal(rec)
	if err != nil {
		return store.Event{}, false
	}
	ev := store.Event{
		ID: rec.EventID, Time: c.Start, Name: op, Source: rec.EventSource, ReadOnly: readOnly,
		Username: username(rec.UserIdentity), AccessKeyID: rec.UserIdentity.AccessKeyID, Record: body,
	}
	for _, res := range rec.Resources {
		ev.Resources = append(ev.Resources, store.EventResource{Type: res.Type, Name: res.ARN})
	}
	return ev, true
}

func formerRequestParameters(r *http.Request, c httpx.Completed, form url.Values) map[string]any {
	p := map[string]any{}
	for _, name := range pathNames(r.Pattern) {
		if v := r.PathValue(name); v != "" {
			p[name] = v
		}
	}
	switch {
	case form != nil:
		for k, vs := range form {
			if k == "Action" || k == "Version" || len(vs) == 0 {
				continue
			}
			p[lowerFirst(k)] = clip(vs[0], 4096)
		}
	case len(c.Body) > 0:
		var body map[string]any
		if json.Unmarshal(c.Body, &body) == nil {
			for k, v := range body {
				p[k] = v
			}
		}
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

func (rc *Recorder) formerResources(r *http.Request, form url.Values, extra []Resource) []Resource {
	var out []Resource
	seen := map[string]bool{}
	add := func(typ, arn string) {
		if arn == "" || seen[typ+" "+arn] {
			return
		}
		seen[typ+" "+arn] = true
		out = append(out, Resource{AccountID: rc.cfg.AccountID, Type: typ, ARN: arn})
	}
	cluster := r.PathValue("name")
	if cluster == "" {
		cluster = r.PathValue("clusterName")
	}
	if cluster != "" && rc.cfg.ClusterARN != nil {
		add(TypeCluster, rc.cfg.ClusterARN(authz.Region(r.Context(), rc.cfg.Region), cluster))
	}
	if id := r.PathValue("associationId"); id != "" && cluster != "" && rc.cfg.AssociationARN != nil {
		add(TypeAssociation, rc.cfg.AssociationARN(authz.Region(r.Context(), rc.cfg.Region), cluster, id))
	}
	if arn := r.PathValue("resourceArn"); arn != "" {
		add(typeOfARN(arn), arn)
	}
	if form != nil {
		iam := "arn:aws:iam::" + rc.cfg.AccountID + ":"
		add(TypeRole, form.Get("RoleArn"))
		if n := form.Get("RoleName"); n != "" {
			add(TypeRole, iam+"role/"+n)
		}
		if n := form.Get("UserName"); n != "" {
			add(TypeUser, iam+"user/"+n)
		}
		add(TypePolicy, form.Get("PolicyArn"))
		add(TypeAccessKey, form.Get("AccessKeyId"))
		add(TypeOIDCProvider, form.Get("OpenIDConnectProviderArn"))
	}
	for _, x := range extra {
		add(x.Type, x.ARN)
	}
	return out
}

// sameAsFormer checks build's event against formerBuild's.
func sameAsFormer(t *testing.T, rc *Recorder, r *http.Request, c httpx.Completed, d *Detail) {
	t.Helper()
	got, gotOK := rc.build(r, c, d)
	want, wantOK := rc.formerBuild(r, c, d)
	if gotOK != wantOK {
		t.Fatalf("build ok = %v, the former build's %v", gotOK, wantOK)
	}
	if !bytes.Equal(got.Record, want.Record) {
		t.Errorf("record:\n got %s\nwant %s", got.Record, want.Record)
	}
	got.Record, want.Record = nil, nil
	if len(got.Resources) == 0 && len(want.Resources) == 0 {
		got.Resources, want.Resources = nil, nil
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("event (-got +want):\n%s", diff)
	}
}

func TestBuildSameAsFormer(t *testing.T) {
	rc := benchRecorder()
	update := func(body string) (*http.Request, httpx.Completed) {
		r, c := updateRequest(t)
		c.Body = []byte(body)
		return r, c
	}
	for _, body := range []string{
		`{"clientRequestToken":"000000000000000000000000000000000042","roleArn":"arn:aws:iam::111122223333:role/bench-42"}`,
		` { "roleArn" : "r" , "name":"body wins over the path" , "associationId": 7 } `,
		`{"a":1,"a":2,"b":{"y":1,"x":[1,2,{"token":"t","k":null}],"y":3},"c":[],"d":{},"e":true,"f":false,"g":null}`,
		`{"tags":{"b":"2","a":"1","Password":"p"},"sessionToken":"s","nextToken":"n","clientRequestToken":"c"}`,
		`{"esc":"a\"b\\c\u00e9\n","html":"<a&b>","utf8":"é","bad":"` + "\xff" + `","\u0074oken":"x"}`,
		`{"f":1.5,"e":1e21,"small":1e-7,"big":12345678901234567,"neg":-0,"z":0,"lead":-12}`,
		`{"deep":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}`,
		`{"overflow":1e400}`, `null`, `[1,2]`, `"s"`, `{`, `{"a":1}x`, `{}`, ``, `   `, `{"a":01}`, `{"a":tru}`,
		`{"a":"` + strings.Repeat("x", 5000) + `"}`,
	} {
		t.Run(body, func(t *testing.T) {
			r, c := update(body)
			sameAsFormer(t, rc, r, c, &Detail{})
		})
	}
	t.Run("AssumeRoleForPodIdentity", func(t *testing.T) {
		r, c, d := assumeRequest(t)
		sameAsFormer(t, rc, r, c, d)
	})
	t.Run("refused", func(t *testing.T) {
		r, c, d := assumeRequest(t)
		c.ErrorCode, c.ErrorMessage, c.Status = "AccessDeniedException", "not <allowed> & \"why\"", 403
		d.ResponseElements = nil
		d.AdditionalEventData = map[string]any{"outcome": "Refused", "reason": "NotAuthorized", "n": 3, "f": 0.25, "i64": int64(-9),
			"nilMap": map[string]any(nil), "nilList": []any(nil), "list": []any{map[string]any(nil), "x", 1.0}, "strs": map[string]string{"b": "1", "a": "2", "token": "kept"}}
		d.Resources = append(d.Resources, d.Resources...)
		sameAsFormer(t, rc, r, c, d)
	})
	t.Run("empty detail maps", func(t *testing.T) {
		r, c, d := assumeRequest(t)
		d.RequestParameters, d.ResponseElements, d.AdditionalEventData = map[string]any{}, map[string]any{}, map[string]any{}
		sameAsFormer(t, rc, r, c, d)
	})
	t.Run("unencodable detail", func(t *testing.T) {
		r, c, d := assumeRequest(t)
		d.ResponseElements = map[string]any{"ch": make(chan int)}
		sameAsFormer(t, rc, r, c, d)
	})
	t.Run("STS form", func(t *testing.T) {
		ctx := authz.WithIdentity(context.Background(), &authz.Identity{ARN: "arn:aws:iam::111122223333:user/dev/alice", Account: "111122223333", AccessKeyID: "AKIAALICE"})
		r := routed(t, ctx, "POST /", "POST", "/?X-Amz-Signature=abc", "")
		r.RemoteAddr = "[::1]:443"
		body := "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr&RoleSessionName=s&SerialNumber=x&TokenCode=123456&Policy=%7B%22a%22%3A%22%3C%3E%22%7D&Long=" + strings.Repeat("%C3%A9", 2100)
		sameAsFormer(t, rc, r, httpx.Completed{Family: httpx.STS, Routed: true, RequestID: "rid", Start: time.Unix(1, 0), Body: []byte(body)}, &Detail{})
	})
	t.Run("IAM form", func(t *testing.T) {
		r := routed(t, context.Background(), "POST /", "POST", "/", "")
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDX/20261205/us-east-1/iam/aws4_request")
		body := "Action=CreateUser&UserName=bob&RoleName=r&PolicyArn=arn%3Ap&AccessKeyId=AKIA1&OpenIDConnectProviderArn=arn%3Ao"
		sameAsFormer(t, rc, r, httpx.Completed{Family: &httpx.Family{Name: "iam", Protocol: httpx.AWSQuery}, Routed: true, RequestID: "rid", Body: []byte(body)}, &Detail{})
	})
	t.Run("tagged ARN", func(t *testing.T) {
		r := routed(t, context.Background(), "POST /tags/{resourceArn}", "POST", "/tags/arn%3Aaws%3Aeks%3Aus-east-1%3A1%3Acluster%2Fdev", `{"tags":{"k":"v"}}`)
		sameAsFormer(t, rc, r, httpx.Completed{Family: httpx.EKS, Op: "TagResource", Routed: true, RequestID: "rid", Body: []byte(`{"tags":{"k":"v"}}`)}, &Detail{})
	})
}

// FuzzBuildBody holds build's record of an Update with any body to the
// former build's.
func FuzzBuildBody(f *testing.F) {
	for _, s := range []string{
		`{"clientRequestToken":"c","roleArn":"r"}`, `{"a":{"b":[1,{"token":"x"}]},"a":null}`, `{"x":1.5e3,"y":"\u00e9"}`,
		`null`, `{"name":"n","associationId":"i"}`, ` {"k" :[ true , false ,null ]} `,
	} {
		f.Add([]byte(s))
	}
	rc := benchRecorder()
	f.Fuzz(func(t *testing.T, body []byte) {
		r, c := updateRequest(t)
		c.Body = body
		sameAsFormer(t, rc, r, c, &Detail{})
	})
}

// FuzzScrubbed holds appendScrubbed to json.Marshal(Scrub(v)) for every
// value JSON decodes to.
func FuzzScrubbed(f *testing.F) {
	for _, s := range []string{`{"a":1,"Token":"t","n":{"secretKey":"s","x":[{"password":1}]}}`, `[1.5,1e-7,1e21,"<>&",null]`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		want, werr := json.Marshal(Scrub(v))
		got, gerr := appendScrubbed(nil, v)
		if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
			t.Errorf("appendScrubbed(%s) = %s, %v; want %s, %v", data, got, gerr, want, werr)
		}
	})
}

// formerSecretKey is secretKey as it was, lower-casing every name.
func formerSecretKey(k string) bool {
	l := strings.ToLower(k)
	switch l {
	case "clientrequesttoken", "nexttoken", "marker":
		return false
	}
	for _, s := range []string{"token", "secret", "password", "signature", "assertion", "tokencode", "privatekey", "credentials", "authorization"} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func FuzzSecretKey(f *testing.F) {
	for _, k := range []string{"SessionToken", "clientRequestToken", "x-Authorization", "PRIVATE\u212aEY", "tokenCode", "passwor"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k string) {
		if got, want := secretKey(k), formerSecretKey(k); got != want {
			t.Errorf("secretKey(%q) = %v, formerly %v", k, got, want)
		}
	})
}

func TestSecretKey(t *testing.T) {
	for k, want := range map[string]bool{
		"token": true, "SessionToken": true, "clientRequestToken": false, "NextToken": false, "Marker": false,
		"SecretAccessKey": true, "TokenCode": true, "privateKey": true, "name": false, "": false,
		"\u212Aey": false, "private\u212Aey": true, // KELVIN SIGN lowers to k
		strings.Repeat("a", 70) + "Token": true, strings.Repeat("a", 70): false,
	} {
		if got := secretKey(k); got != want {
			t.Errorf("secretKey(%q) = %v, want %v", k, got, want)
		}
	}
}
