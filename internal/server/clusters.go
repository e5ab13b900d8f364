package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store"
)

// Cluster defaults podid reports for members a CreateCluster request leaves
// out [INF: real EKS picks similar values].
const (
	defaultClusterVersion = "1.34"
	platformVersion       = "eks.1"
	defaultServiceCIDR    = "10.100.0.0/16"
	statusActive          = "ACTIVE"
	statusDeleting        = "DELETING"
)

// createClusterInput is the CreateCluster body subset podid reads. Members
// it does not know (bootstrapSelfManagedAddons, encryptionConfig, ...) are
// accepted and ignored; the typed config members are checked and stored in
// store.Cluster.Config to be echoed.
type createClusterInput struct {
	Name                       *string           `json:"name"`
	RoleArn                    *string           `json:"roleArn"`
	Version                    *string           `json:"version,omitempty"`
	ClientRequestToken         *string           `json:"clientRequestToken,omitempty"`
	Tags                       map[string]string `json:"tags,omitempty"`
	BootstrapSelfManagedAddons *bool             `json:"bootstrapSelfManagedAddons,omitempty"`
	clusterConfig
}

// clusterConfig holds the members podid stores and echoes; it is the
// JSON object kept in store.Cluster.Config.
type clusterConfig struct {
	ResourcesVpcConfig      *vpcConfig               `json:"resourcesVpcConfig,omitempty"`
	KubernetesNetworkConfig *kubernetesNetworkConfig `json:"kubernetesNetworkConfig,omitempty"`
	Logging                 *logging                 `json:"logging,omitempty"`
	AccessConfig            *accessConfig            `json:"accessConfig,omitempty"`
	DeletionProtection      *bool                    `json:"deletionProtection,omitempty"`
	// CertificateAuthority is made by CreateCluster (a request's is
	// replaced): eksctl reads it.
	CertificateAuthority *certificateAuthority `json:"certificateAuthority,omitempty"`
}

type vpcConfig struct {
	SubnetIds             []string `json:"subnetIds"`
	SecurityGroupIds      []string `json:"securityGroupIds"`
	EndpointPublicAccess  *bool    `json:"endpointPublicAccess,omitempty"`
	EndpointPrivateAccess *bool    `json:"endpointPrivateAccess,omitempty"`
	PublicAccessCidrs     []string `json:"publicAccessCidrs,omitempty"`
}

type kubernetesNetworkConfig struct {
	ServiceIpv4Cidr string `json:"serviceIpv4Cidr,omitempty"`
	ServiceIpv6Cidr string `json:"serviceIpv6Cidr,omitempty"`
	IpFamily        string `json:"ipFamily,omitempty"`
}

type logging struct {
	ClusterLogging []logSetup `json:"clusterLogging,omitempty"`
}

type logSetup struct {
	Types   []string `json:"types,omitempty"`
	Enabled *bool    `json:"enabled,omitempty"`
}

type accessConfig struct {
	BootstrapClusterCreatorAdminPermissions *bool  `json:"bootstrapClusterCreatorAdminPermissions,omitempty"`
	AuthenticationMode                      string `json:"authenticationMode,omitempty"`
}

var (
	ipFamilies          = []string{"ipv4", "ipv6"}
	authenticationModes = []string{"API", "API_AND_CONFIG_MAP", "CONFIG_MAP"}
	logTypes            = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}
)

func (s *Server) createCluster(w http.ResponseWriter, r *http.Request, in *createClusterInput) (*eksapi.ClusterOutput, error) {
	name := deref(in.Name)
	if err := checkClusterName("name", name); err != nil {
		return nil, err
	}
	if err := s.checkRoleARN("roleArn", deref(in.RoleArn), true); err != nil {
		return nil, err.WithCluster(name)
	}
	version := deref(in.Version)
	if version == "" {
		version = defaultClusterVersion
	} else if len(version) > maxVersionLen || !versionPattern.MatchString(version) {
		return nil, invalidParam("The parameter version is not a valid Kubernetes version: expected <major>.<minor>, e.g. %s.", defaultClusterVersion).WithCluster(name)
	}
	if p := tagProblem(in.Tags, nil); p != "" {
		return nil, invalidParam("%s", p).WithCluster(name)
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err.WithCluster(name)
	}
	cfg, err := clusterConfigWithDefaults(in.clusterConfig)
	if err != nil {
		return nil, err.WithCluster(name)
	}
	ca, caErr := newClusterCA(s.now())
	if caErr != nil {
		return nil, fmt.Errorf("making the certificate authority of cluster %s: %w", name, caErr)
	}
	cfg.CertificateAuthority = ca
	config, jerr := json.Marshal(cfg)
	if jerr != nil {
		return nil, fmt.Errorf("encoding cluster config: %w", jerr)
	}

	region := s.region(r)
	c := store.Cluster{
		Region:             region,
		Name:               name,
		CreatedAt:          s.nowMillis(),
		Version:            version,
		RoleARN:            deref(in.RoleArn),
		ClientRequestToken: deref(in.ClientRequestToken),
		Config:             config,
		Tags:               copyTags(in.Tags),
	}
	var idem *store.Idempotency
	if tok := deref(in.ClientRequestToken); tok != "" {
		params := *in
		params.ClientRequestToken = nil
		idem = idempotency(opCreateCluster, region, name, tok, params)
	}
	if s.cfg.NewClusterIssuer != nil {
		iss, err := s.cfg.NewClusterIssuer(r.Context(), name)
		if err != nil {
			return nil, fmt.Errorf("making the token issuer of cluster %s: %w", name, err)
		}
		c.Issuer = iss
	}
	// The cluster's own issuer URL is fixed now, as EKS fixes a cluster's
	// OIDC issuer: whichever replica serves its tokens later, and on
	// whatever URL, they carry this one.
	c.Issuer.PodidURL = s.names.PodidIssuerURL(region, name)
	got, serr := s.store.CreateCluster(r.Context(), c, store.WriteOptions{Idempotency: idem})
	if serr != nil {
		return nil, &httpx.ResourceError{Kind: httpx.KindCluster, Cluster: name, Err: serr}
	}
	setRevision(w, got.Revision)
	return &eksapi.ClusterOutput{Cluster: s.clusterShape(got, statusActive)}, nil
}

// clusterConfigWithDefaults checks the stored members and fills what real
// EKS reports when they are left out.
func clusterConfigWithDefaults(cfg clusterConfig) (clusterConfig, *eksapi.Error) {
	if cfg.ResourcesVpcConfig == nil {
		return cfg, invalidParam("The parameter resourcesVpcConfig must not be empty.")
	}
	vpc := *cfg.ResourcesVpcConfig
	if vpc.SubnetIds == nil {
		vpc.SubnetIds = []string{}
	}
	if vpc.SecurityGroupIds == nil {
		vpc.SecurityGroupIds = []string{}
	}
	if vpc.EndpointPublicAccess == nil {
		vpc.EndpointPublicAccess = ptr(true)
	}
	if vpc.EndpointPrivateAccess == nil {
		vpc.EndpointPrivateAccess = ptr(false)
	}
	if vpc.PublicAccessCidrs == nil && *vpc.EndpointPublicAccess {
		vpc.PublicAccessCidrs = []string{"0.0.0.0/0"}
	}
	cfg.ResourcesVpcConfig = &vpc

	knc := kubernetesNetworkConfig{ServiceIpv4Cidr: defaultServiceCIDR, IpFamily: "ipv4"}
	if cfg.KubernetesNetworkConfig != nil {
		knc = *cfg.KubernetesNetworkConfig
		if knc.IpFamily == "" {
			knc.IpFamily = "ipv4"
		}
		if !slices.Contains(ipFamilies, knc.IpFamily) {
			return cfg, invalidParam("The parameter kubernetesNetworkConfig.ipFamily must be one of ipv4, ipv6.")
		}
		if knc.IpFamily == "ipv4" && knc.ServiceIpv4Cidr == "" {
			knc.ServiceIpv4Cidr = defaultServiceCIDR
		}
	}
	cfg.KubernetesNetworkConfig = &knc

	if cfg.Logging != nil {
		for _, l := range cfg.Logging.ClusterLogging {
			for _, t := range l.Types {
				if !slices.Contains(logTypes, t) {
					return cfg, invalidParam("The parameter logging has an unknown log type %q: use api, audit, authenticator, controllerManager or scheduler.", truncate(t, 64))
				}
			}
		}
	}

	ac := accessConfig{}
	if cfg.AccessConfig != nil {
		ac = *cfg.AccessConfig
	}
	if ac.AuthenticationMode == "" {
		ac.AuthenticationMode = "CONFIG_MAP"
	} else if !slices.Contains(authenticationModes, ac.AuthenticationMode) {
		return cfg, invalidParam("The parameter accessConfig.authenticationMode must be one of API, API_AND_CONFIG_MAP, CONFIG_MAP.")
	}
	if ac.BootstrapClusterCreatorAdminPermissions == nil {
		ac.BootstrapClusterCreatorAdminPermissions = ptr(true)
	}
	cfg.AccessConfig = &ac
	return cfg, nil
}

func (s *Server) describeCluster(w http.ResponseWriter, r *http.Request, _ *noInput) (*eksapi.ClusterOutput, error) {
	name := r.PathValue("name")
	if err := checkClusterName("name", name); err != nil {
		return nil, err
	}
	// The response shows no key material: skip reading it.
	c, err := s.store.GetClusterPublic(r.Context(), s.region(r), name)
	if err != nil {
		return nil, err
	}
	return &eksapi.ClusterOutput{Cluster: s.clusterShape(c, statusActive)}, nil
}

// deleteCluster deletes the cluster with its associations and their tags,
// and returns it as real EKS does, with status DELETING.
func (s *Server) deleteCluster(w http.ResponseWriter, r *http.Request, _ *noInput) (*eksapi.ClusterOutput, error) {
	name := r.PathValue("name")
	if err := checkClusterName("name", name); err != nil {
		return nil, err
	}
	c, err := s.store.DeleteCluster(r.Context(), s.region(r), name)
	if err != nil {
		return nil, err
	}
	setRevision(w, c.Revision)
	return &eksapi.ClusterOutput{Cluster: s.clusterShape(c, statusDeleting)}, nil
}

func (s *Server) listClusters(w http.ResponseWriter, r *http.Request, _ *noInput) (*eksapi.ListClustersOutput, error) {
	q := r.URL.Query()
	limit, perr := maxResultsParam(q)
	if perr != nil {
		return nil, perr
	}
	for _, v := range q["include"] {
		if v != "all" {
			return nil, invalidParam("The parameter include accepts only \"all\" (in lowercase).")
		}
	}
	region := s.region(r)
	scope := pageScope(opListClusters, region)
	after, err := s.decodePageToken(r.Context(), scope, q.Get("nextToken"))
	if err != nil {
		return nil, err
	}
	names, next, err := s.store.ListClusters(r.Context(), region, store.Page{After: after, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := &eksapi.ListClustersOutput{Clusters: names}
	if out.Clusters == nil {
		out.Clusters = []string{}
	}
	if next != "" {
		if out.NextToken, err = s.encodePageToken(r.Context(), scope, next); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// clusterShape is a stored cluster on the wire (spec §3.3).
func (s *Server) clusterShape(c store.Cluster, status string) *eksapi.Cluster {
	created := eksapi.NewTime(c.CreatedAt)
	tags := c.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	// A cluster registered from a real Kubernetes cluster shows its API
	// server and CA; others podid's own URL and the CA made for them.
	endpoint := s.cfg.PublicURL
	if c.APIServer.Endpoint != "" {
		endpoint = c.APIServer.Endpoint
	}
	out := &eksapi.Cluster{
		Name:               c.Name,
		Arn:                s.ClusterARN(c.Region, c.Name),
		CreatedAt:          &created,
		Version:            c.Version,
		Endpoint:           endpoint,
		RoleArn:            c.RoleARN,
		Identity:           &eksapi.ClusterIdentity{OIDC: &eksapi.OIDC{Issuer: s.IssuerURL(c)}},
		Status:             status,
		ClientRequestToken: c.ClientRequestToken,
		PlatformVersion:    platformVersion,
		Tags:               tags,
		Extra:              json.RawMessage(publicConfig(c.Config)),
	}
	out.CertificateAuthority = s.certificateAuthorityOf(c.Config)
	if len(c.APIServer.CAData) > 0 {
		out.CertificateAuthority = &eksapi.CertificateData{Data: base64.StdEncoding.EncodeToString(c.APIServer.CAData)}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
