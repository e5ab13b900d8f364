package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/admin"
)

type issuerOptions struct {
	admin     adminFlags
	cluster   string
	issuerURL string
	jwksFile  string
	jwksURL   string
	podid     bool
}

func newIssuerCmd() *cobra.Command {
	issuer := &cobra.Command{
		Use:   "issuer",
		Short: "Show or set whose service-account tokens a cluster trusts",
	}

	show := &issuerOptions{}
	showCmd := &cobra.Command{
		Use:   "show",
		Short: "Show a cluster's token issuer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runIssuerShow(cmd.Context(), show, cmd.OutOrStdout())
		},
	}
	show.admin.register(showCmd.Flags())
	showCmd.Flags().StringVar(&show.cluster, "cluster", "", "cluster name (required)")

	set := &issuerOptions{}
	setCmd := &cobra.Command{
		Use:   "set",
		Short: "Trust a Kubernetes cluster's issuer (its URL and keys), or podid's own",
		Long: `set makes EKS Auth accept the service-account tokens of a real Kubernetes
cluster: --issuer-url is the "iss" its tokens carry (kubectl get --raw
/.well-known/openid-configuration shows it) and its public keys come from
--jwks-file (kubectl get --raw /openid/v1/jwks > jwks.json) or --jwks-url
(fetched, and re-read when a token names an unknown key ID).

--podid switches back to podid as the issuer (podid token signs the
cluster's tokens; the key it had is kept).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runIssuerSet(cmd.Context(), set, cmd.OutOrStdout())
		},
	}
	f := setCmd.Flags()
	set.admin.register(f)
	f.StringVar(&set.cluster, "cluster", "", "cluster name (required)")
	f.StringVar(&set.issuerURL, "issuer-url", "", "the issuer URL the cluster's tokens carry as iss")
	f.StringVar(&set.jwksFile, "jwks-file", "", "file holding the issuer's public JSON Web Key Set")
	f.StringVar(&set.jwksURL, "jwks-url", "", "URL serving the issuer's public JSON Web Key Set")
	f.BoolVar(&set.podid, "podid", false, "make podid the cluster's issuer again")

	issuer.AddCommand(showCmd, setCmd)
	return issuer
}

func runIssuerShow(ctx context.Context, o *issuerOptions, stdout io.Writer) error {
	if o.cluster == "" {
		return errors.New("--cluster is required")
	}
	c, err := o.admin.client()
	if err != nil {
		return err
	}
	doc, err := c.Issuer(ctx, o.cluster)
	if err != nil {
		return fmt.Errorf("reading the issuer: %w", err)
	}
	return printJSON(stdout, doc)
}

func runIssuerSet(ctx context.Context, o *issuerOptions, stdout io.Writer) error {
	doc, err := o.issuerDoc()
	if err != nil {
		return err
	}
	c, err := o.admin.client()
	if err != nil {
		return err
	}
	out, err := c.SetIssuer(ctx, o.cluster, doc)
	if err != nil {
		return fmt.Errorf("setting the issuer: %w", err)
	}
	return printJSON(stdout, out)
}

// issuerDoc is what the set flags ask for, every problem with them
// reported at once.
func (o *issuerOptions) issuerDoc() (admin.IssuerDoc, error) {
	var problems []error
	if o.cluster == "" {
		problems = append(problems, errors.New("--cluster is required"))
	}
	doc := admin.IssuerDoc{IssuerURL: o.issuerURL, JWKSURL: o.jwksURL, PodidIssued: o.podid}
	switch {
	case o.podid:
		if o.issuerURL != "" || o.jwksFile != "" || o.jwksURL != "" {
			problems = append(problems, errors.New("--podid excludes --issuer-url, --jwks-file and --jwks-url"))
		}
	case o.issuerURL == "":
		problems = append(problems, errors.New("--issuer-url is required (or --podid)"))
	case (o.jwksFile == "") == (o.jwksURL == ""):
		problems = append(problems, errors.New("give exactly one of --jwks-file and --jwks-url"))
	case o.jwksFile != "":
		b, err := os.ReadFile(o.jwksFile)
		if err != nil {
			problems = append(problems, fmt.Errorf("--jwks-file: %w", err))
		} else if !json.Valid(b) {
			problems = append(problems, fmt.Errorf("--jwks-file %s is not JSON", o.jwksFile))
		}
		doc.JWKS = b
	}
	return doc, errors.Join(problems...)
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
