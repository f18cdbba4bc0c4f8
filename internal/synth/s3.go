package synth

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// serveS3 answers the S3 calls bandercheck makes, path style, without
// checking signatures: HeadBucket, ListObjectsV2, HeadObject, GetObject
// (ranges too), and PutObject, DeleteObject and DeleteObjects, which are
// counted (a PUT's Content-MD5 is checked) and forget the bytes.
func (s *Server) serveS3(w http.ResponseWriter, r *http.Request) {
	if s.serveStats(w, r) {
		return
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket != s.Bucket {
		s3Error(w, r, http.StatusNotFound, "NoSuchBucket", "no bucket "+bucket)
		s.counts.notFound.Add(1)
		return
	}
	q := r.URL.Query()
	switch {
	case key == "" && r.Method == http.MethodHead:
		s.counts.headBucket.Add(1)
	case key == "" && r.Method == http.MethodGet && q.Get("list-type") == "2":
		s.list(w, q)
	case key == "" && r.Method == http.MethodPost && q.Has("delete"):
		s.deleteObjects(w, r)
	case key == "":
		s3Error(w, r, http.StatusNotImplemented, "NotImplemented", r.Method+" on the bucket")
	case r.Method == http.MethodHead || r.Method == http.MethodGet:
		s.object(w, r, key)
	case r.Method == http.MethodPut:
		s.put(w, r)
	case r.Method == http.MethodDelete:
		s.counts.del.Add(1)
		s.markDeleted(key)
		w.WriteHeader(http.StatusNoContent)
	default:
		s3Error(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method)
	}
}

func s3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, xmlText(msg))
	}
}

func xmlText(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// list answers ListObjectsV2. A continuation token is the last key or
// common prefix returned, marked "k" or "p".
func (s *Server) list(w http.ResponseWriter, q map[string][]string) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	s.counts.list.Add(1)
	prefix, delim, startAfter, token := get("prefix"), get("delimiter"), get("start-after"), get("continuation-token")
	max := 1000
	if v := get("max-keys"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < max {
			max = n
		}
	}
	after, afterPrefix := startAfter, false
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(raw) == 0 {
			s.counts.refused.Add(1)
			http.Error(w, "bad continuation token", http.StatusBadRequest)
			return
		}
		after, afterPrefix = string(raw[1:]), raw[0] == 'p'
	}
	page, more := s.Mirror.List(prefix, after, afterPrefix, delim, max)
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>`)
	b.WriteString(xmlText(s.Bucket))
	fmt.Fprintf(&b, "</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount><MaxKeys>%d</MaxKeys>", xmlText(prefix), len(page), max)
	if delim != "" {
		fmt.Fprintf(&b, "<Delimiter>%s</Delimiter>", xmlText(delim))
	}
	if token != "" {
		fmt.Fprintf(&b, "<ContinuationToken>%s</ContinuationToken>", token)
	}
	if startAfter != "" {
		fmt.Fprintf(&b, "<StartAfter>%s</StartAfter>", xmlText(startAfter))
	}
	fmt.Fprintf(&b, "<IsTruncated>%t</IsTruncated>", more)
	if more && len(page) > 0 {
		last := page[len(page)-1]
		mark := "k"
		if last.Prefix {
			mark = "p"
		}
		fmt.Fprintf(&b, "<NextContinuationToken>%s</NextContinuationToken>", base64.RawURLEncoding.EncodeToString([]byte(mark+last.Key)))
	}
	keys := 0
	for _, l := range page {
		if l.Prefix {
			continue
		}
		keys++
		b.WriteString("<Contents><Key>")
		xml.EscapeText(&b, []byte(l.Key))
		b.WriteString("</Key><LastModified>")
		b.WriteString(l.Info.Modified.UTC().Format("2006-01-02T15:04:05.000Z"))
		b.WriteString("</LastModified><ETag>")
		xml.EscapeText(&b, []byte(l.Info.ETag))
		fmt.Fprintf(&b, "</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>", l.Info.Size)
	}
	for _, l := range page {
		if l.Prefix {
			b.WriteString("<CommonPrefixes><Prefix>")
			xml.EscapeText(&b, []byte(l.Key))
			b.WriteString("</Prefix></CommonPrefixes>")
		}
	}
	b.WriteString("</ListBucketResult>")
	s.counts.listedKeys.Add(int64(keys))
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Write(b.Bytes())
}

// object answers HEAD and GET of a key.
func (s *Server) object(w http.ResponseWriter, r *http.Request, key string) {
	e, ok := s.Mirror.lookup(key)
	if !ok || s.isDeleted(key) {
		s.counts.notFound.Add(1)
		s3Error(w, r, http.StatusNotFound, "NoSuchKey", "no key "+key)
		return
	}
	inf := s.Mirror.info(e, true)
	h := w.Header()
	h.Set("ETag", inf.ETag)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Accept-Ranges", "bytes")
	if e.kind == entPackage {
		h.Set("x-amz-meta-sha256", inf.SHA256)
		h.Set("x-amz-meta-uploaded-at", strconv.FormatInt(inf.Uploaded, 10))
	}
	if r.Method == http.MethodHead {
		s.counts.head.Add(1)
		h.Set("Content-Length", strconv.FormatInt(inf.Size, 10))
		h.Set("Last-Modified", inf.Modified.UTC().Format(http.TimeFormat))
		return
	}
	s.counts.get.Add(1)
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", inf.Modified, s.Mirror.body(e))
	s.counts.getBytes.Add(cw.n)
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// put reads and forgets a PutObject's body, checking its Content-MD5.
func (s *Server) put(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		body = &chunkedReader{r: bufio.NewReader(r.Body)}
	}
	h := md5.New()
	n, err := io.Copy(h, body)
	if err != nil {
		s.counts.refused.Add(1)
		s3Error(w, r, http.StatusBadRequest, "IncompleteBody", err.Error())
		return
	}
	sum := h.Sum(nil)
	if want := r.Header.Get("Content-MD5"); want != "" && want != base64.StdEncoding.EncodeToString(sum) {
		s.counts.refused.Add(1)
		s3Error(w, r, http.StatusBadRequest, "BadDigest", "the Content-MD5 you specified did not match what was received")
		return
	}
	s.counts.put.Add(1)
	s.counts.putBytes.Add(n)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum)+`"`)
}

// chunkedReader decodes an aws-chunked body: "<hex size>[;ext]\r\n<data>\r\n"
// chunks, the last of size 0, then trailers.
type chunkedReader struct {
	r    *bufio.Reader
	left int64
	done bool
}

func (c *chunkedReader) Read(b []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		line, err := c.r.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("aws-chunked body: %w", err)
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue // the CRLF after a chunk's data
		}
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil {
			return 0, fmt.Errorf("aws-chunked body: chunk size %q", size)
		}
		if n == 0 {
			c.done = true
			io.Copy(io.Discard, c.r) // trailers
			return 0, io.EOF
		}
		c.left = n
	}
	b = b[:min(int64(len(b)), c.left)]
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

// deleteObjects answers DeleteObjects: every key is deleted.
func (s *Server) deleteObjects(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Objects []struct {
			Key string `xml:"Key"`
		} `xml:"Object"`
		Quiet bool `xml:"Quiet"`
	}
	if err := xml.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&req); err != nil {
		s.counts.refused.Add(1)
		s3Error(w, r, http.StatusBadRequest, "MalformedXML", err.Error())
		return
	}
	s.counts.delObjects.Add(1)
	s.counts.deletedKeys.Add(int64(len(req.Objects)))
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	keys := make([]string, len(req.Objects))
	for i, o := range req.Objects {
		keys[i] = o.Key
		if !req.Quiet {
			b.WriteString("<Deleted><Key>")
			xml.EscapeText(&b, []byte(o.Key))
			b.WriteString("</Key></Deleted>")
		}
	}
	s.markDeleted(keys...)
	b.WriteString("</DeleteResult>")
	w.Header().Set("Content-Type", "application/xml")
	w.Write(b.Bytes())
}
