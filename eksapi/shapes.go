package eksapi

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Time is a timestamp in restJson1's default form: epoch seconds as a JSON
// number, written with millisecond precision (1700862734.922).
type Time struct{ time.Time }

// NewTime returns t truncated to milliseconds, in UTC.
func NewTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// MarshalJSON writes epoch seconds with three decimals.
func (t Time) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	return []byte(formatEpochMillis(ms)), nil
}

func formatEpochMillis(ms int64) string {
	sign := ""
	if ms < 0 {
		sign = "-"
		ms = -ms
	}
	return fmt.Sprintf("%s%d.%03d", sign, ms/1000, ms%1000)
}

// maxEpochSeconds bounds the timestamps Time reads (about year 33658), so
// converting to milliseconds cannot overflow int64.
const maxEpochSeconds = 1e12

// UnmarshalJSON reads a JSON number of epoch seconds (fraction optional).
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxEpochSeconds {
		return fmt.Errorf("timestamp %.40s is not a number of epoch seconds", b)
	}
	ms := int64(math.Round(f * 1000))
	*t = Time{time.UnixMilli(ms).UTC()}
	return nil
}

// PodIdentityAssociation is the full association object (spec §3.1).
type PodIdentityAssociation struct {
	ClusterName        string            `json:"clusterName,omitempty"`
	Namespace          string            `json:"namespace,omitempty"`
	ServiceAccount     string            `json:"serviceAccount,omitempty"`
	RoleArn            string            `json:"roleArn,omitempty"`
	AssociationArn     string            `json:"associationArn,omitempty"`
	AssociationId      string            `json:"associationId,omitempty"`
	Tags               map[string]string `json:"tags"`
	CreatedAt          *Time             `json:"createdAt,omitempty"`
	ModifiedAt         *Time             `json:"modifiedAt,omitempty"`
	OwnerArn           string            `json:"ownerArn,omitempty"`
	DisableSessionTags *bool             `json:"disableSessionTags,omitempty"`
	TargetRoleArn      string            `json:"targetRoleArn,omitempty"`
	ExternalId         string            `json:"externalId,omitempty"`
	Policy             string            `json:"policy,omitempty"`
}

// PodIdentityAssociationSummary is one List item (spec §3.2).
type PodIdentityAssociationSummary struct {
	ClusterName    string `json:"clusterName,omitempty"`
	Namespace      string `json:"namespace,omitempty"`
	ServiceAccount string `json:"serviceAccount,omitempty"`
	AssociationArn string `json:"associationArn,omitempty"`
	AssociationId  string `json:"associationId,omitempty"`
	OwnerArn       string `json:"ownerArn,omitempty"`
}

// CreatePodIdentityAssociationInput is the body of
// POST /clusters/{clusterName}/pod-identity-associations.
type CreatePodIdentityAssociationInput struct {
	Namespace          *string           `json:"namespace"`
	ServiceAccount     *string           `json:"serviceAccount"`
	RoleArn            *string           `json:"roleArn"`
	ClientRequestToken *string           `json:"clientRequestToken,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	DisableSessionTags *bool             `json:"disableSessionTags,omitempty"`
	TargetRoleArn      *string           `json:"targetRoleArn,omitempty"`
	Policy             *string           `json:"policy,omitempty"`
}

// UpdatePodIdentityAssociationInput is the body of
// POST /clusters/{clusterName}/pod-identity-associations/{associationId}.
// A nil member is left unchanged.
type UpdatePodIdentityAssociationInput struct {
	RoleArn            *string `json:"roleArn,omitempty"`
	ClientRequestToken *string `json:"clientRequestToken,omitempty"`
	DisableSessionTags *bool   `json:"disableSessionTags,omitempty"`
	TargetRoleArn      *string `json:"targetRoleArn,omitempty"`
	Policy             *string `json:"policy,omitempty"`
}

// AssociationOutput is the response of Create, Describe, Update and Delete
// PodIdentityAssociation: {"association": {...}}.
type AssociationOutput struct {
	Association *PodIdentityAssociation `json:"association,omitempty"`
}

// UpdatePodIdentityAssociationOutput is the UpdatePodIdentityAssociation
// response (the seed's value type).
type UpdatePodIdentityAssociationOutput = AssociationOutput

// ListPodIdentityAssociationsOutput is the List response.
type ListPodIdentityAssociationsOutput struct {
	Associations []PodIdentityAssociationSummary `json:"associations"`
	NextToken    string                          `json:"nextToken,omitempty"`
}

// TagResourceInput is the body of POST /tags/{resourceArn}.
type TagResourceInput struct {
	Tags map[string]string `json:"tags"`
}

// TagsOutput is the ListTagsForResource response.
type TagsOutput struct {
	Tags map[string]string `json:"tags"`
}

// Cluster is the cluster object podid returns (spec §3.3). Members podid
// only stores and echoes are kept raw in Extra and merged into the JSON.
type Cluster struct {
	Name                 string            `json:"name,omitempty"`
	Arn                  string            `json:"arn,omitempty"`
	CreatedAt            *Time             `json:"createdAt,omitempty"`
	Version              string            `json:"version,omitempty"`
	Endpoint             string            `json:"endpoint,omitempty"`
	RoleArn              string            `json:"roleArn,omitempty"`
	Identity             *ClusterIdentity  `json:"identity,omitempty"`
	Status               string            `json:"status,omitempty"`
	CertificateAuthority *CertificateData  `json:"certificateAuthority,omitempty"`
	ClientRequestToken   string            `json:"clientRequestToken,omitempty"`
	PlatformVersion      string            `json:"platformVersion,omitempty"`
	Tags                 map[string]string `json:"tags"`
	// Extra holds other members (resourcesVpcConfig, kubernetesNetworkConfig,
	// logging, accessConfig, ...) as one JSON object, merged on encoding.
	Extra json.RawMessage `json:"-"`
}

// ClusterIdentity is cluster.identity.
type ClusterIdentity struct {
	OIDC *OIDC `json:"oidc,omitempty"`
}

// OIDC is cluster.identity.oidc.
type OIDC struct {
	Issuer string `json:"issuer,omitempty"`
}

// CertificateData is cluster.certificateAuthority.
type CertificateData struct {
	Data string `json:"data,omitempty"`
}

// ClusterOutput is the response of Create, Describe and Delete Cluster.
type ClusterOutput struct {
	Cluster *Cluster `json:"cluster,omitempty"`
}

// ListClustersOutput is the ListClusters response.
type ListClustersOutput struct {
	Clusters  []string `json:"clusters"`
	NextToken string   `json:"nextToken,omitempty"`
}
