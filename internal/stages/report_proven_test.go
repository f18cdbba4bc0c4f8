package stages

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/s3store"
	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/pipeline"
)

// TestReportSaysHowTheMirrorWasProven builds a bucket on versitygw where
// each way of proving a file under --hash=etag is met once: a plain MD5
// ETag (etag), a two-part upload (its ETag is no MD5: the sha256 metadata),
// an ETag that differs from the md5 upstream gives while the bytes are right
// (read in full: content, a refuted mismatch), and a file upstream gives no
// md5 for (size only). The plan summary, the HTML report and the metrics
// give the files and bytes of each way. Before, the report and metrics gave
// no bytes, and the report did not say how anything was proven.
func TestReportSaysHowTheMirrorWasProven(t *testing.T) {
	t.Parallel()
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "mirror")
	etag := pkg{"echo-1.0.tar.gz", "1.0", "proven by its etag"}
	parts := pkg{"echo-2.0.tar.gz", "2.0", strings.Repeat("two parts ", 6<<20/10)}
	reread := pkg{"echo-3.0.tar.gz", "3.0", "an md5 upstream got wrong"}
	nomd5 := pkg{"echo-4.0.tar.gz", "4.0", "no md5 upstream"}
	doc := jsonDoc("echo", 5, etag, parts, reread, nomd5)
	wrong := fmt.Sprintf("%x", md5.Sum([]byte("something else")))
	doc = strings.Replace(doc, `"md5":"`+md5sum(reread.content)+`"`, `"md5":"`+wrong+`"`, 1)
	doc = strings.Replace(doc, `"md5":"`+md5sum(nomd5.content)+`",`, "", 1)
	testutil.Put(t, client, "mirror", map[string]string{
		"pypi/web/json/echo":              doc,
		"pypi/web/simple/echo/index.html": "<html></html>",
		"pypi/web/simple/index.html":      "<html></html>",
		"pypi/" + etag.key():              etag.content,
		"pypi/" + reread.key():            reread.content,
		"pypi/" + nomd5.key():             nomd5.content,
	}, nil)
	ctx := context.Background()
	opt := srv.Options("mirror", "pypi")
	opt.MultipartAbove, opt.PartSize = 5<<20, 5<<20
	st, err := s3store.Open(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	st.StageUploadsIn(t.TempDir())
	up, err := st.Create(ctx, parts.key(), store.Meta{SHA256: sum(parts.content)})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(up, parts.content)
	if err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	conf := filepath.Join(dir, "bandersnatch.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("[mirror]\nstorage-backend = s3\njson = true\n[s3]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey)), 0o644)
	metrics := filepath.Join(dir, "metrics.prom")
	f := &fixture{t: t, ctx: ctx, env: &Env{Mirror: Location{Bucket: "mirror", Prefix: "pypi"}, Config: conf,
		S3Endpoint: srv.Endpoint, S3PathStyle: true, State: filepath.Join(dir, "state"), Progress: "never",
		Stdout: io.Discard, Stderr: io.Discard, MetricsFile: metrics}}
	if _, err := (&ScanStorageOptions{Jobs: 2, Hash: HashETag}).Run(ctx, f.env); err != nil {
		t.Fatal(err)
	}
	if _, err := (&ScanMetadataOptions{Jobs: 2}).Run(ctx, f.env); err != nil {
		t.Fatal(err)
	}
	if err := f.plan(); err != nil {
		t.Fatal(err)
	}
	if r := f.rows("plan/download"); len(r) != 0 {
		t.Fatalf("plans downloads of right files: %v", r)
	}
	big := int64(len(parts.content))

	sum, err := pipeline.NewState(f.env.State).PlanSummary()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := printPlanSummary(&text, sum); err != nil {
		t.Fatal(err)
	}
	wantLine := fmt.Sprintf("proven: 1 files (18 B) by etag, 1 (%s) by metadata, 1 (25 B) by content, 1 (15 B) by size only (no digest to compare); 1 ETag mismatches read in full: 0 confirmed, 1 refuted (the bytes were right)", humanBytes(big))
	if !strings.Contains(text.String(), wantLine+"\n") {
		t.Errorf("plan summary:\n%s\nwant the line\n%s", text.String(), wantLine)
	}

	out := filepath.Join(dir, "report.html")
	if err := (&ReportOptions{Out: out, Top: 20}).Run(ctx, f.env); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	total := big + 18 + 25 + 15
	pct := func(n int64) string { return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total)) }
	for _, row := range []string{
		`<tr><td>etag</td><td class="n">1</td><td class="n">25.0%</td><td class="n">18</td><td>18 B</td><td class="n">` + pct(18) + `</td>`,
		fmt.Sprintf(`<tr><td>metadata</td><td class="n">1</td><td class="n">25.0%%</td><td class="n">%d</td><td>%s</td><td class="n">%s</td>`, big, humanBytes(big), pct(big)),
		`<tr><td>content</td><td class="n">1</td><td class="n">25.0%</td><td class="n">25</td><td>25 B</td><td class="n">` + pct(25) + `</td>`,
		`<tr><td>size</td><td class="n">1</td><td class="n">25.0%</td><td class="n">15</td><td>15 B</td><td class="n">` + pct(15) + `</td>`,
		fmt.Sprintf(`<tr><td>total</td><td class="n">4</td><td class="n">100.0%%</td><td class="n">%d</td>`, total),
		"0 confirmed (planned as hash-mismatch), 1 refuted",
	} {
		if !strings.Contains(page, row) {
			t.Errorf("the report lacks %s", row)
		}
	}

	if err := f.env.WriteMetrics("plan", 0, nil); err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`bandercheck_proven_files{by="etag"} 1`, `bandercheck_proven_files{by="metadata"} 1`,
		`bandercheck_proven_files{by="content"} 1`, `bandercheck_proven_files{by="size"} 1`,
		`bandercheck_proven_bytes{by="etag"} 18`, fmt.Sprintf(`bandercheck_proven_bytes{by="metadata"} %s`, strconv.FormatFloat(float64(big), 'g', -1, 64)),
		`bandercheck_proven_bytes{by="content"} 25`, `bandercheck_proven_bytes{by="size"} 15`,
		`bandercheck_etag_mismatches{result="refuted"} 1`,
	} {
		if !strings.Contains(string(m), line+"\n") {
			t.Errorf("the metrics lack %s:\n%s", line, m)
		}
	}
}
