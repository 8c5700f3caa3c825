package slsemu

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression names as they appear in x-log-compresstype / Accept-Encoding.
const (
	compressLZ4     = "lz4"
	compressZSTD    = "zstd"
	compressDeflate = "deflate"
)

// logGroupListTag is the key byte of LogGroupList.LogGroups (field 1,
// wire type 2). A LogGroupList is nothing but repeated entries of
// tag + varint(len) + LogGroup bytes, which is what lets a pull be served by
// concatenating stored frames.
const logGroupListTag = 0x0A

// zstd coders are safe for concurrent EncodeAll/DecodeAll and costly to
// build, so they are shared. Decoding is capped to the announced raw size
// (WithDecodeAllCapLimit) so a hostile body cannot balloon memory.
var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err != nil {
			panic(fmt.Sprintf("slsemu: zstd encoder: %v", err))
		}
		return enc
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		dec, err := zstd.NewReader(nil, zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderMaxMemory(maxRawSize))
		if err != nil {
			panic(fmt.Sprintf("slsemu: zstd decoder: %v", err))
		}
		return dec
	})
)

// bufPool recycles the scratch buffers of request bodies and pull responses.
// Very large buffers are dropped instead of pooled so one huge pull does not
// pin memory for the rest of the process.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

const maxPooledBuf = 16 << 20

func getBuf(size int) *[]byte {
	bp := bufPool.Get().(*[]byte)
	if cap(*bp) < size {
		*bp = make([]byte, 0, size)
	}
	*bp = (*bp)[:size]
	return bp
}

func putBuf(bp *[]byte) {
	if cap(*bp) > maxPooledBuf {
		return
	}
	*bp = (*bp)[:0]
	bufPool.Put(bp)
}

// frameHeaderLen is the size of the LogGroupList entry header for a group
// of n bytes.
func frameHeaderLen(n int) int {
	var tmp [binary.MaxVarintLen64]byte
	return 1 + binary.PutUvarint(tmp[:], uint64(n))
}

// newFrame allocates a LogGroupList entry for a group of rawSize bytes and
// returns it together with the offset where the group bytes start, so a
// decompressor can write straight into the stored frame.
func newFrame(rawSize int) (frame []byte, off int) {
	off = frameHeaderLen(rawSize)
	frame = make([]byte, off+rawSize)
	frame[0] = logGroupListTag
	binary.PutUvarint(frame[1:], uint64(rawSize))
	return frame, off
}

// frameFromGroup wraps already-marshalled LogGroup bytes in a frame.
func frameFromGroup(raw []byte) []byte {
	frame, off := newFrame(len(raw))
	copy(frame[off:], raw)
	return frame
}

// groupOfFrame returns the LogGroup bytes inside a frame.
func groupOfFrame(frame []byte) []byte {
	_, n := binary.Uvarint(frame[1:])
	return frame[1+n:]
}

// decodePutBody turns a PutLogs body into a stored frame. compressType is
// the x-log-compresstype header ("" means uncompressed) and rawSize the
// x-log-bodyrawsize header, which must equal the decompressed length.
func decodePutBody(compressType string, rawSize int, body []byte) ([]byte, error) {
	frame, off := newFrame(rawSize)
	switch strings.ToLower(strings.TrimSpace(compressType)) {
	case "", "none":
		if len(body) != rawSize {
			return nil, newAPIError(http.StatusBadRequest, codeInvalidBodyRawSize,
				"body is %d bytes but x-log-bodyrawsize is %d", len(body), rawSize)
		}
		copy(frame[off:], body)
	case compressLZ4:
		n, err := lz4.UncompressBlock(body, frame[off:])
		if err != nil {
			return nil, newAPIError(http.StatusBadRequest, codePostBodyUncompress, "lz4 block: %v", err)
		}
		if n != rawSize {
			return nil, newAPIError(http.StatusBadRequest, codeInvalidBodyRawSize,
				"lz4 body inflates to %d bytes but x-log-bodyrawsize is %d", n, rawSize)
		}
	case compressZSTD:
		out, err := zstdDecoder().DecodeAll(body, frame[:off])
		if err != nil {
			return nil, newAPIError(http.StatusBadRequest, codePostBodyUncompress, "zstd: %v", err)
		}
		if len(out)-off != rawSize {
			return nil, newAPIError(http.StatusBadRequest, codeInvalidBodyRawSize,
				"zstd body inflates to %d bytes but x-log-bodyrawsize is %d", len(out)-off, rawSize)
		}
		frame = out
	case compressDeflate:
		// Not used by the Go SDK, but other SDKs send zlib ("deflate").
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, newAPIError(http.StatusBadRequest, codePostBodyUncompress, "deflate: %v", err)
		}
		n, err := io.ReadFull(zr, frame[off:])
		if err != nil || n != rawSize {
			return nil, newAPIError(http.StatusBadRequest, codeInvalidBodyRawSize,
				"deflate body does not inflate to x-log-bodyrawsize %d bytes (%d, %v)", rawSize, n, err)
		}
		if extra, _ := zr.Read(make([]byte, 1)); extra != 0 {
			return nil, newAPIError(http.StatusBadRequest, codeInvalidBodyRawSize,
				"deflate body inflates past x-log-bodyrawsize %d", rawSize)
		}
	default:
		return nil, newAPIError(http.StatusBadRequest, codeInvalidCompressType,
			"unsupported x-log-compresstype %q", compressType)
	}
	return frame, nil
}

// pullEncoding picks the response compression for a PullLogs request from
// its Accept-Encoding. The SDK sends exactly "lz4" or "zstd"; anything else
// gets lz4, the service default.
func pullEncoding(acceptEncoding string) string {
	var deflate bool
	for tok := range strings.SplitSeq(acceptEncoding, ",") {
		tok, _, _ = strings.Cut(tok, ";")
		switch strings.ToLower(strings.TrimSpace(tok)) {
		case compressLZ4:
			return compressLZ4
		case compressZSTD:
			return compressZSTD
		case compressDeflate:
			deflate = true
		}
	}
	if deflate {
		return compressDeflate
	}
	return compressLZ4
}

// compressPull compresses raw with the given encoding into a pooled buffer;
// the caller must putBuf the result once it has been written.
func compressPull(raw []byte, encoding string) (*[]byte, error) {
	switch encoding {
	case compressZSTD:
		bp := getBuf(0)
		*bp = zstdEncoder().EncodeAll(raw, *bp)
		return bp, nil
	case compressDeflate:
		bp := getBuf(0)
		buf := bytes.NewBuffer(*bp)
		zw := zlib.NewWriter(buf)
		if _, err := zw.Write(raw); err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
		*bp = buf.Bytes()
		return bp, nil
	default:
		// With a CompressBlockBound-sized destination lz4 never reports
		// "incompressible" (0): it emits a literal-only block instead, which
		// is what the SDK's UncompressBlock expects.
		bp := getBuf(lz4.CompressBlockBound(len(raw)))
		n, err := lz4.CompressBlock(raw, *bp, nil)
		if err != nil {
			putBuf(bp)
			return nil, fmt.Errorf("lz4: %w", err)
		}
		*bp = (*bp)[:n]
		return bp, nil
	}
}
