package eksapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/podid/podid/eksapi"
)

// newSDKClient returns the real EKS client pointed at a loopback server that
// answers every request with h.
func newSDKClient(t *testing.T, h http.HandlerFunc) *eks.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return eks.New(eks.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  aws.AnonymousCredentials{},
		HTTPClient:   srv.Client(),
		Retryer:      aws.NopRetryer{},
	})
}

// writeJSON answers with v encoded by eksapi (through encoding/json).
func writeJSON(t *testing.T, v any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Errorf("encoding %T: %v", v, err)
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-RequestId", "req-1")
		w.Write(b)
	}
}

var sdkOpts = cmpopts.IgnoreUnexported(
	types.PodIdentityAssociation{}, types.PodIdentityAssociationSummary{}, types.Cluster{},
	types.VpcConfigResponse{}, types.AccessConfigResponse{}, types.Identity{}, types.OIDC{}, types.Certificate{},
)

func sdkTime(t *eksapi.Time) *time.Time {
	if t == nil {
		return nil
	}
	return aws.Time(t.Time)
}

func sdkString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// sdkAssociation is what the SDK should read for a.
func sdkAssociation(a *eksapi.PodIdentityAssociation) *types.PodIdentityAssociation {
	if a == nil {
		return nil
	}
	return &types.PodIdentityAssociation{
		ClusterName:        sdkString(a.ClusterName),
		Namespace:          sdkString(a.Namespace),
		ServiceAccount:     sdkString(a.ServiceAccount),
		RoleArn:            sdkString(a.RoleArn),
		AssociationArn:     sdkString(a.AssociationArn),
		AssociationId:      sdkString(a.AssociationId),
		Tags:               a.Tags,
		CreatedAt:          sdkTime(a.CreatedAt),
		ModifiedAt:         sdkTime(a.ModifiedAt),
		OwnerArn:           sdkString(a.OwnerArn),
		DisableSessionTags: a.DisableSessionTags,
		TargetRoleArn:      sdkString(a.TargetRoleArn),
		ExternalId:         sdkString(a.ExternalId),
		Policy:             sdkString(a.Policy),
	}
}

func TestSDKReadsAssociationOutputs(t *testing.T) {
	ctx := context.Background()
	for name, out := range associationOutputs() {
		t.Run(name, func(t *testing.T) {
			c := newSDKClient(t, writeJSON(t, out))
			want := sdkAssociation(out.Association)

			upd, err := c.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), AssociationId: aws.String("a-1"), RoleArn: aws.String("r"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(upd.Association, want, sdkOpts); diff != "" {
				t.Errorf("Update (-got +want):\n%s", diff)
			}
			cr, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), Namespace: aws.String("ns"), ServiceAccount: aws.String("sa"), RoleArn: aws.String("r"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(cr.Association, want, sdkOpts); diff != "" {
				t.Errorf("Create (-got +want):\n%s", diff)
			}
			d, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), AssociationId: aws.String("a-1"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(d.Association, want, sdkOpts); diff != "" {
				t.Errorf("Describe (-got +want):\n%s", diff)
			}
			del, err := c.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), AssociationId: aws.String("a-1"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(del.Association, want, sdkOpts); diff != "" {
				t.Errorf("Delete (-got +want):\n%s", diff)
			}
		})
	}
}

func TestSDKReadsListOutput(t *testing.T) {
	for name, out := range listOutputs() {
		t.Run(name, func(t *testing.T) {
			c := newSDKClient(t, writeJSON(t, out))
			got, err := c.ListPodIdentityAssociations(context.Background(), &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("c1")})
			if err != nil {
				t.Fatal(err)
			}
			var want []types.PodIdentityAssociationSummary
			if out.Associations != nil {
				want = []types.PodIdentityAssociationSummary{}
			}
			for _, s := range out.Associations {
				want = append(want, types.PodIdentityAssociationSummary{
					ClusterName: sdkString(s.ClusterName), Namespace: sdkString(s.Namespace),
					ServiceAccount: sdkString(s.ServiceAccount), AssociationArn: sdkString(s.AssociationArn),
					AssociationId: sdkString(s.AssociationId), OwnerArn: sdkString(s.OwnerArn),
				})
			}
			if diff := cmp.Diff(got.Associations, want, sdkOpts); diff != "" {
				t.Errorf("Associations (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(got.NextToken, sdkString(out.NextToken)); diff != "" {
				t.Errorf("NextToken (-got +want):\n%s", diff)
			}
		})
	}
}

func TestSDKReadsClusterOutput(t *testing.T) {
	out := eksapi.ClusterOutput{Cluster: &eksapi.Cluster{
		Name:                 "c1",
		Arn:                  "arn:aws:eks:us-east-1:000000000000:cluster/c1",
		CreatedAt:            new(eksapi.NewTime(created)),
		Version:              "1.31",
		Endpoint:             "https://127.0.0.1:6443",
		RoleArn:              "arn:aws:iam::000000000000:role/eks",
		Identity:             &eksapi.ClusterIdentity{OIDC: &eksapi.OIDC{Issuer: "https://oidc.example/id/1"}},
		Status:               "ACTIVE",
		CertificateAuthority: &eksapi.CertificateData{Data: "Q0E="},
		ClientRequestToken:   "tok",
		PlatformVersion:      "eks.1",
		Tags:                 map[string]string{"k": "v"},
		Extra: json.RawMessage(`{"resourcesVpcConfig":{"subnetIds":["subnet-1","subnet-2"],"endpointPublicAccess":true},` +
			`"accessConfig":{"authenticationMode":"API"},"name":"ignored"}`),
	}}
	c := newSDKClient(t, writeJSON(t, out))
	got, err := c.DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String("c1")})
	if err != nil {
		t.Fatal(err)
	}
	want := &types.Cluster{
		Name:                 aws.String("c1"),
		Arn:                  aws.String("arn:aws:eks:us-east-1:000000000000:cluster/c1"),
		CreatedAt:            aws.Time(created),
		Version:              aws.String("1.31"),
		Endpoint:             aws.String("https://127.0.0.1:6443"),
		RoleArn:              aws.String("arn:aws:iam::000000000000:role/eks"),
		Identity:             &types.Identity{Oidc: &types.OIDC{Issuer: aws.String("https://oidc.example/id/1")}},
		Status:               types.ClusterStatusActive,
		CertificateAuthority: &types.Certificate{Data: aws.String("Q0E=")},
		ClientRequestToken:   aws.String("tok"),
		PlatformVersion:      aws.String("eks.1"),
		Tags:                 map[string]string{"k": "v"},
		ResourcesVpcConfig: &types.VpcConfigResponse{
			SubnetIds: []string{"subnet-1", "subnet-2"}, EndpointPublicAccess: true,
		},
		AccessConfig: &types.AccessConfigResponse{AuthenticationMode: types.AuthenticationModeApi},
	}
	if diff := cmp.Diff(got.Cluster, want, sdkOpts); diff != "" {
		t.Errorf("DescribeCluster (-got +want):\n%s", diff)
	}
}

// errorFields reads what the SDK decoded into a typed EKS error, by reflection
// on its exported fields, so every shape is checked the same way.
func errorFields(err error) (typeName string, fields map[string]any) {
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.TypeOf(err).String(), nil
	}
	v = v.Elem()
	fields = map[string]any{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() || f.Name == "ErrorCodeOverride" {
			continue
		}
		// An empty string member reads as absent: *eksapi.Error cannot tell
		// them apart and never writes an empty member.
		switch fv := v.Field(i); {
		case fv.Kind() == reflect.Pointer && !fv.IsNil() && !fv.Elem().IsZero():
			fields[f.Name] = fv.Elem().Interface()
		case fv.Kind() == reflect.Slice && !fv.IsNil():
			fields[f.Name] = fv.Interface()
		}
	}
	return v.Type().String(), fields
}

// wantFields is what errorFields should give for an *eksapi.Error.
func wantFields(e *eksapi.Error) map[string]any {
	m := map[string]any{}
	for name, v := range map[string]string{
		"Message": e.Message, "ClusterName": e.ClusterName, "NodegroupName": e.NodegroupName,
		"FargateProfileName": e.FargateProfileName, "AddonName": e.AddonName, "SubscriptionId": e.SubscriptionID,
	} {
		if v != "" {
			m[name] = v
		}
	}
	if e.ValidZones != nil {
		m["ValidZones"] = e.ValidZones
	}
	return m
}

// eksShapes are the error shapes of the eks client's type registry, with
// every member each one models set.
func eksShapes() []*eksapi.Error {
	all := func(code string) *eksapi.Error {
		e := eksapi.NewError(code, "message of "+code)
		e.ClusterName, e.NodegroupName, e.FargateProfileName, e.AddonName, e.SubscriptionID = "c9", "ng", "fp", "addon", "sub"
		return e
	}
	msg := func(code string) *eksapi.Error { return eksapi.NewError(code, "message of "+code) }
	only := func(e *eksapi.Error, keep func(*eksapi.Error)) *eksapi.Error {
		k := &eksapi.Error{Code: e.Code, Status: e.Status, Message: e.Message}
		keep(k)
		return k
	}
	cnas := func(code string) *eksapi.Error { // cluster, nodegroup, addon, subscription
		e := all(code)
		e.FargateProfileName = ""
		return e
	}
	return []*eksapi.Error{
		all(eksapi.CodeInvalidParameter),
		cnas(eksapi.CodeInvalidRequest),
		all(eksapi.CodeResourceNotFound),
		cnas(eksapi.CodeServer),
		cnas(eksapi.CodeClient),
		only(msg(eksapi.CodeResourceInUse), func(e *eksapi.Error) { e.ClusterName, e.NodegroupName, e.AddonName = "c9", "ng", "addon" }),
		only(msg(eksapi.CodeResourceLimitExceeded), func(e *eksapi.Error) { e.ClusterName, e.NodegroupName, e.SubscriptionID = "c9", "ng", "sub" }),
		only(msg(eksapi.CodeThrottling), func(e *eksapi.Error) { e.ClusterName = "c9" }),
		only(msg(eksapi.CodeInvalidStateException), func(e *eksapi.Error) { e.ClusterName = "c9" }),
		only(msg(eksapi.CodeUnsupportedAZException), func(e *eksapi.Error) {
			e.ClusterName, e.NodegroupName, e.ValidZones = "c9", "ng", []string{"use1-az1", "use1-az2"}
		}),
		msg(eksapi.CodeServiceUnavailable),
		msg(eksapi.CodeBadRequest),
		msg(eksapi.CodeNotFound),
		msg(eksapi.CodeAccessDenied),
		msg(eksapi.CodeResourcePropagationDelay),
	}
}

// TestSDKReadsErrors writes every EKS error shape with WriteJSON and checks
// the SDK's typed error, its fault, and eksapi's own decoding of the same
// response.
func TestSDKReadsErrors(t *testing.T) {
	for _, e := range eksShapes() {
		t.Run(e.Code, func(t *testing.T) {
			var status int
			var header http.Header
			var body []byte
			c := newSDKClient(t, func(w http.ResponseWriter, r *http.Request) {
				rec := httptest.NewRecorder()
				e.WriteJSON(rec)
				status, header, body = rec.Code, rec.Header(), rec.Body.Bytes()
				e.WriteJSON(w)
			})
			_, err := c.DescribePodIdentityAssociation(context.Background(), &eks.DescribePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), AssociationId: aws.String("a-1"),
			})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("SDK error %v (%T) is not a smithy.APIError", err, err)
			}
			gotType, gotFields := errorFields(apiErr)
			if want := "types." + e.Code; gotType != want {
				t.Errorf("SDK error type %s, want %s", gotType, want)
			}
			if diff := cmp.Diff(gotFields, wantFields(e)); diff != "" {
				t.Errorf("SDK error members (-got +want):\n%s", diff)
			}
			if got, want := apiErr.ErrorFault(), e.ErrorFault(); got != want {
				t.Errorf("SDK fault %v, eksapi fault %v", got, want)
			}
			if got, want := apiErr.ErrorCode(), e.ErrorCode(); got != want {
				t.Errorf("SDK code %q, want %q", got, want)
			}

			decoded := eksapi.ErrorFromJSON(status, header, body)
			if diff := cmp.Diff(decoded, error(e)); diff != "" {
				t.Errorf("ErrorFromJSON of WriteJSON's response (-got +want):\n%s", diff)
			}
		})
	}
}

// TestSDKReadsSeedErrors checks the UpdatePodIdentityAssociation error set
// with errors.As into the SDK's own types.
func TestSDKReadsSeedErrors(t *testing.T) {
	call := func(t *testing.T, e *eksapi.Error) error {
		c := newSDKClient(t, func(w http.ResponseWriter, r *http.Request) { e.WriteJSON(w) })
		_, err := c.UpdatePodIdentityAssociation(context.Background(), &eks.UpdatePodIdentityAssociationInput{
			ClusterName: aws.String("c1"), AssociationId: aws.String("a-1"), RoleArn: aws.String("r"),
		})
		return err
	}
	t.Run("ResourceNotFoundException", func(t *testing.T) {
		err := call(t, eksapi.NewError(eksapi.CodeResourceNotFound, "No cluster found for name: c9.").WithCluster("c9"))
		var rnf *types.ResourceNotFoundException
		if !errors.As(err, &rnf) {
			t.Fatalf("error %v (%T) is not a *types.ResourceNotFoundException", err, err)
		}
		if got, want := aws.ToString(rnf.ClusterName), "c9"; got != want {
			t.Errorf("ClusterName %q, want %q", got, want)
		}
		if got, want := rnf.ErrorMessage(), "No cluster found for name: c9."; got != want {
			t.Errorf("message %q, want %q", got, want)
		}
	})
	t.Run("InvalidParameterException", func(t *testing.T) {
		err := call(t, eksapi.NewError(eksapi.CodeInvalidParameter, "The parameter associationId should be 19 characters long."))
		var ip *types.InvalidParameterException
		if !errors.As(err, &ip) || ip.ErrorMessage() != "The parameter associationId should be 19 characters long." {
			t.Errorf("error %v (%T), want *types.InvalidParameterException with the message", err, err)
		}
	})
	t.Run("InvalidRequestException", func(t *testing.T) {
		err := call(t, eksapi.NewError(eksapi.CodeInvalidRequest, "bad state").WithCluster("c1"))
		var ir *types.InvalidRequestException
		if !errors.As(err, &ir) || aws.ToString(ir.ClusterName) != "c1" {
			t.Errorf("error %v (%T), want *types.InvalidRequestException with ClusterName c1", err, err)
		}
	})
	t.Run("ServerException", func(t *testing.T) {
		err := call(t, eksapi.NewError(eksapi.CodeServer, "internal"))
		var se *types.ServerException
		if !errors.As(err, &se) || se.ErrorFault() != smithy.FaultServer {
			t.Errorf("error %v (%T), want *types.ServerException with server fault", err, err)
		}
	})
	t.Run("unknown operation", func(t *testing.T) {
		err := call(t, eksapi.NewError(eksapi.CodeUnknownOperation, "Unknown operation POST /nope"))
		var ge *smithy.GenericAPIError
		if !errors.As(err, &ge) || ge.Code != eksapi.CodeUnknownOperation || ge.Message != "Unknown operation POST /nope" {
			t.Errorf("error %v (%T), want *smithy.GenericAPIError UnknownOperationException", err, err)
		}
	})
}
