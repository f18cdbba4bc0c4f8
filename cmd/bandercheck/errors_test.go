package main

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// closedURL is an http URL on loopback where nothing listens.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

// lastLine is the last line a command printed on stderr.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestErrorsAreTheLastLineWithANextStep: each everyday mistake ends in one
// line that says what is wrong, where, and what to do, with nothing (no
// tables of an earlier check) printed after or instead of it, and in seconds.
func TestErrorsAreTheLastLineWithANextStep(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	url := m.serve(t, nil)
	dir := t.TempDir()
	state := filepath.Join(dir, "st")
	mustBC(t, nil, runArgs(m.root, state, url, "--dry-run")...) // an earlier check's tables exist
	noHeader := filepath.Join(dir, "noheader.conf")
	if err := os.WriteFile(noHeader, []byte("directory = "+m.root+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	if err := os.MkdirAll(filepath.Join(other, "web", "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	down := closedURL(t)
	noAWS := []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_PROFILE=", "HOME=" + dir,
		"AWS_CONFIG_FILE=" + dir + "/none", "AWS_SHARED_CREDENTIALS_FILE=" + dir + "/none", "AWS_EC2_METADATA_SERVICE_ENDPOINT=" + closedURL(t)}
	// the cases without STATE (whose lock the others take in turn) run in
	// parallel: most of their time is waiting (a retry, the SDK's lookups)
	for _, c := range []struct {
		name  string
		env   []string
		args  []string
		code  int
		wants []string
	}{
		{"no mirror", nil, []string{"--state", state, "run"}, 2, []string{"no mirror given", "--mirror"}},
		{"another mirror's state", nil, []string{"--mirror", other, "--state", state, "run"}, 2, []string{"belongs to mirror", "--state"}},
		{"config without a section", nil, []string{"--config", noHeader, "--state", state, "run"}, 2, []string{noHeader, "[section]"}},
		{"a bandersnatch habit", nil, []string{"verify"}, 2, []string{"verify", "bandercheck run"}},
		{"upstream down", nil, []string{"--mirror", m.root, "--state", filepath.Join(dir, "st2"), "scan", "upstream", "--upstream", down, "--attempts", "2"}, 1,
			[]string{strings.TrimPrefix(down, "http://"), "--upstream", "[mirror] master"}},
		{"S3 unreachable", []string{"AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=b"}, []string{"--mirror", "s3://b/p", "--s3-endpoint", down, "--state", filepath.Join(dir, "st3"), "scan", "storage"}, 1,
			[]string{"cannot be reached", "--s3-endpoint"}},
		{"no S3 credentials", noAWS, []string{"--mirror", "s3://b/p", "--s3-endpoint", down, "--state", filepath.Join(dir, "st4"), "scan", "storage"}, 1,
			[]string{"no credentials", "AWS_ACCESS_KEY_ID", "[s3] aws_access_key_id"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !slices.Contains(c.args, state) {
				t.Parallel()
			}
			r := bc(t, c.env, c.args...)
			last := lastLine(r.stderr)
			if r.code != c.code {
				t.Errorf("%s: exit %d, want %d\n%s", c.name, r.code, c.code, r.stderr)
			}
			for _, w := range c.wants {
				if !strings.Contains(last, w) {
					t.Errorf("%s: the last line does not say %q:\n%s", c.name, w, r.stderr)
				}
			}
			if c.code == 2 && strings.TrimSpace(r.stdout) != "" {
				t.Errorf("%s: printed before its error:\n%s", c.name, r.stdout)
			}
		})
	}
}
