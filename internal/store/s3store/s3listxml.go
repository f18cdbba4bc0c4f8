package s3store

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// fastList has a ListObjectsV2 call decode its page with parseListPage
// instead of the SDK's decoder, which goes through encoding/xml's tokens
// and spends ~8 µs and ~55 allocations a key: most of a listing's CPU
// (BenchmarkListPage). The SDK still sends, signs, retries and maps
// errors; an answer parseListPage does not read (an error, a page it does
// not expect) goes to the SDK's decoder as it came.
func fastList(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		sdk, ok := stack.Deserialize.Get("OperationDeserializer")
		if !ok {
			return nil // another SDK: its own decoder stays
		}
		_, err := stack.Deserialize.Swap("OperationDeserializer", listDeserializer{sdk: sdk})
		return err
	})
}

// pageListed, in tests, sees each page parseListPage decodes. It is read by
// the SDK's goroutines without a lock, so a test sets and resets it only
// while no listing runs (and is not parallel).
var pageListed func(*s3.ListObjectsV2Output)

// listFallbacks counts the pages parseListPage left to the SDK's decoder.
var listFallbacks atomic.Int64

// listDeserializer is fastList's step: it wraps the SDK's own.
type listDeserializer struct {
	sdk middleware.DeserializeMiddleware
}

func (listDeserializer) ID() string { return "bandercheckListDeserializer" }

// emptyList is what the SDK's decoder is given once parseListPage has read
// a page: a valid page with nothing in it.
const emptyList = `<ListBucketResult></ListBucketResult>`

func (d listDeserializer) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	var page *s3.ListObjectsV2Output
	out, md, err := d.sdk.HandleDeserialize(ctx, in, middleware.DeserializeHandlerFunc(func(ctx context.Context, in middleware.DeserializeInput) (middleware.DeserializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleDeserialize(ctx, in)
		if err != nil {
			return out, md, err
		}
		resp, ok := out.RawResponse.(*smithyhttp.Response)
		if !ok || resp.StatusCode < 200 || resp.StatusCode >= 300 || resp.Body == nil {
			return out, md, err
		}
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr != nil { // the SDK's decoder meets the same failure
			resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), failingReader{rerr}))
			return out, md, err
		}
		if p, ok := parseListPage(body); ok {
			if pageListed != nil {
				pageListed(p)
			}
			page = p
			resp.Body = io.NopCloser(strings.NewReader(emptyList))
		} else {
			listFallbacks.Add(1)
			resp.Body = io.NopCloser(bytes.NewReader(body))
		}
		return out, md, err
	}))
	if err == nil && page != nil {
		if o, ok := out.Result.(*s3.ListObjectsV2Output); ok {
			o.Name, o.Prefix, o.Delimiter, o.StartAfter = page.Name, page.Prefix, page.Delimiter, page.StartAfter
			o.MaxKeys, o.KeyCount, o.IsTruncated = page.MaxKeys, page.KeyCount, page.IsTruncated
			o.ContinuationToken, o.NextContinuationToken = page.ContinuationToken, page.NextContinuationToken
			o.Contents, o.CommonPrefixes = page.Contents, page.CommonPrefixes
		}
	}
	return out, md, err
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// parseListPage reads a ListObjectsV2 answer: of each object its key, size,
// date and ETag (what the store reads), the common prefixes, and the
// page's own fields. It gives up (ok false) on what it does not expect:
// another root, a comment, CDATA or a declaration, an unknown entity, a
// raw carriage return (XML turns it into a line feed), URL-encoded keys,
// an unreadable number or date, a tag left open.
func parseListPage(b []byte) (out *s3.ListObjectsV2Output, ok bool) {
	out = &s3.ListObjectsV2Output{}
	n := bytes.Count(b, []byte("<Contents>"))
	out.Contents = make([]types.Object, 0, n)
	// one allocation each for the fields' pointers, not one per field
	keys, etags := make([]string, 0, n), make([]string, 0, n)
	sizes, dates := make([]int64, 0, n), make([]time.Time, 0, n)
	var path [8][]byte // the open elements, root first (names within b)
	depth := 0
	textAt, hadChild := 0, false
	var cur types.Object
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			return out, depth == 0 && string(path[0]) == "ListBucketResult"
		}
		lt := i + j
		if lt+1 >= len(b) {
			return nil, false
		}
		switch b[lt+1] {
		case '?':
			end := bytes.Index(b[lt:], []byte("?>"))
			if end < 0 || depth > 0 {
				return nil, false
			}
			i = lt + end + 2
			continue
		case '!':
			return nil, false
		case '/':
			end := bytes.IndexByte(b[lt:], '>')
			if end < 0 || depth == 0 || !bytes.Equal(b[lt+2:lt+end], path[depth-1]) {
				return nil, false
			}
			if !hadChild {
				v, ok := unescapeXML(b[textAt:lt])
				if !ok || !setListField(out, &cur, path[:depth], v, &keys, &etags, &sizes, &dates) {
					return nil, false
				}
			}
			if depth == 2 && string(path[1]) == "Contents" {
				out.Contents = append(out.Contents, cur)
				cur = types.Object{}
			}
			depth--
			hadChild = true // the parent holds this element
			i = lt + end + 1
			continue
		}
		end := bytes.IndexByte(b[lt:], '>')
		if end < 0 {
			return nil, false
		}
		tag := b[lt+1 : lt+end]
		selfClosing := len(tag) > 0 && tag[len(tag)-1] == '/'
		if selfClosing {
			tag = tag[:len(tag)-1]
		}
		if k := bytes.IndexAny(tag, " \t\r\n"); k >= 0 {
			tag = tag[:k]
		}
		if depth == 0 && (string(tag) != "ListBucketResult" || path[0] != nil) {
			return nil, false
		}
		if depth == len(path) {
			return nil, false
		}
		path[depth] = tag
		depth++
		textAt, hadChild = lt+end+1, false
		i = lt + end + 1
		if selfClosing {
			if !setListField(out, &cur, path[:depth], "", &keys, &etags, &sizes, &dates) {
				return nil, false
			}
			if depth == 2 && string(path[1]) == "Contents" {
				out.Contents = append(out.Contents, cur)
				cur = types.Object{}
			}
			depth--
			hadChild = true
		}
	}
}

// setListField records the text v of the leaf element at path (root first)
// in out, or in cur for a field of an object; false for a value it cannot read.
func setListField(out *s3.ListObjectsV2Output, cur *types.Object, path [][]byte, v string, keys, etags *[]string, sizes *[]int64, dates *[]time.Time) bool {
	if len(path) > 3 {
		return true // within an object's Owner or RestoreStatus: not read
	}
	switch {
	case len(path) == 2:
		s := &v
		switch string(path[1]) {
		case "Name":
			out.Name = s
		case "Prefix":
			out.Prefix = s
		case "Delimiter":
			out.Delimiter = s
		case "StartAfter":
			out.StartAfter = s
		case "ContinuationToken":
			out.ContinuationToken = s
		case "NextContinuationToken":
			out.NextContinuationToken = s
		case "EncodingType":
			if v != "" {
				return false // keys URL-encoded: the SDK's decoder says so
			}
			out.EncodingType = types.EncodingType(v)
		case "IsTruncated":
			t, err := strconv.ParseBool(v)
			if err != nil {
				return false
			}
			out.IsTruncated = &t
		case "MaxKeys", "KeyCount":
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return false
			}
			n32 := int32(n)
			if string(path[1]) == "MaxKeys" {
				out.MaxKeys = &n32
			} else {
				out.KeyCount = &n32
			}
		}
	case len(path) == 3 && string(path[1]) == "CommonPrefixes" && string(path[2]) == "Prefix":
		out.CommonPrefixes = append(out.CommonPrefixes, types.CommonPrefix{Prefix: &v})
	case len(path) == 3 && string(path[1]) == "Contents":
		switch string(path[2]) {
		case "Key":
			*keys = append(*keys, v)
			cur.Key = &(*keys)[len(*keys)-1]
		case "ETag":
			*etags = append(*etags, v)
			cur.ETag = &(*etags)[len(*etags)-1]
		case "Size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return false
			}
			*sizes = append(*sizes, n)
			cur.Size = &(*sizes)[len(*sizes)-1]
		case "LastModified":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return false
			}
			*dates = append(*dates, t)
			cur.LastModified = &(*dates)[len(*dates)-1]
		}
	}
	return true
}

// unescapeXML is the text of an element: the five named entities and
// character references replaced; false for anything else XML would change
// (another entity, a carriage return) or a text that is no UTF-8.
func unescapeXML(b []byte) (string, bool) {
	if bytes.IndexByte(b, '\r') >= 0 || !utf8.Valid(b) {
		return "", false
	}
	if bytes.IndexByte(b, '&') < 0 {
		return string(b), true
	}
	var s strings.Builder
	s.Grow(len(b))
	for len(b) > 0 {
		k := bytes.IndexByte(b, '&')
		if k < 0 {
			s.Write(b)
			break
		}
		s.Write(b[:k])
		b = b[k:]
		semi := bytes.IndexByte(b, ';')
		if semi < 0 {
			return "", false
		}
		ent := string(b[1:semi])
		b = b[semi+1:]
		switch ent {
		case "amp":
			s.WriteByte('&')
		case "lt":
			s.WriteByte('<')
		case "gt":
			s.WriteByte('>')
		case "quot":
			s.WriteByte('"')
		case "apos":
			s.WriteByte('\'')
		default:
			var n uint64
			var err error
			switch {
			case strings.HasPrefix(ent, "#x"):
				n, err = strconv.ParseUint(ent[2:], 16, 32)
			case strings.HasPrefix(ent, "#"):
				n, err = strconv.ParseUint(ent[1:], 10, 32)
			default:
				return "", false
			}
			if err != nil || !utf8.ValidRune(rune(n)) {
				return "", false
			}
			s.WriteRune(rune(n))
		}
	}
	return s.String(), true
}
