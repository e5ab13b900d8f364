package cloudtrail_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/audit"
	ct "github.com/podid/podid/internal/cloudtrail"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store/sqlite"
)

// trail is a host with the audit recorder, LookupEvents and one EKS write
// route, on SQLite, and the SDK's CloudTrail client for it.
type trail struct {
	rec    *audit.Recorder
	client *cloudtrail.Client
	url    string
}

func newTrail(t *testing.T) *trail {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec := audit.New(audit.Config{
		Store: st, Region: "us-east-1", AccountID: "000000000000",
		ClusterARN:    func(r, n string) string { return "arn:aws:eks:" + r + ":000000000000:cluster/" + n },
		FlushInterval: time.Millisecond,
	})
	rec.Start()
	t.Cleanup(rec.Close)
	host := httpx.New(httpx.Config{Observer: rec})
	if err := (&ct.Handler{Store: st}).Mount(host); err != nil {
		t.Fatal(err)
	}
	err = host.Handle("POST /clusters/{name}/things", httpx.EKS, "CreateThing", func(w http.ResponseWriter, r *http.Request) error {
		var in map[string]any
		if err := httpx.DecodeJSON(r, &in); err != nil {
			return err
		}
		if in["fail"] == true {
			return eksapi.NewError(eksapi.CodeInvalidParameter, "thing refused")
		}
		return httpx.WriteJSON(w, map[string]any{})
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(host)
	t.Cleanup(srv.Close)
	client := cloudtrail.New(cloudtrail.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
	return &trail{rec: rec, client: client, url: srv.URL}
}

func (tr *trail) write(t *testing.T, cluster, body string) {
	t.Helper()
	res, err := http.Post(tr.url+"/clusters/"+cluster+"/things", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
}

func TestLookupEvents(t *testing.T) {
	tr := newTrail(t)
	tr.write(t, "a", `{"name":"one","token":"SECRET-TOKEN-VALUE"}`)
	tr.write(t, "b", `{"fail":true}`)
	for i := range 5 {
		tr.write(t, "c", `{"i":`+string(rune('0'+i))+`}`)
	}
	tr.rec.Flush(t.Context())

	out, err := tr.client.LookupEvents(t.Context(), &cloudtrail.LookupEventsInput{})
	if err != nil {
		t.Fatalf("LookupEvents: %v", err)
	}
	if len(out.Events) != 7 {
		t.Fatalf("LookupEvents: %d events, want 7", len(out.Events))
	}
	// Newest first: the first write is last.
	first := out.Events[6]
	if aws.ToString(first.EventName) != "CreateThing" || aws.ToString(first.EventSource) != "eks.amazonaws.com" || aws.ToString(first.ReadOnly) != "false" {
		t.Errorf("event = %+v", first)
	}
	var rec audit.Record
	if err := json.Unmarshal([]byte(aws.ToString(first.CloudTrailEvent)), &rec); err != nil {
		t.Fatalf("CloudTrailEvent: %v", err)
	}
	if rec.RequestParameters["token"] != audit.Hidden || rec.RequestParameters["name"] != "one" || rec.RequestParameters["name"] == nil {
		t.Errorf("requestParameters = %v; want the token hidden, the name kept", rec.RequestParameters)
	}
	if strings.Contains(aws.ToString(first.CloudTrailEvent), "SECRET-TOKEN-VALUE") {
		t.Errorf("the record holds the token: %s", aws.ToString(first.CloudTrailEvent))
	}
	if len(first.Resources) != 1 || aws.ToString(first.Resources[0].ResourceName) != "arn:aws:eks:us-east-1:000000000000:cluster/a" {
		t.Errorf("resources = %+v", first.Resources)
	}

	// A refusal has the mapped error's code and message.
	failed, err := tr.client.LookupEvents(t.Context(), &cloudtrail.LookupEventsInput{
		LookupAttributes: []types.LookupAttribute{{AttributeKey: types.LookupAttributeKeyResourceName, AttributeValue: aws.String("arn:aws:eks:us-east-1:000000000000:cluster/b")}},
	})
	if err != nil || len(failed.Events) != 1 {
		t.Fatalf("LookupEvents by resource: %v, %d events", err, len(failed.Events))
	}
	if err := json.Unmarshal([]byte(aws.ToString(failed.Events[0].CloudTrailEvent)), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.ErrorCode != eksapi.CodeInvalidParameter || rec.ErrorMessage != "thing refused" {
		t.Errorf("errorCode, errorMessage = %q, %q", rec.ErrorCode, rec.ErrorMessage)
	}

	// Paging with the SDK's paginator: every event once.
	p := cloudtrail.NewLookupEventsPaginator(tr.client, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(2)})
	seen := map[string]bool{}
	for pages := 0; p.HasMorePages() && pages < 10; pages++ {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, e := range page.Events {
			if seen[aws.ToString(e.EventId)] {
				t.Errorf("event %s twice", aws.ToString(e.EventId))
			}
			seen[aws.ToString(e.EventId)] = true
		}
	}
	if len(seen) != 7 {
		t.Errorf("paged through %d events, want 7", len(seen))
	}

	// The time range.
	future := time.Now().Add(time.Hour)
	none, err := tr.client.LookupEvents(t.Context(), &cloudtrail.LookupEventsInput{StartTime: &future})
	if err != nil || len(none.Events) != 0 {
		t.Errorf("LookupEvents from an hour ahead: %v, %d events", err, len(none.Events))
	}
}

func TestLookupEventsErrors(t *testing.T) {
	tr := newTrail(t)
	now := time.Now()
	earlier := now.Add(-time.Hour)
	cases := []struct {
		name string
		in   cloudtrail.LookupEventsInput
		code string
	}{
		{"two attributes", cloudtrail.LookupEventsInput{LookupAttributes: []types.LookupAttribute{
			{AttributeKey: types.LookupAttributeKeyEventName, AttributeValue: aws.String("a")},
			{AttributeKey: types.LookupAttributeKeyUsername, AttributeValue: aws.String("b")},
		}}, ct.CodeInvalidLookupAttributes},
		{"unknown attribute", cloudtrail.LookupEventsInput{LookupAttributes: []types.LookupAttribute{
			{AttributeKey: "Colour", AttributeValue: aws.String("a")},
		}}, ct.CodeInvalidLookupAttributes},
		{"ReadOnly not a boolean", cloudtrail.LookupEventsInput{LookupAttributes: []types.LookupAttribute{
			{AttributeKey: types.LookupAttributeKeyReadOnly, AttributeValue: aws.String("maybe")},
		}}, ct.CodeInvalidLookupAttributes},
		{"start after end", cloudtrail.LookupEventsInput{StartTime: &now, EndTime: &earlier}, ct.CodeInvalidTimeRange},
		{"too many results", cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, ct.CodeInvalidMaxResults},
		{"bad token", cloudtrail.LookupEventsInput{NextToken: aws.String("bm90IGEgdG9rZW4")}, ct.CodeInvalidNextToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tr.client.LookupEvents(context.Background(), &tc.in)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Errorf("LookupEvents: %v, want %s", err, tc.code)
			}
		})
	}
	// A page token used with other filters is refused.
	for i := range 3 {
		tr.write(t, "c", `{"i":`+string(rune('0'+i))+`}`)
	}
	tr.rec.Flush(t.Context())
	page, err := tr.client.LookupEvents(t.Context(), &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
	if err != nil || page.NextToken == nil {
		t.Fatalf("first page: %v, next %v", err, page.NextToken)
	}
	_, err = tr.client.LookupEvents(t.Context(), &cloudtrail.LookupEventsInput{NextToken: page.NextToken, LookupAttributes: []types.LookupAttribute{
		{AttributeKey: types.LookupAttributeKeyEventName, AttributeValue: aws.String("CreateThing")},
	}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != ct.CodeInvalidNextToken {
		t.Errorf("token with other filters: %v, want %s", err, ct.CodeInvalidNextToken)
	}
}
