package pipeline

import (
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Encoders and decoders hold goroutines and buffers; they are pooled and always
// returned (closed state is never handed out).
var (
	encoderPool = sync.Pool{New: func() any {
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithWindowSize(1<<20),
			zstd.WithEncoderCRC(true))
		if err != nil {
			panic(err) // only on invalid options
		}
		return e
	}}
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

func getEncoder(w io.Writer) *zstd.Encoder {
	e := encoderPool.Get().(*zstd.Encoder)
	e.Reset(w)
	return e
}

func putEncoder(e *zstd.Encoder) {
	e.Reset(nil)
	encoderPool.Put(e)
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
