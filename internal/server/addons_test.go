package server_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/podid/podid/internal/servertest"
)

// TestEksctlSurface: what eksctl calls beyond associations, through
// aws-sdk-go-v2: DescribeCluster's certificateAuthority (a real CA
// certificate per cluster), DescribeClusterVersions, and the
// eks-pod-identity-agent add-on's lifecycle; another add-on is refused.
func TestEksctlSurface(t *testing.T) {
	srv := servertest.New(t)
	ek := srv.EKS(t)
	ctx := context.Background()
	createCluster(t, ek, "c1")
	createCluster(t, ek, "c2")

	cas := map[string]bool{}
	for _, name := range []string{"c1", "c2"} {
		d, err := ek.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Cluster.CertificateAuthority == nil || d.Cluster.CertificateAuthority.Data == nil {
			t.Fatalf("DescribeCluster(%s): no certificateAuthority.data", name)
		}
		p, err := base64.StdEncoding.DecodeString(*d.Cluster.CertificateAuthority.Data)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(p)
		if block == nil {
			t.Fatalf("certificateAuthority.data is not PEM: %q", p)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil || !cert.IsCA || cert.CheckSignatureFrom(cert) != nil {
			t.Errorf("CA certificate of %s: %v (IsCA %v)", name, err, cert != nil && cert.IsCA)
		}
		cas[*d.Cluster.CertificateAuthority.Data] = true
	}
	if len(cas) != 2 {
		t.Error("two clusters share a CA")
	}

	v, err := ek.DescribeClusterVersions(ctx, &eks.DescribeClusterVersionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	defaults := 0
	for _, cv := range v.ClusterVersions {
		if cv.DefaultVersion {
			defaults++
		}
		if aws.ToString(cv.ClusterType) != "eks" || cv.ReleaseDate == nil || aws.ToString(cv.KubernetesPatchVersion) == "" {
			t.Errorf("cluster version %+v", cv)
		}
	}
	if len(v.ClusterVersions) == 0 || defaults != 1 {
		t.Errorf("DescribeClusterVersions: %d versions, %d default", len(v.ClusterVersions), defaults)
	}
	one, err := ek.DescribeClusterVersions(ctx, &eks.DescribeClusterVersionsInput{DefaultOnly: aws.Bool(true)})
	if err != nil || len(one.ClusterVersions) != 1 || !one.ClusterVersions[0].DefaultVersion {
		t.Errorf("DescribeClusterVersions(defaultOnly): %+v, %v", one, err)
	}

	av, err := ek.DescribeAddonVersions(ctx, &eks.DescribeAddonVersionsInput{AddonName: aws.String("eks-pod-identity-agent"), KubernetesVersion: aws.String("1.34")})
	if err != nil || len(av.Addons) != 1 || len(av.Addons[0].AddonVersions) != 1 {
		t.Fatalf("DescribeAddonVersions: %+v, %v", av, err)
	}
	version := av.Addons[0].AddonVersions[0].AddonVersion

	created, err := ek.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("c1"), AddonName: aws.String("eks-pod-identity-agent"),
		Tags: map[string]string{"team": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if a := created.Addon; a.Status != types.AddonStatusActive || aws.ToString(a.AddonVersion) != aws.ToString(version) ||
		!strings.HasPrefix(aws.ToString(a.AddonArn), "arn:aws:eks:us-east-1:") || a.Tags["team"] != "a" {
		t.Errorf("CreateAddon: %+v", a)
	}
	var inUse *types.ResourceInUseException
	if _, err := ek.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("c1"), AddonName: aws.String("eks-pod-identity-agent")}); !errors.As(err, &inUse) {
		t.Errorf("CreateAddon again: %v, want ResourceInUseException", err)
	}
	var invalid *types.InvalidParameterException
	if _, err := ek.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("c1"), AddonName: aws.String("vpc-cni")}); !errors.As(err, &invalid) {
		t.Errorf("CreateAddon(vpc-cni): %v, want InvalidParameterException", err)
	}
	d, err := ek.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String("c1"), AddonName: aws.String("eks-pod-identity-agent")})
	if err != nil || d.Addon.Status != types.AddonStatusActive {
		t.Errorf("DescribeAddon: %+v, %v", d, err)
	}
	l, err := ek.ListAddons(ctx, &eks.ListAddonsInput{ClusterName: aws.String("c1")})
	if err != nil || len(l.Addons) != 1 || l.Addons[0] != "eks-pod-identity-agent" {
		t.Errorf("ListAddons: %+v, %v", l, err)
	}
	if l, err := ek.ListAddons(ctx, &eks.ListAddonsInput{ClusterName: aws.String("c2")}); err != nil || len(l.Addons) != 0 {
		t.Errorf("ListAddons(c2): %+v, %v", l, err)
	}
	// UpdateAddon (eksctl update addon) applies at once.
	up, err := ek.UpdateAddon(ctx, &eks.UpdateAddonInput{ClusterName: aws.String("c1"), AddonName: aws.String("eks-pod-identity-agent"),
		AddonVersion: version, ConfigurationValues: aws.String(`{"agent":{"additionalArgs":{"-b":"169.254.170.23"}}}`),
		ResolveConflicts: types.ResolveConflictsOverwrite})
	if err != nil {
		t.Fatal(err)
	}
	if u := up.Update; u.Type != types.UpdateTypeAddonUpdate || u.Status != types.UpdateStatusSuccessful || aws.ToString(u.Id) == "" ||
		len(u.Params) != 3 || u.Params[0].Type != types.UpdateParamTypeAddonVersion || aws.ToString(u.Params[0].Value) != aws.ToString(version) {
		t.Errorf("UpdateAddon: %+v", u)
	}
	d, err = ek.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String("c1"), AddonName: aws.String("eks-pod-identity-agent")})
	if err != nil || !strings.Contains(aws.ToString(d.Addon.ConfigurationValues), "169.254.170.23") || d.Addon.Status != types.AddonStatusActive {
		t.Errorf("DescribeAddon after UpdateAddon: %+v, %v", d, err)
	}
	if _, err := ek.UpdateAddon(ctx, &eks.UpdateAddonInput{ClusterName: aws.String("c1"), AddonName: aws.String("eks-pod-identity-agent"),
		AddonVersion: aws.String("v0.0.1-eksbuild.1")}); !errors.As(err, &invalid) {
		t.Errorf("UpdateAddon(unknown version): %v, want InvalidParameterException", err)
	}
	if _, err := ek.UpdateAddon(ctx, &eks.UpdateAddonInput{ClusterName: aws.String("c2"), AddonName: aws.String("eks-pod-identity-agent")}); !errors.As(err, new(*types.ResourceNotFoundException)) {
		t.Errorf("UpdateAddon(not installed): %v, want ResourceNotFoundException", err)
	}

	// The add-ons are not a DescribeCluster member.
	raw := getBody(t, srv.URL+"/clusters/c1")
	if strings.Contains(raw, "podidAddons") || !strings.Contains(raw, `"certificateAuthority":{"data":"`) {
		t.Errorf("DescribeCluster body: %s", raw)
	}
	del, err := ek.DeleteAddon(ctx, &eks.DeleteAddonInput{ClusterName: aws.String("c1"), AddonName: aws.String("eks-pod-identity-agent")})
	if err != nil || del.Addon.Status != types.AddonStatusDeleting {
		t.Errorf("DeleteAddon: %+v, %v", del, err)
	}
	var nf *types.ResourceNotFoundException
	if _, err := ek.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String("c1"), AddonName: aws.String("eks-pod-identity-agent")}); !errors.As(err, &nf) {
		t.Errorf("DescribeAddon after delete: %v, want ResourceNotFoundException", err)
	}
	if _, err := ek.ListAddons(ctx, &eks.ListAddonsInput{ClusterName: aws.String("nope")}); !errors.As(err, &nf) {
		t.Errorf("ListAddons(nope): %v, want ResourceNotFoundException", err)
	}
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
