package pipeline

// appendCSVRecord appends row as one RFC 4180 record with a "\n" line end,
// quoting a field only when it must be: it holds a comma, a quote, a CR or
// LF, or starts with a space or tab (as encoding/csv does), or it is the
// only field of the record and empty (a blank line would be skipped).
func appendCSVRecord(b []byte, row []string) []byte {
	for i, f := range row {
		if i > 0 {
			b = append(b, ',')
		}
		if !needsQuotes(f) && (f != "" || len(row) > 1) {
			b = append(b, f...)
			continue
		}
		b = append(b, '"')
		for j := 0; j < len(f); j++ {
			if f[j] == '"' {
				b = append(b, '"')
			}
			b = append(b, f[j])
		}
		b = append(b, '"')
	}
	return append(b, '\n')
}

func needsQuotes(f string) bool {
	if f != "" && (f[0] == ' ' || f[0] == '\t') {
		return true
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	return false
}
