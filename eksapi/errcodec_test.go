package eksapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/eksapi"
)

// rawResponse is an error response as sent on the wire.
type rawResponse struct {
	status int
	header string // X-Amzn-ErrorType, "" for none
	body   string
}

func (r rawResponse) httpHeader() http.Header {
	h := http.Header{}
	if r.header != "" {
		h.Set("X-Amzn-ErrorType", r.header)
	}
	return h
}

// classification is how an error response was understood: a modeled shape
// with its members, an unmodeled code, or an undecodable body.
type classification struct {
	Kind    string // "modeled", "unknown", "deserialization"
	Code    string
	Message string
	Fields  map[string]any
}

func classifySDK(err error) classification {
	var de *smithy.DeserializationError
	var ge *smithy.GenericAPIError
	var api smithy.APIError
	switch {
	case errors.As(err, &de):
		return classification{Kind: "deserialization"}
	case errors.As(err, &ge):
		return classification{Kind: "unknown", Code: ge.Code, Message: ge.Message}
	case errors.As(err, &api):
		_, fields := errorFields(api)
		return classification{Kind: "modeled", Code: api.ErrorCode(), Fields: fields}
	}
	return classification{Kind: "not an API error: " + err.Error()}
}

func classifyEksapi(err error) classification {
	var de *smithy.DeserializationError
	var ue *eksapi.UnknownError
	var e *eksapi.Error
	switch {
	case errors.As(err, &de):
		return classification{Kind: "deserialization"}
	case errors.As(err, &ue):
		msg := ue.Message
		if msg == "" {
			msg = "UnknownError" // the SDK's placeholder for no message
		}
		return classification{Kind: "unknown", Code: ue.Code, Message: msg}
	case errors.As(err, &e):
		return classification{Kind: "modeled", Code: e.Code, Fields: wantFields(e)}
	}
	return classification{Kind: "not an API error"}
}

// sdkError calls DescribePodIdentityAssociation through the real SDK with the
// given HTTP client and returns its error.
func sdkError(t testing.TB, endpoint string, hc *http.Client) error {
	c := eks.New(eks.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: aws.AnonymousCredentials{},
		HTTPClient: hc, Retryer: aws.NopRetryer{},
	})
	_, err := c.DescribePodIdentityAssociation(context.Background(), &eks.DescribePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), AssociationId: aws.String("a-1"),
	})
	if err == nil {
		t.Fatal("the SDK returned no error")
	}
	return err
}

// probeMatrix is spec §2.4 and more cases of the same rules.
var probeMatrix = map[string]rawResponse{
	"header with coral suffix": {404, "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.eks/",
		`{"clusterName":"c9","message":"No cluster found for name: c9."}`},
	"namespaced __type":         {409, "", `{"__type":"com.amazonaws.eks#ResourceInUseException","message":"Association already exists: a-dt1bedfjc72dlwp5n"}`},
	"code member, Message":      {400, "", `{"code":"InvalidParameterException","Message":"bad"}`},
	"no type":                   {400, "", `{"message":"no type"}`},
	"not JSON":                  {400, "", `oops not json`},
	"header, empty body":        {400, "InvalidParameterException", ``},
	"NotFoundException":         {404, "NotFoundException", `{"message":"Resource not found"}`},
	"ServerException":           {500, "ServerException", ``},
	"header beats __type":       {400, "InvalidRequestException", `{"__type":"ServerException","message":"m","clusterName":"c"}`},
	"__type beats code":         {400, "", `{"__type":"InvalidRequestException","code":"ServerException"}`},
	"numeric code ignored":      {400, "", `{"code":5,"message":"m"}`},
	"numeric __type":            {400, "", `{"__type":5}`},
	"numeric message":           {400, "ResourceNotFoundException", `{"message":5}`},
	"wrong case code":           {400, "resourcenotfoundexception", `{"message":"m"}`},
	"unmodeled code":            {404, "UnknownOperationException", `{"message":"Unknown operation"}`},
	"unmodeled, no message":     {400, "SomethingElse", `{}`},
	"members by exact name":     {404, "ResourceNotFoundException", `{"ClusterName":"no","clusterName":"yes","Message":"M"}`},
	"message then Message":      {404, "ResourceNotFoundException", `{"message":"first","Message":"second"}`},
	"null members":              {404, "ResourceNotFoundException", `{"message":null,"clusterName":null}`},
	"unmodeled member":          {404, "NotFoundException", `{"message":"m","clusterName":"dropped"}`},
	"member wrong type":         {404, "ResourceNotFoundException", `{"clusterName":7}`},
	"JSON null body":            {400, "InvalidParameterException", `null`},
	"array body":                {400, "InvalidParameterException", `[]`},
	"trailing garbage":          {400, "", `{"__type":"InvalidRequestException","message":"m"} trailing`},
	"whitespace body":           {400, "", " \n "},
	"modeled, whitespace body":  {400, "InvalidParameterException", " \n "},
	"modeled, trailing garbage": {400, "InvalidRequestException", `{"message":"m"} trailing`},
	"modeled, two objects":      {400, "InvalidRequestException", `{"message":"m"}{"message":"n"}`},
	"validZones with null":      {400, "UnsupportedAvailabilityZoneException", `{"validZones":["z1",null]}`},
	"validZones not a list":     {400, "UnsupportedAvailabilityZoneException", `{"validZones":"z1"}`},
	"hash then colon":           {400, "", `{"__type":"a#b:c"}`},
	"escaped key":               {404, "ResourceNotFoundException", `{"cluster\u004eame":"c","message":"m"}`},
	"validZones":                {400, "UnsupportedAvailabilityZoneException", `{"validZones":["z1","z2"],"nodegroupName":"ng"}`},
	"throttling with cluster":   {429, "ThrottlingException", `{"message":"slow down","clusterName":"c1"}`},
	"case-insensitive __TYPE":   {400, "", `{"__TYPE":"InvalidRequestException"}`},
	"case-insensitive MESSAGE":  {400, "", `{"__type":"X","MESSAGE":"shout"}`},
	"empty header uses __type":  {400, "", `{"__type":"ClientException","subscriptionId":"s"}`},
}

// TestErrorFromJSONMatchesSDK sends each response to the real SDK through a
// loopback server and checks that ErrorFromJSON classifies it the same way.
func TestErrorFromJSONMatchesSDK(t *testing.T) {
	for name, resp := range probeMatrix {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range resp.httpHeader() {
					w.Header()[k] = v
				}
				w.WriteHeader(resp.status)
				io.WriteString(w, resp.body)
			}))
			defer srv.Close()
			want := classifySDK(sdkError(t, srv.URL, srv.Client()))
			got := classifyEksapi(eksapi.ErrorFromJSON(resp.status, resp.httpHeader(), []byte(resp.body)))
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("ErrorFromJSON vs SDK (-got +want):\n%s", diff)
			}
		})
	}
}

func TestErrorFromJSON(t *testing.T) {
	tests := []struct {
		name string
		resp rawResponse
		want error
	}{
		{"seed: ResourceNotFoundException", rawResponse{404, "", `{"__type":"ResourceNotFoundException","message":"gone","clusterName":"c9"}`},
			&eksapi.Error{Code: eksapi.CodeResourceNotFound, Status: 404, Message: "gone", ClusterName: "c9"}},
		{"seed: InvalidParameterException", rawResponse{400, "InvalidParameterException", `{"message":"bad"}`},
			&eksapi.Error{Code: eksapi.CodeInvalidParameter, Status: 400, Message: "bad"}},
		{"seed: InvalidRequestException", rawResponse{400, "InvalidRequestException", ``},
			&eksapi.Error{Code: eksapi.CodeInvalidRequest, Status: 400}},
		{"seed: ServerException", rawResponse{500, "", `{"__type":"ServerException","message":"boom"}`},
			&eksapi.Error{Code: eksapi.CodeServer, Status: 500, Message: "boom"}},
		{"unknown operation with message", rawResponse{404, "UnknownOperationException", `{"message":"Unknown operation GET /x"}`},
			&eksapi.UnknownError{Code: "UnknownOperationException", Message: "Unknown operation GET /x", Status: 404}},
		{"unknown code without message", rawResponse{418, "", `{"code":"Teapot"}`},
			&eksapi.UnknownError{Code: "Teapot", Status: 418}},
		{"no code at all", rawResponse{400, "", `{}`},
			&eksapi.UnknownError{Code: "UnknownError", Status: 400}},
		{"EKS Auth InvalidTokenException", rawResponse{400, "InvalidTokenException", `{"message":"bad token","clusterName":"x"}`},
			&eksapi.Error{Code: eksapi.CodeInvalidToken, Status: 400, Message: "bad token"}},
		{"success is no error", rawResponse{200, "", `{}`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := eksapi.ErrorFromJSON(tt.resp.status, tt.resp.httpHeader(), []byte(tt.resp.body))
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("ErrorFromJSON (-got +want):\n%s", diff)
			}
		})
	}
}

func TestErrorJSONRoundTrip(t *testing.T) {
	errs := []error{
		eksapi.NewError(eksapi.CodeInvalidParameter, "bad"),
		eksapi.NewError(eksapi.CodeResourceNotFound, "No cluster found for name: c9.").WithCluster("c9"),
		eksapi.NewError(eksapi.CodeServer, ""),
		&eksapi.UnknownError{Code: "UnknownOperationException", Message: "Unknown operation", Status: 404},
		&eksapi.UnknownError{Code: "Whatever", Status: 400},
	}
	for _, e := range append(errs, eksShapesAsErrors()...) {
		t.Run(e.Error(), func(t *testing.T) {
			status := 0
			var ue *eksapi.UnknownError
			if errors.As(e, &ue) {
				status = ue.Status
			} else {
				status = eksapi.AsError(e).Status
			}
			got := eksapi.ErrorFromJSON(status, nil, eksapi.ErrorToJSON(e))
			if diff := cmp.Diff(got, e); diff != "" {
				t.Errorf("ErrorFromJSON(ErrorToJSON(e)) (-got +want):\n%s", diff)
			}
		})
	}
}

func eksShapesAsErrors() []error {
	var errs []error
	for _, e := range eksShapes() {
		errs = append(errs, e)
	}
	return errs
}

func TestErrorToJSONHidesUnexpectedErrors(t *testing.T) {
	got := string(eksapi.ErrorToJSON(errors.New("secret database password in here")))
	if want := `{"__type":"ServerException","message":"An internal error occurred."}`; got != want {
		t.Errorf("ErrorToJSON = %s, want %s", got, want)
	}
}

func TestErrorXMLRoundTrip(t *testing.T) {
	errs := append(eksShapesAsErrors(),
		&eksapi.UnknownError{Code: "UnknownOperationException", Message: "Unknown <operation> & more"},
		&eksapi.UnknownError{Code: "NoMessage"},
	)
	for _, e := range errs {
		t.Run(e.Error(), func(t *testing.T) {
			doc := eksapi.ErrorToXML(e, "req-1")
			got := eksapi.ErrorFromXML(doc)
			if diff := cmp.Diff(got, e); diff != "" {
				t.Errorf("ErrorFromXML(%s) (-got +want):\n%s", doc, diff)
			}
		})
	}
}

func TestErrorFromXML(t *testing.T) {
	tests := []struct {
		name, doc string
		want      error
	}{
		{"awsQuery form", `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
			`<Code>ResourceNotFoundException</Code><Message>No cluster found for name: c9.</Message><clusterName>c9</clusterName>` +
			`</Error><RequestId>r</RequestId></ErrorResponse>`,
			&eksapi.Error{Code: eksapi.CodeResourceNotFound, Status: 404, Message: "No cluster found for name: c9.", ClusterName: "c9"}},
		{"bare Error", `<Error><Code>InvalidParameterException</Code><Message>bad</Message></Error>`,
			&eksapi.Error{Code: eksapi.CodeInvalidParameter, Status: 400, Message: "bad"}},
		{"Errors list", `<Response><Errors><Error><Code>ServerException</Code></Error></Errors></Response>`,
			&eksapi.Error{Code: eksapi.CodeServer, Status: 500}},
		{"unknown code", `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>` +
			`<Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>`,
			&eksapi.UnknownError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}},
		{"no Code", `<Error><Message>m</Message></Error>`, &eksapi.UnknownError{Code: "UnknownError", Message: "m"}},
		{"unmodeled member dropped", `<Error><Code>NotFoundException</Code><ClusterName>x</ClusterName></Error>`,
			&eksapi.Error{Code: eksapi.CodeNotFound, Status: 404}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(eksapi.ErrorFromXML([]byte(tt.doc)), tt.want); diff != "" {
				t.Errorf("ErrorFromXML (-got +want):\n%s", diff)
			}
		})
	}
	for _, doc := range []string{`<Error><Code>x</Error>`, `<Other/>`, ``} {
		var de *smithy.DeserializationError
		if err := eksapi.ErrorFromXML([]byte(doc)); !errors.As(err, &de) {
			t.Errorf("ErrorFromXML(%q) = %v (%T), want a *smithy.DeserializationError", doc, err, err)
		}
	}
}

// classifyXML is how an XML error document was understood: its code and
// message, or that it could not be decoded.
func classifyXML(err error) classification {
	var de *smithy.DeserializationError
	var api smithy.APIError
	switch {
	case errors.As(err, &de):
		return classification{Kind: "deserialization"}
	case errors.As(err, &api):
		msg := api.ErrorMessage()
		if msg == "" {
			msg = "UnknownError" // the SDK's placeholder for no message
		}
		return classification{Kind: "error", Code: api.ErrorCode(), Message: msg}
	}
	return classification{Kind: "not an API error"}
}

// stsError answers an STS GetCallerIdentity call with a 400 and doc, in
// memory, and returns the error of the real SDK's awsQuery decoder.
func stsError(t testing.TB, doc []byte) error {
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {"text/xml"}},
			Body: io.NopCloser(bytes.NewReader(doc)), Request: r}, nil
	})}
	c := sts.New(sts.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://sts.test"), Credentials: aws.AnonymousCredentials{},
		HTTPClient: hc, Retryer: aws.NopRetryer{},
	})
	_, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err == nil {
		t.Fatal("the SDK returned no error")
	}
	return err
}

// checkXMLLikeSDK compares ErrorFromXML with the STS client's awsQuery error
// decoding: the same code and message, or both undecodable. Codes STS models
// itself are compared by message only, as the SDK may rename them.
func checkXMLLikeSDK(t *testing.T, doc []byte) {
	t.Helper()
	sdkErr := stsError(t, doc)
	want := classifyXML(sdkErr)
	got := classifyXML(eksapi.ErrorFromXML(doc))
	var ge *smithy.GenericAPIError
	if want.Kind == "error" && !errors.As(sdkErr, &ge) {
		got.Code, want.Code = "", ""
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("ErrorFromXML(%q) vs the SDK (-got +want):\n%s", doc, diff)
	}
}

var xmlErrorDocs = []string{
	`<ErrorResponse><Error><Type>Sender</Type><Code>ResourceNotFoundException</Code><Message>gone</Message></Error></ErrorResponse>`,
	`<Error><Code>InvalidParameterException</Code></Error>`,
	`<Response><Errors><Error><Code>Teapot</Code><Message>short</Message></Error></Errors></Response>`,
	`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ExpiredToken</Code>` +
		`<Message>The security token included in the request is expired</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
	`<Error><Code>x</Error>`, `<Other/>`, ``, `not xml`,
	`<ERROR><Code>a</Code><code>b</code><Message>m1</Message><Message>m2</Message></ERROR>`,
	`<Error><Code>a<b/>c</Code><X><Code>nested</Code></X></Error>`,
	`<Error><Code>ok</Code></Error><broken`,
	`<Error/>`,
}

func TestErrorFromXMLMatchesSDK(t *testing.T) {
	for _, doc := range xmlErrorDocs {
		checkXMLLikeSDK(t, []byte(doc))
	}
	for _, e := range eksShapesAsErrors() {
		checkXMLLikeSDK(t, eksapi.ErrorToXML(e, "r"))
	}
}

// roundTripFunc serves SDK requests in memory, for the fuzz target.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzErrorFromJSON checks that ErrorFromJSON never panics and classifies
// every response as the real SDK does.
func FuzzErrorFromJSON(f *testing.F) {
	for _, r := range probeMatrix {
		f.Add(r.status, r.header, []byte(r.body))
	}
	f.Fuzz(func(t *testing.T, status int, header string, body []byte) {
		if status < 300 || status > 599 {
			status = 400 + (status&0x7fffffff)%200
		}
		resp := rawResponse{status, header, string(body)}
		h := resp.httpHeader()
		got := eksapi.ErrorFromJSON(status, h, body)
		if got == nil {
			t.Fatalf("ErrorFromJSON(%d) = nil", status)
		}
		if _, err := http.NewRequest("GET", "http://x", nil); err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: h.Clone(), Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		})}
		want := classifySDK(sdkError(t, "http://eks.test", hc))
		if diff := cmp.Diff(classifyEksapi(got), want); diff != "" {
			t.Errorf("status %d header %q body %q: ErrorFromJSON vs SDK (-got +want):\n%s", status, header, body, diff)
		}
	})
}

// FuzzErrorFromXML checks that ErrorFromXML never panics, reads code and
// message as the SDK's awsQuery decoder does, and re-encodes what it decodes.
func FuzzErrorFromXML(f *testing.F) {
	for _, e := range eksShapesAsErrors() {
		f.Add(eksapi.ErrorToXML(e, "r"))
	}
	for _, doc := range xmlErrorDocs {
		f.Add([]byte(doc))
	}
	f.Add([]byte(`<ErrorResponse><Error><Code>Teapot</Code><ValidZones><member>a</member></ValidZones></Error></ErrorResponse>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := eksapi.ErrorFromXML(doc)
		if err == nil {
			t.Fatal("ErrorFromXML returned nil")
		}
		checkXMLLikeSDK(t, doc)
		var e *eksapi.Error
		if errors.As(err, &e) {
			// A decoded error encodes and decodes to itself.
			if diff := cmp.Diff(eksapi.ErrorFromXML(eksapi.ErrorToXML(e, "")), error(e)); diff != "" {
				t.Errorf("re-encoding %q (-got +want):\n%s", doc, diff)
			}
		}
	})
}

func FuzzParseAssociationOutput(f *testing.F) {
	for _, o := range associationOutputs() {
		b, _ := jsonMarshal(o)
		f.Add(b)
	}
	f.Add([]byte(`{"association":{"createdAt":1e300}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := eksapi.ParseAssociationOutput(data)
		if err != nil {
			return
		}
		// Whatever parses must encode, in every form, and read back the same.
		b, err := jsonMarshal(o)
		if err != nil {
			t.Fatalf("encoding %+v parsed from %q: %v", o, data, err)
		}
		again, err := eksapi.ParseAssociationOutput(b)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", b, err)
		}
		if diff := cmp.Diff(again, o); diff != "" {
			t.Errorf("JSON re-parse of %q (-got +want):\n%s", data, diff)
		}
		_ = o.ToQuery()
		_ = o.ToValue()
		x, err := eksapi.MarshalResponseXML(eksapi.OpUpdatePodIdentityAssociation, o)
		if err != nil {
			return // strings that XML cannot carry (control characters)
		}
		if _, err := eksapi.ParseUpdatePodIdentityAssociationOutputXML(x); err != nil {
			t.Errorf("XML re-parse of %s: %v", x, err)
		}
	})
}

func FuzzParseListPodIdentityAssociationsOutput(f *testing.F) {
	for _, o := range listOutputs() {
		b, _ := jsonMarshal(o)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := eksapi.ParseListPodIdentityAssociationsOutput(data)
		if err != nil {
			return
		}
		_ = o.ToQuery()
		_ = o.ToValue()
		if _, err := jsonMarshal(o); err != nil {
			t.Errorf("encoding %+v: %v", o, err)
		}
	})
}

func FuzzUnmarshalResponseXML(f *testing.F) {
	for _, o := range associationOutputs() {
		b, _ := eksapi.MarshalResponseXML(eksapi.OpUpdatePodIdentityAssociation, o)
		f.Add(b)
	}
	for _, o := range listOutputs() {
		b, _ := eksapi.MarshalResponseXML(eksapi.OpListPodIdentityAssociations, o)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = eksapi.ParseUpdatePodIdentityAssociationOutputXML(data)
		_ = eksapi.UnmarshalResponseXML(data, new(eksapi.ListPodIdentityAssociationsOutput))
	})
}

func FuzzClusterJSON(f *testing.F) {
	f.Add([]byte(`{"name":"c1","resourcesVpcConfig":{"subnetIds":["s"]},"NAME":"x"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c eksapi.Cluster
		if err := c.UnmarshalJSON(data); err != nil {
			return
		}
		b, err := c.MarshalJSON()
		if err != nil {
			t.Fatalf("encoding the cluster parsed from %q: %v", data, err)
		}
		var again eksapi.Cluster
		if err := again.UnmarshalJSON(b); err != nil {
			t.Fatalf("re-parsing %s: %v", b, err)
		}
		if diff := cmp.Diff(again, c); diff != "" {
			t.Errorf("cluster re-parse of %q (-got +want):\n%s", data, diff)
		}
	})
}
