package pipeline

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// csvReader reads RFC 4180 CSV as encoding/csv writes it, faster: a line
// without quotes is split in place into substrings of one string; a line
// with quotes goes through a full parser that also joins quoted newlines.
type csvReader struct {
	br     *bufio.Reader
	fields []string
	line   int
	buf    []byte
}

func newCSVReader(r io.Reader, fields int) *csvReader {
	return &csvReader{br: bufio.NewReaderSize(r, 64<<10), fields: make([]string, fields)}
}

// readLine returns the next line without its line end, or io.EOF.
func (c *csvReader) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		c.buf = append(c.buf[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = c.br.ReadSlice('\n')
			c.buf = append(c.buf, line...)
		}
		line = c.buf
	}
	if err == io.EOF && len(line) > 0 {
		err = nil // a last line without a line end
	}
	if err != nil {
		return nil, err
	}
	c.line++
	line = bytes.TrimSuffix(line, []byte{'\n'})
	return bytes.TrimSuffix(line, []byte{'\r'}), nil
}

// Read returns the next record; the slice is reused, the strings are not.
func (c *csvReader) Read() ([]string, error) {
	line, err := c.readLine()
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(line, '"') < 0 {
		s := string(line)
		n := 0
		for n < len(c.fields)-1 {
			i := strings.IndexByte(s, ',')
			if i < 0 {
				break
			}
			c.fields[n], s = s[:i], s[i+1:]
			n++
		}
		c.fields[n] = s
		if n != len(c.fields)-1 || strings.IndexByte(s, ',') >= 0 {
			return nil, fmt.Errorf("line %d: wrong number of fields (want %d)", c.line, len(c.fields))
		}
		return c.fields, nil
	}
	return c.readQuoted(line)
}

// readQuoted parses a record that has quoted fields, reading further lines
// while a quoted field spans them.
func (c *csvReader) readQuoted(line []byte) ([]string, error) {
	start := c.line
	n := 0
	var f strings.Builder
	i := 0
	for {
		if n >= len(c.fields) {
			return nil, fmt.Errorf("line %d: wrong number of fields (want %d)", start, len(c.fields))
		}
		f.Reset()
		if i < len(line) && line[i] == '"' {
			i++
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 { // the field goes on on the next line
					f.Write(line[i:])
					f.WriteByte('\n')
					next, err := c.readLine()
					if err != nil {
						return nil, fmt.Errorf("line %d: quoted field not closed: %w", start, io.ErrUnexpectedEOF)
					}
					line, i = next, 0
					continue
				}
				f.Write(line[i : i+j])
				i += j + 1
				if i < len(line) && line[i] == '"' {
					f.WriteByte('"')
					i++
					continue
				}
				break
			}
			if i < len(line) && line[i] != ',' {
				return nil, fmt.Errorf("line %d: extraneous text after a quoted field", c.line)
			}
		} else {
			j := bytes.IndexByte(line[i:], ',')
			if j < 0 {
				j = len(line) - i
			}
			if bytes.IndexByte(line[i:i+j], '"') >= 0 {
				return nil, fmt.Errorf("line %d: bare quote in an unquoted field", c.line)
			}
			f.Write(line[i : i+j])
			i += j
		}
		c.fields[n] = f.String()
		n++
		if i >= len(line) {
			break
		}
		i++ // the comma
		if i == len(line) {
			if n >= len(c.fields) {
				return nil, fmt.Errorf("line %d: wrong number of fields (want %d)", start, len(c.fields))
			}
			c.fields[n] = ""
			n++
			break
		}
	}
	if n != len(c.fields) {
		return nil, fmt.Errorf("line %d: wrong number of fields (want %d)", start, len(c.fields))
	}
	return c.fields, nil
}
