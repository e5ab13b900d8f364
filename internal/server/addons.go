package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/store"
)

// What eksctl needs beyond pod identity associations: a cluster's
// certificate authority, the Kubernetes versions (DescribeClusterVersions)
// and the eks-pod-identity-agent add-on, which stands for podid's agent.

// certificateAuthority is DescribeCluster's certificateAuthority member.
type certificateAuthority struct {
	Data string `json:"data"`
}

// newClusterCA makes a cluster's certificate authority: a self-signed CA
// certificate (ECDSA P-256, ten years, CN "kubernetes" as EKS's), base64 of
// its PEM as EKS returns it. podid's own clusters run no API server, so the
// private key is not kept; a registered cluster's CA is its real one.
func newClusterCA(now time.Time) (*certificateAuthority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kubernetes"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return &certificateAuthority{Data: base64.StdEncoding.EncodeToString(p)}, nil
}

// certificateAuthorityOf reads the certificate authority kept in a
// cluster's Config (eksapi.Cluster models the member, so the typed field
// carries it). Decoding the whole config on every DescribeCluster cost
// more than the rest of the shape: the answer is kept per config.
func (s *Server) certificateAuthorityOf(config []byte) *eksapi.CertificateData {
	if !bytes.Contains(config, []byte(`"certificateAuthority"`)) {
		return nil
	}
	s.caMu.Lock()
	ca, ok := s.cas[string(config)]
	s.caMu.Unlock()
	if ok {
		return cloneCA(ca)
	}
	var cfg struct {
		CA *eksapi.CertificateData `json:"certificateAuthority"`
	}
	if json.Unmarshal(config, &cfg) != nil {
		return nil
	}
	s.caMu.Lock()
	if len(s.cas) >= maxCachedCAs {
		clear(s.cas)
	}
	s.cas[string(config)] = cfg.CA
	s.caMu.Unlock()
	return cloneCA(cfg.CA)
}

// cloneCA copies a memoized answer, so no response shares it.
func cloneCA(ca *eksapi.CertificateData) *eksapi.CertificateData {
	if ca == nil {
		return nil
	}
	c := *ca
	return &c
}

// maxCachedCAs bounds certificateAuthorityOf's memo (one entry per
// cluster config seen; it starts over when full).
const maxCachedCAs = 4096

// Kubernetes versions podid's clusters may have, newest first, with EKS's
// dates for them [INF: EKS's published calendar].
var clusterVersions = []clusterVersion{
	{"1.34", "1.34.1", "2025-10-02", "2026-12-02", "2027-12-02"},
	{"1.33", "1.33.5", "2025-05-29", "2026-07-29", "2027-07-29"},
	{"1.32", "1.32.9", "2025-01-23", "2026-03-23", "2027-03-23"},
	{"1.31", "1.31.13", "2024-09-26", "2025-11-26", "2026-11-26"},
	{"1.30", "1.30.14", "2024-05-23", "2025-07-23", "2026-07-23"},
}

type clusterVersion struct {
	version, patch, released, endStandard, endExtended string
}

// clusterVersionInfo is one ClusterVersionInformation on the wire.
type clusterVersionInfo struct {
	ClusterVersion           string      `json:"clusterVersion"`
	ClusterType              string      `json:"clusterType"`
	DefaultPlatformVersion   string      `json:"defaultPlatformVersion"`
	DefaultVersion           bool        `json:"defaultVersion"`
	ReleaseDate              eksapi.Time `json:"releaseDate"`
	EndOfStandardSupportDate eksapi.Time `json:"endOfStandardSupportDate"`
	EndOfExtendedSupportDate eksapi.Time `json:"endOfExtendedSupportDate"`
	KubernetesPatchVersion   string      `json:"kubernetesPatchVersion"`
	Status                   string      `json:"status"`
	VersionStatus            string      `json:"versionStatus"`
}

type describeClusterVersionsOutput struct {
	ClusterVersions []clusterVersionInfo `json:"clusterVersions"`
	NextToken       *string              `json:"nextToken,omitempty"`
}

func day(s string) eksapi.Time {
	t, _ := time.Parse(time.DateOnly, s)
	return eksapi.NewTime(t)
}

// describeClusterVersions is GET /cluster-versions: the versions podid
// accepts, filtered by clusterVersions, defaultOnly and status as EKS
// filters them; one page (the list is short).
func (s *Server) describeClusterVersions(w http.ResponseWriter, r *http.Request, _ *noInput) (*describeClusterVersionsOutput, error) {
	q := r.URL.Query()
	if _, err := maxResultsParam(q); err != nil {
		return nil, err
	}
	if t := q.Get("clusterType"); t != "" && t != "eks" {
		return nil, invalidParam("The parameter clusterType must be eks.")
	}
	now := s.now()
	out := &describeClusterVersionsOutput{ClusterVersions: []clusterVersionInfo{}}
	for _, v := range clusterVersions {
		info := clusterVersionInfo{
			ClusterVersion: v.version, ClusterType: "eks", DefaultPlatformVersion: platformVersion,
			DefaultVersion: v.version == defaultClusterVersion, ReleaseDate: day(v.released),
			EndOfStandardSupportDate: day(v.endStandard), EndOfExtendedSupportDate: day(v.endExtended),
			KubernetesPatchVersion: v.patch, Status: "standard-support", VersionStatus: "STANDARD_SUPPORT",
		}
		switch {
		case now.After(info.EndOfExtendedSupportDate.Time):
			info.Status, info.VersionStatus = "unsupported", "UNSUPPORTED"
		case now.After(info.EndOfStandardSupportDate.Time):
			info.Status, info.VersionStatus = "extended-support", "EXTENDED_SUPPORT"
		}
		if want := q["clusterVersions"]; len(want) > 0 && !slices.Contains(want, v.version) {
			continue
		}
		if q.Get("defaultOnly") == "true" && !info.DefaultVersion {
			continue
		}
		if st := q.Get("status"); st != "" && st != info.Status {
			continue
		}
		if vs := q.Get("versionStatus"); vs != "" && vs != info.VersionStatus {
			continue
		}
		if q.Get("includeAll") != "true" && info.Status == "unsupported" {
			continue
		}
		out.ClusterVersions = append(out.ClusterVersions, info)
	}
	return out, nil
}

// The one add-on podid knows: EKS's pod identity agent, which podid's
// agent (podid agent) stands in for.
const (
	podIdentityAddon        = "eks-pod-identity-agent"
	podIdentityAddonVersion = "v1.3.8-eksbuild.2"
)

// addonsKey is the member of store.Cluster.Config holding the cluster's
// add-ons; clusterShape leaves it out of DescribeCluster.
const addonsKey = "podidAddons"

// storedAddon is an add-on as kept in the cluster's Config.
type storedAddon struct {
	Version               string            `json:"version"`
	ServiceAccountRoleArn string            `json:"serviceAccountRoleArn,omitempty"`
	ConfigurationValues   string            `json:"configurationValues,omitempty"`
	Tags                  map[string]string `json:"tags,omitempty"`
	CreatedAt             time.Time         `json:"createdAt"`
	ModifiedAt            time.Time         `json:"modifiedAt,omitzero"` // zero until updated
}

type createAddonInput struct {
	AddonName             *string           `json:"addonName"`
	AddonVersion          *string           `json:"addonVersion,omitempty"`
	ServiceAccountRoleArn *string           `json:"serviceAccountRoleArn,omitempty"`
	ResolveConflicts      *string           `json:"resolveConflicts,omitempty"`
	ClientRequestToken    *string           `json:"clientRequestToken,omitempty"`
	Tags                  map[string]string `json:"tags,omitempty"`
	ConfigurationValues   *string           `json:"configurationValues,omitempty"`
}

type addonShape struct {
	AddonName               string            `json:"addonName"`
	ClusterName             string            `json:"clusterName"`
	Status                  string            `json:"status"`
	AddonVersion            string            `json:"addonVersion"`
	Health                  addonHealth       `json:"health"`
	AddonArn                string            `json:"addonArn"`
	CreatedAt               eksapi.Time       `json:"createdAt"`
	ModifiedAt              eksapi.Time       `json:"modifiedAt"`
	ServiceAccountRoleArn   string            `json:"serviceAccountRoleArn,omitempty"`
	Tags                    map[string]string `json:"tags"`
	ConfigurationValues     string            `json:"configurationValues,omitempty"`
	PodIdentityAssociations []string          `json:"podIdentityAssociations"`
}

type addonHealth struct {
	Issues []struct{} `json:"issues"`
}

type addonOutput struct {
	Addon addonShape `json:"addon"`
}

type listAddonsOutput struct {
	Addons    []string `json:"addons"`
	NextToken *string  `json:"nextToken,omitempty"`
}

// addonsOf reads the add-ons kept in a cluster's Config.
func addonsOf(c store.Cluster) (map[string]storedAddon, error) {
	var cfg map[string]json.RawMessage
	if len(c.Config) > 0 {
		if err := json.Unmarshal(c.Config, &cfg); err != nil {
			return nil, fmt.Errorf("cluster %s config: %w", c.Name, err)
		}
	}
	addons := map[string]storedAddon{}
	if raw, ok := cfg[addonsKey]; ok {
		if err := json.Unmarshal(raw, &addons); err != nil {
			return nil, fmt.Errorf("cluster %s add-ons: %w", c.Name, err)
		}
	}
	return addons, nil
}

// setAddons stores addons in c's Config.
func setAddons(c *store.Cluster, addons map[string]storedAddon) error {
	cfg := map[string]json.RawMessage{}
	if len(c.Config) > 0 {
		if err := json.Unmarshal(c.Config, &cfg); err != nil {
			return err
		}
	}
	if len(addons) == 0 {
		delete(cfg, addonsKey)
	} else {
		b, err := json.Marshal(addons)
		if err != nil {
			return err
		}
		cfg[addonsKey] = b
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	c.Config = b
	return nil
}

// publicConfig is c's Config without the add-ons member.
func publicConfig(config []byte) []byte {
	if !bytes.Contains(config, []byte(`"`+addonsKey+`"`)) {
		return config
	}
	var cfg map[string]json.RawMessage
	if json.Unmarshal(config, &cfg) != nil {
		return config
	}
	delete(cfg, addonsKey)
	b, err := json.Marshal(cfg)
	if err != nil {
		return config
	}
	return b
}

func (s *Server) addonARN(region, cluster, name string) string {
	return s.names.arnPrefix(region) + "addon/" + cluster + "/" + name + "/" + addonID(cluster, name)
}

// addonID is the UUID-like suffix of an add-on's ARN, stable per cluster
// and add-on name [INF: EKS makes a random one]; the ARN names the region.
func addonID(cluster, name string) string {
	sum := sha256Hex(cluster + "/" + name)
	return sum[:8] + "-" + sum[8:12] + "-" + sum[12:16] + "-" + sum[16:20] + "-" + sum[20:32]
}

func (s *Server) addonShape(region, cluster, name string, a storedAddon, status string) addonShape {
	tags := a.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	modified := a.ModifiedAt
	if modified.IsZero() {
		modified = a.CreatedAt
	}
	return addonShape{
		AddonName: name, ClusterName: cluster, Status: status, AddonVersion: a.Version,
		Health: addonHealth{Issues: []struct{}{}}, AddonArn: s.addonARN(region, cluster, name),
		CreatedAt: eksapi.NewTime(a.CreatedAt), ModifiedAt: eksapi.NewTime(modified),
		ServiceAccountRoleArn: a.ServiceAccountRoleArn, Tags: tags, ConfigurationValues: a.ConfigurationValues,
		PodIdentityAssociations: []string{},
	}
}

func addonNotFound(cluster, name string) error {
	return eksapi.NewError(eksapi.CodeResourceNotFound, fmt.Sprintf("No addon: %s found in cluster: %s", name, cluster)).WithCluster(cluster)
}

func (s *Server) createAddon(w http.ResponseWriter, r *http.Request, in *createAddonInput) (*addonOutput, error) {
	cluster, name := r.PathValue("name"), deref(in.AddonName)
	if err := checkClusterName("name", cluster); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, invalidParam("The parameter addonName must not be empty.").WithCluster(cluster)
	}
	c, err := s.store.GetClusterPublic(r.Context(), s.region(r), cluster)
	if err != nil {
		return nil, err
	}
	if name != podIdentityAddon {
		return nil, invalidParam("Addon %s specified is not supported in %s kubernetes version", truncate(name, 100), c.Version).WithCluster(cluster)
	}
	if v := deref(in.AddonVersion); v != "" && v != podIdentityAddonVersion {
		return nil, invalidParam("Addon version specified is not supported").WithCluster(cluster)
	}
	if p := tagProblem(in.Tags, nil); p != "" {
		return nil, invalidParam("%s", p).WithCluster(cluster)
	}
	a := storedAddon{Version: podIdentityAddonVersion, ServiceAccountRoleArn: deref(in.ServiceAccountRoleArn),
		ConfigurationValues: deref(in.ConfigurationValues), Tags: copyTags(in.Tags), CreatedAt: s.nowMillis()}
	got, err := s.store.UpdateCluster(r.Context(), s.region(r), cluster, func(c *store.Cluster) error {
		addons, err := addonsOf(*c)
		if err != nil {
			return err
		}
		if _, ok := addons[name]; ok {
			return eksapi.NewError(eksapi.CodeResourceInUse, "Addon already exists.").WithCluster(cluster)
		}
		addons[name] = a
		return setAddons(c, addons)
	})
	if err != nil {
		return nil, err
	}
	setRevision(w, got.Revision)
	return &addonOutput{Addon: s.addonShape(s.region(r), cluster, name, a, statusActive)}, nil
}

// storedAddons reads the add-ons of the request's region's cluster.
func (s *Server) storedAddons(r *http.Request, cluster string) (map[string]storedAddon, error) {
	c, err := s.store.GetClusterPublic(r.Context(), s.region(r), cluster)
	if err != nil {
		return nil, err
	}
	return addonsOf(c)
}

func (s *Server) describeAddon(w http.ResponseWriter, r *http.Request, _ *noInput) (*addonOutput, error) {
	cluster, name := r.PathValue("name"), r.PathValue("addonName")
	if err := checkClusterName("name", cluster); err != nil {
		return nil, err
	}
	addons, err := s.storedAddons(r, cluster)
	if err != nil {
		return nil, err
	}
	a, ok := addons[name]
	if !ok {
		return nil, addonNotFound(cluster, name)
	}
	return &addonOutput{Addon: s.addonShape(s.region(r), cluster, name, a, statusActive)}, nil
}

func (s *Server) listAddons(w http.ResponseWriter, r *http.Request, _ *noInput) (*listAddonsOutput, error) {
	cluster := r.PathValue("name")
	if err := checkClusterName("name", cluster); err != nil {
		return nil, err
	}
	if _, err := maxResultsParam(r.URL.Query()); err != nil {
		return nil, err
	}
	addons, err := s.storedAddons(r, cluster)
	if err != nil {
		return nil, err
	}
	out := &listAddonsOutput{Addons: []string{}}
	for name := range addons {
		out.Addons = append(out.Addons, name)
	}
	slices.Sort(out.Addons)
	return out, nil
}

func (s *Server) deleteAddon(w http.ResponseWriter, r *http.Request, _ *noInput) (*addonOutput, error) {
	cluster, name := r.PathValue("name"), r.PathValue("addonName")
	if err := checkClusterName("name", cluster); err != nil {
		return nil, err
	}
	var gone storedAddon
	got, err := s.store.UpdateCluster(r.Context(), s.region(r), cluster, func(c *store.Cluster) error {
		addons, err := addonsOf(*c)
		if err != nil {
			return err
		}
		a, ok := addons[name]
		if !ok {
			return addonNotFound(cluster, name)
		}
		gone = a
		delete(addons, name)
		return setAddons(c, addons)
	})
	if err != nil {
		return nil, err
	}
	setRevision(w, got.Revision)
	return &addonOutput{Addon: s.addonShape(s.region(r), cluster, name, gone, statusDeleting)}, nil
}

type updateAddonInput struct {
	AddonVersion            *string           `json:"addonVersion,omitempty"`
	ServiceAccountRoleArn   *string           `json:"serviceAccountRoleArn,omitempty"`
	ResolveConflicts        *string           `json:"resolveConflicts,omitempty"`
	ClientRequestToken      *string           `json:"clientRequestToken,omitempty"`
	ConfigurationValues     *string           `json:"configurationValues,omitempty"`
	PodIdentityAssociations []json.RawMessage `json:"podIdentityAssociations,omitempty"`
}

// updateShape is EKS's Update: what an update request changed.
type updateShape struct {
	ID        string        `json:"id"`
	Status    string        `json:"status"`
	Type      string        `json:"type"`
	Params    []updateParam `json:"params"`
	CreatedAt eksapi.Time   `json:"createdAt"`
	Errors    []struct{}    `json:"errors"`
}

type updateParam struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type updateOutput struct {
	Update updateShape `json:"update"`
}

// updateAddon is POST /clusters/{name}/addons/{addonName}/update: a new
// version (podid has one), service account role or configuration. EKS
// answers InProgress and applies the change later; podid's add-on has
// nothing to roll out, so the change is made before it answers and the
// update says Successful [INF].
func (s *Server) updateAddon(w http.ResponseWriter, r *http.Request, in *updateAddonInput) (*updateOutput, error) {
	cluster, name := r.PathValue("name"), r.PathValue("addonName")
	if err := checkClusterName("name", cluster); err != nil {
		return nil, err
	}
	if v := deref(in.AddonVersion); v != "" && v != podIdentityAddonVersion {
		return nil, invalidParam("Addon version specified is not supported").WithCluster(cluster)
	}
	if rc := deref(in.ResolveConflicts); rc != "" && !slices.Contains([]string{"OVERWRITE", "NONE", "PRESERVE"}, rc) {
		return nil, invalidParam("The parameter resolveConflicts must be one of OVERWRITE, NONE, PRESERVE.").WithCluster(cluster)
	}
	if len(in.PodIdentityAssociations) > 0 {
		return nil, invalidParam("Addon %s does not support pod identity associations", name).WithCluster(cluster)
	}
	now := s.nowMillis()
	var params []updateParam
	got, err := s.store.UpdateCluster(r.Context(), s.region(r), cluster, func(c *store.Cluster) error {
		addons, err := addonsOf(*c)
		if err != nil {
			return err
		}
		a, ok := addons[name]
		if !ok {
			return addonNotFound(cluster, name)
		}
		params = params[:0]
		if in.AddonVersion != nil {
			a.Version = *in.AddonVersion
			params = append(params, updateParam{"AddonVersion", *in.AddonVersion})
		}
		if in.ServiceAccountRoleArn != nil {
			a.ServiceAccountRoleArn = *in.ServiceAccountRoleArn
			params = append(params, updateParam{"ServiceAccountRoleArn", *in.ServiceAccountRoleArn})
		}
		if in.ResolveConflicts != nil {
			params = append(params, updateParam{"ResolveConflicts", *in.ResolveConflicts})
		}
		if in.ConfigurationValues != nil {
			a.ConfigurationValues = *in.ConfigurationValues
			params = append(params, updateParam{"ConfigurationValues", *in.ConfigurationValues})
		}
		a.ModifiedAt = now
		addons[name] = a
		return setAddons(c, addons)
	})
	if err != nil {
		return nil, err
	}
	setRevision(w, got.Revision)
	if params == nil {
		params = []updateParam{}
	}
	return &updateOutput{Update: updateShape{
		ID: uuid.NewString(), Status: "Successful", Type: "AddonUpdate", Params: params,
		CreatedAt: eksapi.NewTime(now), Errors: []struct{}{},
	}}, nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

type addonVersionsOutput struct {
	Addons    []addonInfo `json:"addons"`
	NextToken *string     `json:"nextToken,omitempty"`
}

type addonInfo struct {
	AddonName     string             `json:"addonName"`
	Type          string             `json:"type"`
	AddonVersions []addonVersionInfo `json:"addonVersions"`
	Publisher     string             `json:"publisher"`
	Owner         string             `json:"owner"`
}

type addonVersionInfo struct {
	AddonVersion           string               `json:"addonVersion"`
	Architecture           []string             `json:"architecture"`
	ComputeTypes           []string             `json:"computeTypes"`
	Compatibilities        []addonCompatibility `json:"compatibilities"`
	RequiresConfiguration  bool                 `json:"requiresConfiguration"`
	RequiresIamPermissions bool                 `json:"requiresIamPermissions"`
}

type addonCompatibility struct {
	ClusterVersion   string   `json:"clusterVersion"`
	PlatformVersions []string `json:"platformVersions"`
	DefaultVersion   bool     `json:"defaultVersion"`
}

// describeAddonVersions is GET /addons/supported-versions: the pod identity
// agent add-on, for every cluster version podid has, filtered by addonName
// and kubernetesVersion.
func (s *Server) describeAddonVersions(w http.ResponseWriter, r *http.Request, _ *noInput) (*addonVersionsOutput, error) {
	q := r.URL.Query()
	if _, err := maxResultsParam(q); err != nil {
		return nil, err
	}
	out := &addonVersionsOutput{Addons: []addonInfo{}}
	if n := q.Get("addonName"); n != "" && n != podIdentityAddon {
		return out, nil
	}
	var compat []addonCompatibility
	for _, v := range clusterVersions {
		if k := q.Get("kubernetesVersion"); k != "" && k != v.version {
			continue
		}
		compat = append(compat, addonCompatibility{ClusterVersion: v.version, PlatformVersions: []string{"*"}, DefaultVersion: true})
	}
	if len(compat) == 0 {
		return out, nil
	}
	out.Addons = append(out.Addons, addonInfo{
		AddonName: podIdentityAddon, Type: "security", Publisher: "eks", Owner: "aws",
		AddonVersions: []addonVersionInfo{{
			AddonVersion: podIdentityAddonVersion, Architecture: []string{"amd64", "arm64"},
			ComputeTypes: []string{"ec2", "hybrid"}, Compatibilities: compat,
		}},
	})
	return out, nil
}
