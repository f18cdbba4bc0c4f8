package sources

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadDocumentWhateverTheAnnouncedSize: a document is read whole
// whether the size announced for it is right, too small, too large or
// unknown, also when the reader gives a byte at a time.
func TestReadDocumentWhateverTheAnnouncedSize(t *testing.T) {
	doc := strings.Repeat(`{"a": "0123456789"}`, 300)
	for _, size := range []int64{int64(len(doc)), 1, 100, int64(len(doc)) + 1000, -1, 0} {
		for _, slow := range []bool{false, true} {
			r := iotest.HalfReader(strings.NewReader(doc))
			if slow {
				r = iotest.OneByteReader(strings.NewReader(doc))
			}
			got, err := readDocument(r, size)
			if err != nil || !bytes.Equal(got, []byte(doc)) {
				t.Errorf("size %d (one byte a read %v): %d bytes, %v", size, slow, len(got), err)
			}
		}
	}
}
