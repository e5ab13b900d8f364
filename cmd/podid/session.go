package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/podid/podid/internal/admin"
)

// sessionInspectOptions are podid session inspect's flags.
type sessionInspectOptions struct {
	admin        adminFlags
	sessionToken string
	fromEnv      bool
}

func newSessionCmd() *cobra.Command {
	o := &sessionInspectOptions{}
	session := &cobra.Command{
		Use:   "session",
		Short: "Look at sessions podid's STS vended",
	}
	inspect := &cobra.Command{
		Use:   "inspect",
		Short: "Show a vended session: role, session name, tags, transitive keys, policy, external ID, chain, expiry",
		Long: `inspect asks a podid server (its admin API, POST ` + admin.InspectPath + `) what a session
token carries. Real STS does not echo session tags; podid can, because its tokens
are sealed records of the session. The secret access key is never shown.

The request is signed with the admin identity's keys: --access-key-id and
--secret-access-key, else PODID_ADMIN_ACCESS_KEY_ID and PODID_ADMIN_SECRET_ACCESS_KEY,
else the keys file in --data-dir; without any, it is sent unsigned (for --auth none).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSessionInspect(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := inspect.Flags()
	o.admin.register(f)
	f.StringVar(&o.sessionToken, "session-token", "", "the session token to inspect")
	f.BoolVar(&o.fromEnv, "from-env", false, "inspect $AWS_SESSION_TOKEN")
	session.AddCommand(inspect)
	return session
}

func runSessionInspect(ctx context.Context, o *sessionInspectOptions, stdout io.Writer) error {
	token := o.sessionToken
	switch {
	case o.fromEnv && token != "":
		return errors.New("use --session-token or --from-env, not both")
	case o.fromEnv:
		token = os.Getenv("AWS_SESSION_TOKEN")
		if token == "" {
			return errors.New("--from-env: AWS_SESSION_TOKEN is not set")
		}
	case token == "":
		return errors.New("give the token with --session-token or --from-env")
	}
	// --from-env: the environment's AWS keys are the session's, not the
	// admin's.
	o.admin.ignoreAWSEnv = o.admin.ignoreAWSEnv || o.fromEnv
	c, err := o.admin.client()
	if err != nil {
		return err
	}
	view, err := c.InspectSession(ctx, token)
	if err != nil {
		return fmt.Errorf("inspecting the session: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, view, "", "  "); err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	out.WriteByte('\n')
	_, err = stdout.Write(out.Bytes())
	return err
}
