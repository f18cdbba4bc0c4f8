package pipeline

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// Encoders and decoders hold goroutines and buffers; they are pooled and always
// returned (closed state is never handed out).
var (
	encoderPool = sync.Pool{New: func() any { encodersMade.Add(1); return newEncoder(true) }}
	decoderPool = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			panic(err)
		}
		return d
	}}
)

// encodersMade counts the manifest encoders made (for the tests).
var encodersMade atomic.Int64

func newEncoder(crc bool) *zstd.Encoder { return newEncoderWindow(crc, 1<<20) }

func newEncoderWindow(crc bool, window int) *zstd.Encoder {
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(window),
		zstd.WithEncoderCRC(crc))
	if err != nil {
		panic(err) // only on invalid options
	}
	return e
}

// getEncoder takes an encoder from pool (encoderPool) writing to w.
func getEncoder(pool *sync.Pool, w io.Writer) *zstd.Encoder {
	e := pool.Get().(*zstd.Encoder)
	e.Reset(w)
	return e
}

// putEncoder returns an encoder, closed or not, to its pool.
func putEncoder(pool *sync.Pool, e *zstd.Encoder) {
	e.Reset(nil)
	pool.Put(e)
}

func getDecoder(r io.Reader) (*zstd.Decoder, error) {
	d := decoderPool.Get().(*zstd.Decoder)
	if err := d.Reset(r); err != nil {
		decoderPool.Put(d)
		return nil, err
	}
	return d, nil
}

func putDecoder(d *zstd.Decoder) {
	_ = d.Reset(nil)
	decoderPool.Put(d)
}
