package awsregion

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMatchesSDK: the list is the AWS SDK's, as go.mod requires it: every
// region of every partition in the module's partitions.json (bar the
// "-global" endpoint names) and nothing else. A failure after an SDK
// upgrade means: regenerate byPartition from the new file.
func TestMatchesSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-sdk-go-v2").Output()
	if err != nil {
		t.Skipf("finding the aws-sdk-go-v2 module: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "internal", "endpoints", "awsrulesfn", "partitions.json"))
	if err != nil {
		t.Skipf("reading the SDK's partitions.json: %v", err)
	}
	var doc struct {
		Partitions []struct {
			ID      string                     `json:"id"`
			Regions map[string]json.RawMessage `json:"regions"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, p := range doc.Partitions {
		for r := range p.Regions {
			if !strings.HasSuffix(r, "-global") {
				want[p.ID] = append(want[p.ID], r)
			}
		}
		slices.Sort(want[p.ID])
	}
	for p, rs := range want {
		if got := byPartition[p]; !slices.Equal(got, rs) {
			t.Errorf("partition %s: have %v, the SDK has %v", p, got, rs)
		}
	}
	for p := range byPartition {
		if _, ok := want[p]; !ok {
			t.Errorf("partition %s is not the SDK's", p)
		}
	}
}

func TestInPartition(t *testing.T) {
	for _, tt := range []struct {
		partition, region string
		want              bool
	}{
		{"aws", "us-east-1", true},
		{"aws", "eu-west-1", true},
		{"aws", "cn-north-1", false},
		{"aws-cn", "cn-north-1", true},
		{"aws", "aws-global", false},
		{"aws", "us-east-9", false},
		{"aws", "", false},
	} {
		if got := InPartition(tt.partition, tt.region); got != tt.want {
			t.Errorf("InPartition(%q, %q) = %v, want %v", tt.partition, tt.region, got, tt.want)
		}
	}
}
