package proctest_test

import (
	"fmt"
	"strings"

	"github.com/podid/podid/internal/proctest"
)

// CleanEnv gives a child process an environment with no AWS settings of
// the test's own.
func ExampleCleanEnv() {
	env := proctest.CleanEnv("/tmp/pod", "AWS_REGION="+proctest.Region)
	for _, kv := range env {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "HOME=") {
			fmt.Println(kv)
		}
	}
	// Output:
	// HOME=/tmp/pod
	// AWS_CONFIG_FILE=/tmp/pod/no-aws-config
	// AWS_SHARED_CREDENTIALS_FILE=/tmp/pod/no-aws-credentials
	// AWS_EC2_METADATA_DISABLED=true
	// AWS_REGION=us-east-1
}
